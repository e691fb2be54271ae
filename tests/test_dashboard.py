"""Dashboard: actions for admins only, filters, summary, and statuses that match their SQL twin."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.infra.extensions import db
from app.models import Connection, utcnow
from app.services import connections
from sandbox.testing import SandboxServer
from tests.conftest import PASSWORD, VIEWER_EMAIL, AuthActions, make_account
from tests.flows import ACME_ADMIN, NIMBUS_ADMIN, connect_account, connection_id_from
from tests.lifecycle import connect_user, make_due, refresh_requests, refresh_token, status

pytestmark = pytest.mark.usefixtures("admin_id")


@pytest.fixture
def user_connection(client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer) -> int:
    return connect_user(client, signed_in, sandbox)


def test_refresh_now_button_refreshes(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    user_connection: int,
    sandbox: SandboxServer,
) -> None:
    data = {"csrf_token": signed_in.csrf(f"/connections/{user_connection}")}
    response = client.post(
        f"/connections/{user_connection}/refresh", data=data, follow_redirects=True
    )
    assert (refresh_requests(sandbox), "Refreshed" in response.get_data(as_text=True)) == (1, True)


def test_refresh_without_csrf_changes_nothing(
    client: FlaskClient, signed_in: AuthActions, user_connection: int, sandbox: SandboxServer
) -> None:
    response = client.post(f"/connections/{user_connection}/refresh")
    assert (response.status_code, refresh_requests(sandbox)) == (400, 0)


def test_refresh_of_unknown_connection_is_404(client: FlaskClient, signed_in: AuthActions) -> None:
    data = {"csrf_token": signed_in.csrf("/")}
    assert client.post("/connections/999/refresh", data=data).status_code == 404


@pytest.fixture
def viewer(app: Flask, client: FlaskClient, user_connection: int) -> AuthActions:
    make_account(app, VIEWER_EMAIL, "viewer")
    viewer_browser = app.test_client()
    actions = AuthActions(viewer_browser)
    actions.login(VIEWER_EMAIL, PASSWORD)
    return actions


@pytest.mark.parametrize("action", ["refresh", "revoke", "delete", "reconnect"])
def test_viewer_cannot_act(viewer: AuthActions, user_connection: int, action: str) -> None:
    data = {"csrf_token": viewer.csrf("/")}
    assert (
        viewer.client.post(f"/connections/{user_connection}/{action}", data=data).status_code == 403
    )


@pytest.mark.parametrize("page", ["/", "/connections/{id}"])
def test_viewer_sees_no_action_buttons(
    viewer: AuthActions, user_connection: int, page: str
) -> None:
    body = viewer.client.get(page.format(id=user_connection)).get_data(as_text=True)
    actions = ("refresh", "revoke", "reconnect", "delete")
    assert not any(f"/connections/{user_connection}/{action}" in body for action in actions)


@pytest.mark.parametrize("page", ["/", "/connections/{id}"])
def test_admin_sees_action_buttons(
    client: FlaskClient, signed_in: AuthActions, user_connection: int, page: str
) -> None:
    body = client.get(page.format(id=user_connection)).get_data(as_text=True)
    actions = ("refresh", "revoke", "reconnect", "delete")
    assert all(f"/connections/{user_connection}/{action}" in body for action in actions)


def test_summary_counts_healthy_and_attention(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    user_connection: int,
) -> None:
    connection_id_from(connect_account(client, signed_in, sandbox, "company", ACME_ADMIN))
    sandbox.revoke_grant(refresh_token(app, user_connection))
    make_due(app, user_connection)
    from tests.lifecycle import refresh

    refresh(app, user_connection)
    body = client.get("/").get_data(as_text=True)
    assert (
        '<span class="tile-n">1</span> healthy' in body
        and '<span class="tile-n">1</span> need attention' in body
    )


def test_status_filter_shows_only_matching_rows(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    user_connection: int,
) -> None:
    connect_account(client, signed_in, sandbox, "company", NIMBUS_ADMIN)
    client.get("/")  # shows and clears the "Connected …" messages
    body = client.get("/?status=does_not_expire").get_data(as_text=True)
    assert "Nimbus" in body and "Bruno López" not in body


def test_search_filter(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, user_connection: int
) -> None:
    connect_account(client, signed_in, sandbox, "company", NIMBUS_ADMIN)
    client.get("/")  # shows and clears the "Connected …" messages
    body = client.get("/?q=bruno").get_data(as_text=True)
    assert "Bruno López" in body and "Nimbus" not in body


@pytest.mark.parametrize(
    "query", ["status=sparkling", "page=0", "page=abc", "page=10001", "q=" + "x" * 101]
)
def test_bad_filters_are_a_clear_400(
    client: FlaskClient, signed_in: AuthActions, query: str
) -> None:
    assert client.get(f"/?{query}").status_code == 400


def test_welcome_explains_the_three_credentials(
    client: FlaskClient, signed_in: AuthActions
) -> None:
    body = client.get("/").get_data(as_text=True)
    assert all(word in body for word in ("Company token", "User token", "API key"))


def test_detail_shows_refresh_token_death(
    client: FlaskClient, signed_in: AuthActions, user_connection: int
) -> None:
    assert "Refresh token dies" in client.get(f"/connections/{user_connection}").get_data(
        as_text=True
    )


def test_a_connection_page_belongs_to_the_dashboard_in_the_navigation(
    client: FlaskClient, signed_in: AuthActions, user_connection: int
) -> None:
    body = client.get(f"/connections/{user_connection}").get_data(as_text=True)
    assert '<a href="/" aria-current="page">Dashboard</a>' in body


STATE_CHANGES = [
    {},
    {"expires_at": timedelta(minutes=5)},
    {"expires_at": timedelta(minutes=-5)},
    {"expires_at": None},
    {"needs_reconnect_cause": "revoked"},
    {"revoke_requested_at": timedelta(0)},
    {"revoked_at": timedelta(0), "revoke_requested_at": timedelta(0)},
    {"attempt_id": "abc", "lease_expires_at": timedelta(seconds=30)},
    {"attempt_id": "abc", "lease_expires_at": timedelta(seconds=-30)},
    {"failure_count": 2, "next_retry_at": timedelta(minutes=3)},
]


def moment(now: datetime, value: object) -> object:
    """Timedeltas count from now; other values stay as they are."""
    return now + value if isinstance(value, timedelta) else value


@pytest.mark.parametrize("change", STATE_CHANGES)
def test_sql_status_agrees_with_the_page(
    app: Flask, user_connection: int, change: dict[str, object]
) -> None:
    now = utcnow()
    values = {k: moment(now, v) for k, v in change.items()}
    margin = timedelta(minutes=10)
    with app.app_context():
        db.session.execute(
            update(Connection).where(Connection.id == user_connection).values(**values)
        )
        db.session.commit()
        row = db.session.get(Connection, user_connection)
        sql = db.session.scalar(select(connections.status_expression(now, margin)))
        assert sql == connections.status_of(row, now, margin).code  # type: ignore[arg-type]


def test_status_reads_active_after_connect(app: Flask, user_connection: int) -> None:
    assert status(app, user_connection) == "active"
