"""Sign-in through the identity provider (issue 17): the sandbox IdP over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.infra.extensions import db
from app.models import Admin, AuditEvent, utcnow
from app.services.people import admins
from sandbox.testing import SandboxServer
from tests.conftest import csrf_from
from tests.oidc_flows import answer_url, oidc_settings, page_after, sign_in, without

NOT_VERIFIED = "could not be verified, so nobody was signed in"


@pytest.fixture
def app_settings(app_settings: dict[str, Any], sandbox: SandboxServer) -> dict[str, Any]:
    return {**app_settings, **oidc_settings(sandbox)}


def account(app: Flask, email: str) -> Admin | None:
    with app.app_context():
        found = db.session.scalar(select(Admin).where(Admin.email == email))
        if found is not None:
            db.session.expunge(found)
        return found


def accounts(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Admin.id))) or 0)


def audited(app: Flask, action: str) -> list[dict[str, Any]]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [e.details or {} for e in events]


def declined(url: str) -> str:
    """The callback URL a provider sends when the person declines: its error, state and iss."""
    path, _, query = url.partition("?")
    kept = [p for p in query.split("&") if p.startswith(("state=", "iss="))]
    return f"{path}?{'&'.join(['error=access_denied', *kept])}"


def test_sign_in_page_offers_the_provider(client: FlaskClient) -> None:
    assert "Sign in with Sandbox IdP" in client.get("/login").get_data(as_text=True)


def test_admin_group_member_gets_a_new_admin_account(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "idp-ana")
    ana = account(app, "ana@acme.example")
    assert ana is not None
    assert (ana.role, ana.origin, ana.last_login_method) == ("admin", "oidc", "oidc")


def test_viewer_group_member_gets_a_viewer_account(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "idp-bruno")
    bruno = account(app, "bruno@acme.example")
    assert bruno is not None
    assert bruno.role == "viewer"


def test_signed_in_person_lands_on_the_dashboard_at_a_clean_url(client: FlaskClient) -> None:
    response = sign_in(client, "idp-ana")
    assert response.headers["Location"] == "/"
    assert "ana@acme.example" in client.get("/").get_data(as_text=True)


def test_the_page_asked_for_before_sign_in_comes_next(client: FlaskClient) -> None:
    response = client.get(answer_url(client, "idp-ana", "/auth/oidc/start?next=/admins/"))
    assert response.headers["Location"] == "/admins/"


def test_callback_is_sent_without_a_referrer(client: FlaskClient) -> None:
    response = client.get(answer_url(client, "idp-ana"))
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_role_follows_the_groups_at_the_next_sign_in(
    app: Flask, client: FlaskClient, sandbox: SandboxServer
) -> None:
    sign_in(client, "idp-ana")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    sandbox.idp_person("idp-ana", groups=["connect-viewers"])
    sign_in(client, "idp-ana")
    ana = account(app, "ana@acme.example")
    assert ana is not None
    assert ana.role == "viewer"


def test_second_sign_in_uses_the_same_account(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "idp-ana")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    sign_in(client, "idp-ana")
    assert accounts(app) == 1


@pytest.mark.parametrize(
    ("sub", "message"),
    [
        ("idp-carla", "not in a group allowed"),
        ("idp-dora", "not verified"),
        ("idp-mallory", "Accounts at elsewhere.example cannot sign in here"),
    ],
)
def test_people_the_rules_keep_out_get_no_account(
    app: Flask, client: FlaskClient, sub: str, message: str
) -> None:
    page = page_after(client, sign_in(client, sub))
    assert (message in page, accounts(app)) == (True, 0)


def test_email_verified_missing_is_refused(client: FlaskClient, sandbox: SandboxServer) -> None:
    sandbox.idp_person("idp-ana", email_verified=None)
    page = page_after(client, sign_in(client, "idp-ana"))
    assert "not verified" in page


def test_domain_rule_alone_admits_a_new_person_as_viewer(
    app_settings: dict[str, Any], sandbox: SandboxServer
) -> None:
    from flask_migrate import upgrade

    from app import create_app

    settings = {
        **app_settings,
        "OIDC_GROUPS_CLAIM": "",
        "OIDC_ADMIN_GROUPS": "",
        "OIDC_VIEWER_GROUPS": "",
    }
    application = create_app(settings)
    with application.app_context():
        upgrade()
    sign_in(application.test_client(), "idp-carla")
    carla = account(application, "carla@acme.example")
    assert carla is not None
    assert carla.role == "viewer"


def test_leaving_the_group_deactivates_the_account_and_ends_its_sessions(
    app: Flask, sandbox: SandboxServer
) -> None:
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "idp-ana")
    sandbox.idp_person("idp-ana", groups=["staff"])
    sign_in(phone, "idp-ana")
    assert laptop.get("/").status_code == 302


def test_a_refused_account_is_reactivated_when_admitted_again(
    app: Flask, client: FlaskClient, sandbox: SandboxServer
) -> None:
    sign_in(client, "idp-ana")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    sandbox.idp_person("idp-ana", groups=["staff"])
    sign_in(client, "idp-ana")
    sandbox.idp_person("idp-ana", groups=["connect-admins"])
    sign_in(client, "idp-ana")
    assert client.get("/").status_code == 200


def test_an_account_an_admin_deactivated_stays_out(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "idp-ana")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    with app.app_context():
        ana = db.session.scalar(select(Admin).where(Admin.email == "ana@acme.example"))
        assert ana is not None
        ana.active = False
        db.session.commit()
    page = page_after(client, sign_in(client, "idp-ana"))
    assert "deactivated by an administrator" in page


@pytest.mark.parametrize("tamper", ["signature", "aud", "iss", "nonce", "expired"])
def test_a_tampered_id_token_signs_nobody_in(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, tamper: str
) -> None:
    sandbox.idp_tamper(tamper)
    page = page_after(client, sign_in(client, "idp-ana"))
    assert ("Not signed in" in page, accounts(app)) == (True, 0)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("signature", "bad_signature"),
        ("aud", "wrong_audience"),
        ("iss", "wrong_issuer"),
        ("nonce", "wrong_nonce"),
        ("expired", "expired"),
    ],
)
def test_a_tampered_id_token_is_refused_for_its_own_reason(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, tamper: str, reason: str
) -> None:
    sandbox.idp_tamper(tamper)
    sign_in(client, "idp-ana")
    assert [d["reason"] for d in audited(app, "auth.oidc_refused")] == [reason]


def test_an_answer_naming_another_issuer_is_refused_before_any_token_request(
    client: FlaskClient, sandbox: SandboxServer
) -> None:
    sandbox.idp_tamper("response_iss")
    url = answer_url(client, "idp-ana")
    sandbox.reset_counts()
    page = page_after(client, client.get(url))
    assert "does not come from our identity provider" in page
    assert "/oidc/token" not in sandbox.counts()["requests"]


def test_an_answer_without_iss_is_refused_when_the_provider_sends_it(
    client: FlaskClient,
) -> None:
    page = page_after(client, client.get(without(answer_url(client, "idp-ana"), "iss")))
    assert "does not name its issuer" in page


def test_an_answer_is_accepted_only_once(client: FlaskClient, sandbox: SandboxServer) -> None:
    sandbox.idp_tamper("signature")
    url = answer_url(client, "idp-ana")
    client.get(url)
    page = page_after(client, client.get(url))
    assert "This sign-in answer was already used" in page


def test_an_answer_in_another_browser_is_refused(app: Flask, client: FlaskClient) -> None:
    url = answer_url(client, "idp-ana")
    other = app.test_client()
    page = page_after(other, other.get(url))
    assert ("started in another browser" in page, accounts(app)) == (True, 0)


def test_a_state_never_issued_is_refused(client: FlaskClient) -> None:
    url = answer_url(client, "idp-ana")
    path, _, query = url.partition("?")
    forged = query.replace("state=", "state=x", 1)
    page = page_after(client, client.get(f"{path}?{forged}"))
    assert "not started here" in page


def test_a_slow_answer_is_refused(client: FlaskClient) -> None:
    url = answer_url(client, "idp-ana")
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        page = page_after(client, client.get(url))
    assert "took too long" in page


def test_refusal_pages_never_show_the_code(client: FlaskClient, sandbox: SandboxServer) -> None:
    sandbox.idp_tamper("nonce")
    url = answer_url(client, "idp-ana")
    code = url.split("code=")[1].split("&")[0]
    response = client.get(url)
    assert (code in page_after(client, response), "code=" in response.headers["Location"]) == (
        False,
        False,
    )


def test_declining_at_the_provider_signs_nobody_in(client: FlaskClient) -> None:
    url = declined(answer_url(client, "idp-ana"))
    assert ("state=" in url, "iss=" in url, "code=" in url) == (True, True, False)
    assert "did not sign you in" in page_after(client, client.get(url))


def test_people_page_shows_origin_and_last_sign_in(client: FlaskClient) -> None:
    sign_in(client, "idp-ana")
    page = client.get("/admins/").get_data(as_text=True)
    assert ("Identity provider" in page, "(identity provider)" in page) == (True, True)


def test_an_admin_decision_outlasts_an_earlier_refusal_by_the_provider(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, admin_id: int
) -> None:
    sign_in(client, "idp-ana")
    sandbox.idp_person("idp-ana", groups=["staff"])
    sign_in(app.test_client(), "idp-ana")
    with app.app_context():
        boss = db.session.get(Admin, admin_id)
        ana = db.session.scalar(select(Admin).where(Admin.email == "ana@acme.example"))
        assert boss is not None and ana is not None
        admins.set_active(db.session, boss, ana, True)
        admins.set_active(db.session, boss, ana, False)
    sandbox.idp_person("idp-ana", groups=["connect-admins"])
    other = app.test_client()
    page = page_after(other, sign_in(other, "idp-ana"))
    assert "deactivated by an administrator" in page
