"""PASSWORD_LOGIN=off: only break-glass accounts keep a password, each use audited (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.infra.extensions import db
from app.models import Admin, AuditEvent
from app.services.people import admins
from app.web.admin.auth import PASSWORDS_OFF
from sandbox.testing import SandboxServer
from tests.conftest import ADMIN_EMAIL, PASSWORD, AuthActions
from tests.oidc_flows import oidc_settings

BREAK_GLASS_EMAIL = "glass@example.com"


@pytest.fixture
def app_settings(app_settings: dict[str, Any], sandbox: SandboxServer) -> dict[str, Any]:
    return {**app_settings, **oidc_settings(sandbox), "PASSWORD_LOGIN": "off"}


@pytest.fixture
def break_glass_id(app: Flask) -> int:
    with app.app_context():
        return admins.create_admin(db.session, BREAK_GLASS_EMAIL, PASSWORD, break_glass=True).id


def break_glass_login(auth: AuthActions, email: str) -> Any:
    """The emergency form, reached by its link on the sign-in page."""
    token = auth.csrf("/login?break_glass=1")
    data = {"email": email, "password": PASSWORD, "csrf_token": token, "next": ""}
    return auth.client.post("/login", data=data)


def actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_sign_in_page_hides_the_password_form(client: FlaskClient) -> None:
    assert 'name="password"' not in client.get("/login").get_data(as_text=True)


def test_break_glass_link_shows_the_password_form(client: FlaskClient) -> None:
    assert 'name="password"' in client.get("/login?break_glass=1").get_data(as_text=True)


def test_an_ordinary_password_is_refused(auth: AuthActions, admin_id: int) -> None:
    response = break_glass_login(auth, ADMIN_EMAIL)
    assert (response.status_code, PASSWORDS_OFF in response.get_data(as_text=True)) == (200, True)


def test_a_break_glass_account_signs_in_with_its_password(
    auth: AuthActions, break_glass_id: int
) -> None:
    assert break_glass_login(auth, BREAK_GLASS_EMAIL).status_code == 302


def test_a_break_glass_sign_in_is_audited(
    app: Flask, auth: AuthActions, break_glass_id: int
) -> None:
    break_glass_login(auth, BREAK_GLASS_EMAIL)
    assert "auth.break_glass_login" in actions(app)


def test_people_page_shows_a_break_glass_sign_in(auth: AuthActions, break_glass_id: int) -> None:
    break_glass_login(auth, BREAK_GLASS_EMAIL)
    page = auth.client.get("/admins/").get_data(as_text=True)
    assert "(break-glass password)" in page


def test_create_admin_makes_a_break_glass_account_when_passwords_are_off(
    app: Flask, runner: FlaskCliRunner
) -> None:
    runner.invoke(args=["create-admin", "new@example.com", "--password-stdin"], input=PASSWORD)
    with app.app_context():
        made = db.session.scalar(select(Admin).where(Admin.email == "new@example.com"))
        assert made is not None
        assert made.break_glass is True


@pytest.mark.parametrize("setting", ["on", ""])
def test_create_admin_without_the_flag_is_an_ordinary_account_with_passwords_on(
    app_settings: dict[str, Any], setting: str
) -> None:
    from flask_migrate import upgrade

    from app import create_app

    application = create_app({**app_settings, "PASSWORD_LOGIN": setting})
    with application.app_context():
        upgrade()
    application.test_cli_runner().invoke(
        args=["create-admin", "new@example.com", "--password-stdin"], input=PASSWORD
    )
    with application.app_context():
        made = db.session.scalar(select(Admin).where(Admin.email == "new@example.com"))
        assert made is not None
        assert made.break_glass is False


def test_an_identity_provider_account_has_no_password(app: Flask, auth: AuthActions) -> None:
    from tests.oidc_flows import sign_in

    sign_in(auth.client, "idp-ana")
    with app.app_context():
        ana = db.session.scalar(select(Admin).where(Admin.email == "ana@acme.example"))
        assert ana is not None
        assert ana.password_hash == ""
