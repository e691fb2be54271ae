"""Connect Factorial over real HTTP against the sandbox: both token kinds, one row per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from app.infra.extensions import db
from app.models import PendingAuthorization, utcnow
from app.services import pending_states
from sandbox.testing import SandboxServer
from tests.conftest import PASSWORD, VIEWER_EMAIL, AuthActions, make_account
from tests.flows import (
    ACME_ADMIN,
    ACME_EMPLOYEE,
    NIMBUS_ADMIN,
    approve,
    connect_account,
    connection_id_from,
    count_connections,
    load_connection,
    query_of,
    start_connect,
    token_requests,
)

pytestmark = pytest.mark.usefixtures("admin_id")


def test_connect_page_explains_both_token_kinds(
    client: FlaskClient, signed_in: AuthActions
) -> None:
    body = client.get("/connect").get_data(as_text=True)
    assert "acts as the company" in body and "acts as you" in body


def test_company_token_connects(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection = load_connection(
        app, connection_id_from(connect_account(client, signed_in, sandbox))
    )
    assert (connection.kind, connection.company_id, connection.expires_at) == ("company", "1", None)


def test_company_token_shows_the_company_name(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection = load_connection(
        app, connection_id_from(connect_account(client, signed_in, sandbox))
    )
    assert connection.company_name == "Acme Robotics"


def test_user_token_connects_with_its_employee(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    connection = load_connection(app, connection_id_from(response))
    assert (connection.kind, connection.employee_id, connection.employee_name) == (
        "user",
        str(ACME_EMPLOYEE),
        "Bruno López",
    )


def test_user_token_expiry_comes_from_the_response(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    before = datetime.now(UTC)
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    expires_at = load_connection(app, connection_id_from(response)).expires_at
    assert expires_at is not None
    assert timedelta(minutes=59) < expires_at - before < timedelta(minutes=61)


def test_user_token_keeps_a_refresh_token(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    assert load_connection(app, connection_id_from(response)).refresh_token is not None


def test_callback_redirect_carries_no_code_or_state(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    location = connect_account(client, signed_in, sandbox).headers["Location"]
    assert "code=" not in location and "state=" not in location


def test_reconnecting_the_same_user_updates_the_row_in_place(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    first = connection_id_from(connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE))
    second = connection_id_from(connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE))
    assert (first, count_connections(app)) == (second, 1)


def test_reconnect_button_keeps_the_connection_id(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    first = connection_id_from(connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE))
    data = {"csrf_token": signed_in.csrf(f"/connections/{first}")}
    authorize_url = client.post(f"/connections/{first}/reconnect", data=data).headers["Location"]
    second = connection_id_from(client.get(approve(sandbox, authorize_url, ACME_EMPLOYEE)))
    assert (first, count_connections(app)) == (second, 1)


def test_each_account_gets_its_own_row(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connect_account(client, signed_in, sandbox, "company", ACME_ADMIN)
    connect_account(client, signed_in, sandbox, "company", NIMBUS_ADMIN)
    connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    assert count_connections(app) == 3


def test_company_token_needs_an_admin_employee(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = connect_account(client, signed_in, sandbox, "company", ACME_EMPLOYEE)
    assert (response.status_code, count_connections(app)) == (400, 0)


def test_connect_is_audited(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connection_id_from(connect_account(client, signed_in, sandbox))
    assert "connection.connected" in client.get(f"/connections/{connection_id}").get_data(
        as_text=True
    )


def test_pkce_is_sent_when_enabled(client: FlaskClient, signed_in: AuthActions) -> None:
    assert query_of(start_connect(client, signed_in))["code_challenge_method"] == ["S256"]


def test_company_kind_is_requested_from_factorial(
    client: FlaskClient, signed_in: AuthActions
) -> None:
    assert query_of(start_connect(client, signed_in))["resource_owner_type"] == ["company"]


def test_user_kind_does_not_ask_for_a_company_token(
    client: FlaskClient, signed_in: AuthActions
) -> None:
    assert "resource_owner_type" not in query_of(start_connect(client, signed_in, "user"))


def test_state_carries_at_least_128_bits(client: FlaskClient, signed_in: AuthActions) -> None:
    assert len(query_of(start_connect(client, signed_in))["state"][0]) >= 22


def test_states_are_distinct(client: FlaskClient, signed_in: AuthActions) -> None:
    states = {query_of(start_connect(client, signed_in))["state"][0] for _ in range(100)}
    assert len(states) == 100


def test_viewer_cannot_start_a_connect(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    make_account(app, VIEWER_EMAIL, "viewer")
    auth.login(VIEWER_EMAIL, PASSWORD)
    data = {"csrf_token": auth.csrf("/connect"), "environment": "demo", "kind": "company"}
    assert client.post("/connect", data=data).status_code == 403


def test_unknown_environment_is_refused(client: FlaskClient, signed_in: AuthActions) -> None:
    data = {"csrf_token": signed_in.csrf("/connect"), "environment": "mars", "kind": "company"}
    assert client.post("/connect", data=data).status_code == 400


def test_bad_kind_is_refused(client: FlaskClient, signed_in: AuthActions) -> None:
    data = {"csrf_token": signed_in.csrf("/connect"), "environment": "demo", "kind": "robot"}
    assert client.post("/connect", data=data).status_code == 400


def test_detail_page_shows_no_token(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connection_id_from(
        connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    )
    with app.app_context():
        from app.infra.extensions import db
        from app.models import Connection

        stored = db.session.get(Connection, connection_id)
        secrets = [stored.access_token.reveal(), stored.refresh_token.reveal()]  # type: ignore[union-attr]
    pages = client.get("/").get_data(as_text=True) + client.get(
        f"/connections/{connection_id}"
    ).get_data(as_text=True)
    assert not any(secret in pages for secret in secrets)


def test_dashboard_lists_the_connection(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    body = client.get("/").get_data(as_text=True)
    assert "Bruno López" in body and "Active" in body


def test_expired_state_is_refused_without_a_token_request(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = approve(sandbox, start_connect(client, signed_in), ACME_ADMIN)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        response = client.get(callback)
    assert (response.status_code, token_requests(sandbox), count_connections(app)) == (400, 0, 0)


def test_user_token_learns_the_company_name_from_a_company_token(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connect_account(client, signed_in, sandbox, "company", ACME_ADMIN)
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    assert load_connection(app, connection_id_from(response)).company_name == "Acme Robotics"


def test_company_token_names_the_company_of_earlier_user_tokens(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    user = connection_id_from(connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE))
    connect_account(client, signed_in, sandbox, "company", ACME_ADMIN)
    assert load_connection(app, user).company_name == "Acme Robotics"


def test_a_state_shorter_than_128_bits_is_never_recorded(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="128"):
        pending_states.record(db.session, PendingAuthorization, "s" * 21, utcnow(), verifier=None)
