"""Sign-in and sign-out: one message for every failure, safe `next`, CSRF, session renewal."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.infra.extensions import db
from app.models import Admin
from app.services.people import admins
from tests.conftest import ADMIN_EMAIL, PASSWORD, AuthActions, load_admin

pytestmark = pytest.mark.usefixtures("admin_id")


def test_login_page_renders(client: FlaskClient) -> None:
    assert b"Sign in" in client.get("/login").data


def test_dashboard_requires_sign_in(client: FlaskClient) -> None:
    assert client.get("/").headers["Location"].startswith("/login")


def test_login_success_redirects_to_dashboard(auth: AuthActions) -> None:
    assert auth.login().headers["Location"] == "/"


def test_signed_in_admin_sees_dashboard(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password"), [("nobody@example.com", PASSWORD), (ADMIN_EMAIL, "wrong password!!")]
)
def test_same_message_for_unknown_user_and_wrong_password(
    auth: AuthActions, email: str, password: str
) -> None:
    body = auth.login(email, password).get_data(as_text=True)
    assert "Invalid email or password." in body


def test_failed_login_leaves_the_visitor_signed_out(auth: AuthActions, client: FlaskClient) -> None:
    auth.login(ADMIN_EMAIL, "wrong password!!")
    assert client.get("/").status_code == 302


def test_logout_ends_the_session(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    auth.logout()
    assert client.get("/").status_code == 302


def test_logout_by_get_is_not_allowed(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "http:/evil.com",
        "/%0d%0aLocation: https://evil.com",
        "/\tevil",
        "evil.com",
    ],
)
def test_next_only_redirects_same_origin(auth: AuthActions, target: str) -> None:
    location = auth.login(next_=target).headers["Location"]
    assert (
        location.startswith("/") and not location.startswith(("//", "/\\")) and "\\" not in location
    )


def test_next_keeps_a_local_path(auth: AuthActions) -> None:
    assert auth.login(next_="/admins/?page=2").headers["Location"] == "/admins/?page=2"


def test_login_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 400


def test_login_without_csrf_token_does_not_sign_in(client: FlaskClient) -> None:
    client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert client.get("/").status_code == 302


def test_session_is_renewed_at_login(auth: AuthActions, client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.login()
    with client.session_transaction() as session:
        assert "planted" not in session


def test_deactivated_admin_is_signed_out_on_next_request(
    app: Flask, auth: AuthActions, client: FlaskClient, admin_id: int
) -> None:
    auth.login()
    with app.app_context():
        other = admins.create_admin(db.session, "second@example.com", PASSWORD, "admin")
        target = db.session.get(Admin, admin_id)
        admins.set_active(db.session, other, target, False)  # type: ignore[arg-type]
    assert client.get("/").status_code == 302


def test_deactivated_admin_cannot_sign_in(app: Flask, auth: AuthActions, admin_id: int) -> None:
    with app.app_context():
        other = admins.create_admin(db.session, "second@example.com", PASSWORD, "admin")
        admins.set_active(db.session, other, db.session.get(Admin, admin_id), False)  # type: ignore[arg-type]
    assert "Invalid email or password." in auth.login().get_data(as_text=True)


def test_login_records_last_sign_in(app: Flask, auth: AuthActions, admin_id: int) -> None:
    auth.login()
    assert load_admin(app, admin_id).last_login_at is not None


def test_session_cookie_is_httponly_and_lax(auth: AuthActions) -> None:
    cookie = auth.login().headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
