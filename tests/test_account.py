"""The account page: anyone signed in changes their own password (the current one required,
create-admin's rules); every other session of the account ends and this one continues under a
new token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.infra.extensions import db
from app.models import Admin, AuditEvent
from tests.conftest import ADMIN_EMAIL, PASSWORD, VIEWER_EMAIL, AuthActions
from tests.helpers import copy_of

pytestmark = pytest.mark.usefixtures("admin_id")

NEW_PASSWORD = "a brand new passphrase 42"


def change(
    auth: AuthActions, current: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str = ""
) -> Any:
    data = {"csrf_token": auth.csrf("/account/"), "current_password": current,
            "password": new, "confirm": confirm or new}  # fmt: skip
    return auth.client.post("/account/password", data=data)


def sign_in_status(app: Flask, password: str) -> int:
    """Whether a fresh browser gets in with this password (302) or not (200, the form again)."""
    status: int = AuthActions(app.test_client()).login(ADMIN_EMAIL, password).status_code
    return status


def audit_rows(app: Flask, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        return [(e.outcome, e.target_label, e.details) for e in rows]


def test_the_account_page_is_linked_from_the_header(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    assert 'href="/account/"' in client.get("/").get_data(as_text=True)


def test_the_account_page_needs_a_sign_in(client: FlaskClient) -> None:
    assert client.get("/account/").headers["Location"].startswith("/login")


def test_a_changed_password_signs_in(app: Flask, auth: AuthActions) -> None:
    auth.login()
    change(auth)
    assert (sign_in_status(app, NEW_PASSWORD), sign_in_status(app, PASSWORD)) == (302, 200)


def test_a_change_answers_with_a_redirect_and_a_message(
    auth: AuthActions, client: FlaskClient
) -> None:
    auth.login()
    response = change(auth)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (response.status_code, "Your password is changed" in page) == (303, True)


def test_viewers_change_their_own_password(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    assert change(auth).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong password!!", NEW_PASSWORD, "", "current password is not correct"),
        (PASSWORD, "short", "", "at least 12"),
        (PASSWORD, "qwerty123456", "", "too common"),
        (PASSWORD, ADMIN_EMAIL, "", "email address"),
        (PASSWORD, PASSWORD, "", "different from the current one"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "Passwords differ"),
        ("", NEW_PASSWORD, "", "required"),
    ],
    ids=["wrong-current", "short", "common", "email", "unchanged", "mismatch", "no-current"],
)
def test_a_refused_change_says_why_and_changes_nothing(
    app: Flask, auth: AuthActions, current: str, new: str, confirm: str, message: str
) -> None:
    auth.login()
    response = change(auth, current, new, confirm)
    outcome = (response.status_code, message in response.get_data(as_text=True))
    assert (outcome, sign_in_status(app, PASSWORD)) == ((400, True), 302)


def test_a_refused_change_never_echoes_a_password(auth: AuthActions) -> None:
    auth.login()
    page = change(auth, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x").get_data(as_text=True)
    assert (PASSWORD in page, NEW_PASSWORD in page) == (False, False)


def test_the_error_sits_under_its_own_field(auth: AuthActions) -> None:
    auth.login()
    page = change(auth, current="wrong password!!").get_data(as_text=True)
    assert 'id="current_password-error"' in page


def test_other_sessions_end(app: Flask, auth: AuthActions) -> None:
    elsewhere = AuthActions(app.test_client())
    elsewhere.login()
    auth.login()
    change(auth)
    assert elsewhere.client.get("/").status_code == 302


def test_this_session_continues(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    change(auth)
    assert client.get("/").status_code == 200


def test_this_session_is_rotated(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    before = copy_of(app, client)
    change(auth)
    assert before.get("/").status_code == 302


def test_a_change_is_audited_with_the_sessions_it_ended(app: Flask, auth: AuthActions) -> None:
    AuthActions(app.test_client()).login()
    auth.login()
    change(auth)
    assert audit_rows(app, "admin.password_changed") == [
        ("ok", ADMIN_EMAIL, {"other_sessions_ended": 1})
    ]


def test_a_wrong_current_password_is_audited(app: Flask, auth: AuthActions) -> None:
    auth.login()
    change(auth, current="wrong password!!")
    assert [row[:2] for row in audit_rows(app, "admin.password_change_failed")] == [
        ("failed", ADMIN_EMAIL)
    ]


@pytest.fixture
def tight_account_limit(app_settings: dict[str, Any]) -> dict[str, Any]:
    app_settings["LOGIN_ACCOUNT_LIMIT"] = "3 per 15 minutes"
    return app_settings


@pytest.mark.usefixtures("tight_account_limit")
def test_guessing_the_current_password_is_throttled(auth: AuthActions) -> None:
    auth.login()
    for _ in range(3):
        change(auth, current="wrong password!!")
    assert change(auth).status_code == 429


@pytest.fixture
def identity_provider_account(app: Flask, auth: AuthActions, admin_id: int) -> AuthActions:
    """Signed in, then the account is one the identity provider signs in (no password here)."""
    auth.login()
    with app.app_context():
        admin = db.session.get(Admin, admin_id)
        assert admin is not None
        admin.origin, admin.password_hash = "oidc", ""
        db.session.commit()
    return auth


def test_an_identity_provider_account_is_offered_no_password_change(
    identity_provider_account: AuthActions,
) -> None:
    page = identity_provider_account.client.get("/account/").get_data(as_text=True)
    assert ("changed there, not here" in page, 'name="current_password"' in page) == (True, False)


def test_an_identity_provider_account_cannot_set_a_password(
    app: Flask, identity_provider_account: AuthActions, admin_id: int
) -> None:
    answer = change(identity_provider_account, current="anything at all")
    with app.app_context():
        admin = db.session.get(Admin, admin_id)
        assert admin is not None
        stored = admin.password_hash
    guesses = audit_rows(app, "admin.password_change_failed")  # not a wrong password's
    assert (answer.status_code, stored, guesses) == (400, "", [])
