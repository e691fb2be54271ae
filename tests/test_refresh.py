"""Single-flight refresh against the sandbox: success, not due, invalid_grant, transient errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from app.factorial import FactorialClient
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.lifecycle import (
    access_token,
    connect_user,
    count_events,
    count_notifications,
    load,
    make_due,
    refresh,
    refresh_requests,
    refresh_token,
    run_sweep,
    settings_of,
    status,
)

pytestmark = pytest.mark.usefixtures("admin_id")


@pytest.fixture
def connection_id(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> int:
    auth.login()
    return connect_user(client, auth, sandbox)


def test_due_connection_is_refreshed(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    before = access_token(app, connection_id)
    make_due(app, connection_id)
    outcome = refresh(app, connection_id)
    assert (outcome.result, refresh_requests(sandbox)) == ("refreshed", 1)
    assert access_token(app, connection_id) != before


def test_refresh_stores_the_rotated_refresh_token(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    before = refresh_token(app, connection_id)
    make_due(app, connection_id)
    refresh(app, connection_id)
    assert refresh_token(app, connection_id) != before


def test_new_token_works_at_factorial(app: Flask, connection_id: int) -> None:
    make_due(app, connection_id)
    refresh(app, connection_id)
    client = FactorialClient(settings_of(app).environments["demo"])
    assert client.credentials(access_token=access_token(app, connection_id)).employee_id == "1002"


def test_refresh_is_audited(app: Flask, connection_id: int) -> None:
    make_due(app, connection_id)
    refresh(app, connection_id)
    assert count_events(app, "connection.refreshed") == 1


def test_token_not_due_is_not_refreshed(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    assert (refresh(app, connection_id).result, refresh_requests(sandbox)) == ("fresh", 0)


def test_forced_refresh_happens_when_not_due(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    assert refresh(app, connection_id, force=True).result == "refreshed"


def test_invalid_grant_needs_reconnect_after_one_request(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    outcome = refresh(app, connection_id)
    assert (outcome.result, refresh_requests(sandbox), status(app, connection_id)) == (
        "needs_reconnect",
        1,
        "needs_reconnect",
    )


def test_revoked_grant_is_attributed_to_factorial(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    refresh(app, connection_id)
    assert load(app, connection_id).needs_reconnect_cause == "revoked"


def test_needs_reconnect_is_never_retried_over_a_day_of_sweeps(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    refresh(app, connection_id)
    start = datetime.now(UTC)
    for hour in range(1, 25):
        with time_machine.travel(start + timedelta(hours=hour)):
            run_sweep(app)
    assert refresh_requests(sandbox) == 1


def test_needs_reconnect_is_audited_and_notified_once(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    refresh(app, connection_id)
    refresh(app, connection_id, force=True)
    run_sweep(app)
    assert (
        count_events(app, "connection.needs_reconnect"),
        count_notifications(app, "connection.needs_reconnect"),
    ) == (1, 1)


def test_reconnect_recovers_and_notifies(
    app: Flask, client: FlaskClient, auth: AuthActions, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    refresh(app, connection_id)
    connect_user(client, auth, sandbox)
    assert status(app, connection_id) == "active"


def test_transient_failure_keeps_the_old_tokens(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    before = (access_token(app, connection_id), refresh_token(app, connection_id))
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=503, count=1)
    outcome = refresh(app, connection_id)
    assert outcome.result == "transient"
    assert (access_token(app, connection_id), refresh_token(app, connection_id)) == before


def test_transient_failure_shows_error_with_next_retry(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=503, count=1)
    refresh(app, connection_id)
    assert (status(app, connection_id), load(app, connection_id).next_retry_at is not None) == (
        "error",
        True,
    )


def seconds_until(moment: datetime | None, now: datetime) -> float:
    """0 when no retry is planned."""
    return (moment - now).total_seconds() if moment else 0.0


def test_three_transient_failures_then_success(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=503, count=3)
    delays = []
    now = datetime.now(UTC)
    for _ in range(4):
        with time_machine.travel(now, tick=False):
            run_sweep(app)
        row = load(app, connection_id)
        delays.append(seconds_until(row.next_retry_at, now))
        now = (row.next_retry_at or now) + timedelta(seconds=1)
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 60 <= delays[2] <= 120
    assert (delays[3], status(app, connection_id), refresh_requests(sandbox)) == (0.0, "active", 4)


def test_backoff_holds_retries_until_due(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=503, count=1)
    run_sweep(app)
    run_sweep(app)
    assert refresh_requests(sandbox) == 1


def test_retry_after_is_honoured(app: Flask, connection_id: int, sandbox: SandboxServer) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=429, retry_after=120, count=1)
    now = datetime.now(UTC)
    with time_machine.travel(now, tick=False):
        refresh(app, connection_id)
    assert load(app, connection_id).next_retry_at == now + timedelta(seconds=120)


def test_retry_after_is_capped(app: Flask, connection_id: int, sandbox: SandboxServer) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=429, retry_after=86400, count=1)
    now = datetime.now(UTC)
    with time_machine.travel(now, tick=False):
        refresh(app, connection_id)
    assert load(app, connection_id).next_retry_at == now + timedelta(minutes=5)


def test_retry_after_sweep_waits_then_succeeds(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="fail", status=429, retry_after=120, count=1)
    now = datetime.now(UTC)
    with time_machine.travel(now, tick=False):
        run_sweep(app)
    with time_machine.travel(now + timedelta(seconds=60), tick=False):
        run_sweep(app)
    with time_machine.travel(now + timedelta(seconds=121), tick=False):
        run_sweep(app)
    assert (refresh_requests(sandbox), status(app, connection_id)) == (2, "active")


def test_lost_response_then_strict_provider_needs_reconnect(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="process_then_fail", status=502, count=1)
    first = refresh(app, connection_id)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1)):
        second = refresh(app, connection_id)
    assert (first.result, second.result, refresh_requests(sandbox)) == (
        "transient",
        "needs_reconnect",
        2,
    )
    assert load(app, connection_id).needs_reconnect_cause == "lost"


def test_lost_response_with_a_lenient_provider_recovers(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.configure(reuse_grace=3600)
    make_due(app, connection_id)
    sandbox.fault("/oauth/token", mode="process_then_fail", status=502, count=1)
    refresh(app, connection_id)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5)):
        second = refresh(app, connection_id)
    assert (second.result, status(app, connection_id)) == ("refreshed", "active")


def test_sibling_win_keeps_the_connection_healthy(
    app: Flask, connection_id: int, sandbox: SandboxServer
) -> None:
    import threading
    import time

    make_due(app, connection_id)
    sandbox.reset_counts()
    sandbox.fault("/oauth/token", mode="delay", delay=3, count=1)
    slow: list[str] = []
    thread = threading.Thread(
        target=lambda: slow.append(refresh(app, connection_id, lease=timedelta(seconds=1)).result)
    )
    thread.start()
    deadline = time.monotonic() + 10  # the slow call reaches Factorial (and waits there)...
    while refresh_requests(sandbox) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.1)  # ...and its one-second lease runs out while it waits
    fast = refresh(app, connection_id, force=True, lease=timedelta(seconds=1))
    thread.join()
    assert (fast.result, slow, load(app, connection_id).needs_reconnect_cause) == (
        "refreshed",
        ["sibling"],
        "",
    )
