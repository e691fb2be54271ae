"""Keep-alive across a quiet week, revoke and delete, company-token health checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from app.factorial import FactorialClient, Unauthorized
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.flows import connect_account, connection_id_from, count_connections
from tests.lifecycle import (
    access_token,
    connect_user,
    count_events,
    count_notifications,
    load,
    refresh,
    refresh_requests,
    refresh_token,
    run_sweep,
    settings_of,
    status,
)

pytestmark = pytest.mark.usefixtures("admin_id")
DAY = timedelta(days=1)


def sweep_on_day(app: Flask, sandbox: SandboxServer, start: datetime, day: int) -> None:
    sandbox.set_clock(day * DAY.total_seconds())
    with time_machine.travel(start + day * DAY, tick=False):
        run_sweep(app)


def test_quiet_connection_is_kept_alive_past_a_week(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(access_token_ttl=30 * 86400)
    connection_id = connect_user(client, signed_in, sandbox)
    start = datetime.now(UTC)
    for day in range(1, 9):
        sweep_on_day(app, sandbox, start, day)
    with time_machine.travel(start + 8 * DAY + timedelta(hours=1), tick=False):
        outcome = refresh(app, connection_id, force=True)
    assert (outcome.result, refresh_requests(sandbox) >= 8) == ("refreshed", True)


def test_keepalive_refreshes_before_day_seven(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(access_token_ttl=30 * 86400)
    connection_id = connect_user(client, signed_in, sandbox)
    start = datetime.now(UTC)
    for day in range(1, 7):
        sweep_on_day(app, sandbox, start, day)
    issued = load(app, connection_id).refresh_token_issued_at
    assert issued is not None and issued >= start + 5 * DAY


def test_without_keepalive_the_refresh_token_dies_on_day_eight(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(access_token_ttl=30 * 86400)
    connection_id = connect_user(client, signed_in, sandbox)
    start = datetime.now(UTC)
    sandbox.set_clock(8 * DAY.total_seconds())
    with time_machine.travel(start + 8 * DAY, tick=False):
        outcome = refresh(app, connection_id, force=True)
    assert (outcome.result, load(app, connection_id).needs_reconnect_cause) == (
        "needs_reconnect",
        "refresh_expired",
    )


def post(client: FlaskClient, auth: AuthActions, path: str, page: str) -> str:
    response = client.post(path, data={"csrf_token": auth.csrf(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_revoke_wipes_tokens_after_factorial_confirms(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    old = access_token(app, connection_id)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    row = load(app, connection_id)
    assert (row.access_token, row.refresh_token, status(app, connection_id)) == (
        None,
        None,
        "revoked",
    )
    with pytest.raises(Unauthorized):
        FactorialClient(settings_of(app).environments["demo"]).credentials(access_token=old)


def test_revoke_is_audited_and_notified(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    assert count_events(app, "connection.revoked") == 1


def test_revoke_while_factorial_is_down_stays_pending(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    sandbox.fault("/oauth/revoke", mode="fail", status=503, count=1)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    row = load(app, connection_id)
    assert (status(app, connection_id), row.access_token is not None) == ("revoke_pending", True)


def test_pending_revoke_is_retried_by_the_sweep(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    sandbox.fault("/oauth/revoke", mode="fail", status=503, count=1)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    run_sweep(app)
    assert status(app, connection_id) == "revoked"


def test_pending_revoke_is_never_refreshed(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    sandbox.fault("/oauth/revoke", mode="fail", status=503, count=2)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        run_sweep(app)
    assert refresh_requests(sandbox) == 0


def test_delete_revokes_then_removes(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    location = post(
        client,
        signed_in,
        f"/connections/{connection_id}/delete",
        f"/connections/{connection_id}/delete",
    )
    assert (location, count_connections(app), sandbox.counts()["requests"]["/oauth/revoke"]) == (
        "/",
        0,
        2,
    )


def test_delete_while_factorial_is_down_keeps_the_row_until_it_confirms(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    sandbox.fault("/oauth/revoke", mode="fail", status=503, count=1)
    post(
        client,
        signed_in,
        f"/connections/{connection_id}/delete",
        f"/connections/{connection_id}/delete",
    )
    before = count_connections(app)
    run_sweep(app)
    assert (before, count_connections(app)) == (1, 0)


def test_delete_asks_for_confirmation_first(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    assert b"Revoke and delete" in client.get(f"/connections/{connection_id}/delete").data


def company_connection(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> int:
    return connection_id_from(connect_account(client, auth, sandbox, "company"))


def test_company_token_health_check_passes(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = company_connection(client, signed_in, sandbox)
    with time_machine.travel(datetime.now(UTC) + DAY + timedelta(minutes=1)):
        report = run_sweep(app)
    assert (report.health_checks, status(app, connection_id)) == ({"ok": 1}, "does_not_expire")


def test_revoked_company_token_is_detected_by_the_daily_health_check(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = company_connection(client, signed_in, sandbox)
    sandbox.revoke_grant(access_token(app, connection_id))
    with time_machine.travel(datetime.now(UTC) + DAY + timedelta(minutes=1)):
        run_sweep(app)
        run_sweep(app)
    row = load(app, connection_id)
    assert (row.needs_reconnect_cause, count_notifications(app, "connection.needs_reconnect")) == (
        "revoked",
        1,
    )


def test_health_check_waits_a_day(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    company_connection(client, signed_in, sandbox)
    assert run_sweep(app).health_checks == {}


def test_refresh_token_unchanged_after_a_pending_revoke(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    connection_id = connect_user(client, signed_in, sandbox)
    before = refresh_token(app, connection_id)
    sandbox.fault("/oauth/revoke", mode="fail", status=503, count=1)
    post(client, signed_in, f"/connections/{connection_id}/revoke", f"/connections/{connection_id}")
    assert refresh_token(app, connection_id) == before
