"""The people page: admins manage accounts; viewers read and cannot POST."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.infra.extensions import db
from app.models import Admin
from tests.conftest import PASSWORD, VIEWER_EMAIL, AuthActions, load_admin

pytestmark = pytest.mark.usefixtures("admin_id")


def count_accounts(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Admin.id))) or 0)


def new_account(
    auth: AuthActions, email: str = "new@example.com", password: str = PASSWORD
) -> dict[str, str]:
    return {
        "csrf_token": auth.csrf("/admins/"),
        "email": email,
        "role": "viewer",
        "password": password,
        "confirm": password,
    }


def test_admin_adds_an_account(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    client.post("/admins/", data=new_account(auth))
    assert count_accounts(app) == 2


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12"),
        ("qwerty123456", "too common"),
        ("123qweasdzxc", "too common"),
    ],
)
def test_weak_passwords_are_refused(
    app: Flask, auth: AuthActions, client: FlaskClient, password: str, message: str
) -> None:
    auth.login()
    response = client.post("/admins/", data=new_account(auth, password=password))
    assert (response.status_code, message in response.get_data(as_text=True)) == (400, True)


def test_weak_password_stores_nothing(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    client.post("/admins/", data=new_account(auth, password="1q2w3e4r5t6y"))
    assert count_accounts(app) == 1


def test_duplicate_email_is_refused(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    response = client.post("/admins/", data=new_account(auth, email="ADA@example.com"))
    assert "already exists" in response.get_data(as_text=True)


def test_viewer_cannot_add_accounts(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    response = client.post("/admins/", data=new_account(auth))
    assert (response.status_code, count_accounts(app)) == (403, 2)


def test_viewer_cannot_change_roles(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int, admin_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    data = {"csrf_token": auth.csrf("/admins/"), "role": "viewer"}
    assert client.post(f"/admins/{admin_id}/role", data=data).status_code == 403


def test_viewer_sees_no_action_buttons(
    auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    assert b"Deactivate" not in client.get("/admins/").data


def test_viewer_can_read_the_people_page(
    auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    assert client.get("/admins/").status_code == 200


def test_admin_promotes_a_viewer(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login()
    client.post(
        f"/admins/{viewer_id}/role", data={"csrf_token": auth.csrf("/admins/"), "role": "admin"}
    )
    assert load_admin(app, viewer_id).role == "admin"


def test_last_admin_cannot_be_demoted(
    app: Flask, auth: AuthActions, client: FlaskClient, admin_id: int
) -> None:
    auth.login()
    client.post(
        f"/admins/{admin_id}/role", data={"csrf_token": auth.csrf("/admins/"), "role": "viewer"}
    )
    assert load_admin(app, admin_id).role == "admin"


def test_admin_deactivates_a_viewer(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login()
    client.post(f"/admins/{viewer_id}/deactivate", data={"csrf_token": auth.csrf("/admins/")})
    assert load_admin(app, viewer_id).active is False


def test_deactivation_without_csrf_changes_nothing(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login()
    response = client.post(f"/admins/{viewer_id}/deactivate")
    assert (response.status_code, load_admin(app, viewer_id).active) == (400, True)


def test_admin_cannot_deactivate_themselves(
    app: Flask, auth: AuthActions, client: FlaskClient, admin_id: int
) -> None:
    auth.login()
    client.post(f"/admins/{admin_id}/deactivate", data={"csrf_token": auth.csrf("/admins/")})
    assert load_admin(app, admin_id).active is True


def test_unknown_account_is_404(auth: AuthActions, client: FlaskClient) -> None:
    auth.login()
    data = {"csrf_token": auth.csrf("/admins/")}
    assert client.post("/admins/999/deactivate", data=data).status_code == 404


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        from app.models import AuditEvent

        return [
            e.action
            for e in db.session.scalars(select(AuditEvent))
            if e.action.startswith("admin.")
        ]


def test_admin_changes_are_audited(
    app: Flask, auth: AuthActions, client: FlaskClient, viewer_id: int
) -> None:
    auth.login()
    client.post(
        f"/admins/{viewer_id}/role", data={"csrf_token": auth.csrf("/admins/"), "role": "admin"}
    )
    client.post(f"/admins/{viewer_id}/deactivate", data={"csrf_token": auth.csrf("/admins/")})
    assert audit_actions(app)[-2:] == ["admin.role_changed", "admin.deactivated"]


def test_added_account_is_audited_with_its_creator(
    app: Flask, auth: AuthActions, client: FlaskClient
) -> None:
    auth.login()
    client.post("/admins/", data=new_account(auth))
    with app.app_context():
        from app.models import AuditEvent

        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "admin.created")
        ).all()[-1]
        assert (event.actor_label, event.target_label) == ("ada@example.com", "new@example.com")
