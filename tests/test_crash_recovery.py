"""kill -9 in the middle of a refresh: never shown healthy while dead, never stuck refreshing,
recovered where the provider allows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.factories import make_client
from tests.helpers import bearer
from tests.lifecycle import connect_user, load, refresh_requests, run_sweep, settings_of, status

pytestmark = pytest.mark.usefixtures("admin_id")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def connection_id(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> int:
    auth.login()
    connection = connect_user(client, auth, sandbox)
    sandbox.reset_counts()
    return connection


def kill_mid_refresh(
    app: Flask, app_settings: dict[str, Any], connection_id: int, point: str
) -> float:
    """A child refreshes with a one-second lease, freezes at `point` and is killed with
    SIGKILL; when it was killed (time.monotonic)."""
    settings = settings_of(app)
    child_settings = {
        **app_settings,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.token_encryption_keys),
        "SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.Popen(
        [sys.executable, "tests/crash_child.py", str(connection_id), point],
        cwd=ROOT,
        env={**os.environ, "CHILD_SETTINGS": json.dumps(child_settings)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "PAUSED"
    os.kill(child.pid, signal.SIGKILL)
    killed = time.monotonic()
    child.wait(timeout=10)
    return killed


def crash_during_refresh(
    app: Flask, app_settings: dict[str, Any], connection_id: int, point: str
) -> None:
    kill_mid_refresh(app, app_settings, connection_id, point)
    time.sleep(1.2)  # the child's one-second lease runs out


@pytest.mark.parametrize("point", ["before_call", "after_answer"])
def test_a_crashed_refresh_is_shown_as_checking_not_healthy_nor_an_error(
    app: Flask, app_settings: dict[str, Any], connection_id: int, point: str
) -> None:
    """ "Error" reads as a transient failure of Factorial; this is our own unknown outcome."""
    crash_during_refresh(app, app_settings, connection_id, point)
    assert status(app, connection_id) == "checking"


def test_crash_before_the_call_recovers_with_the_stored_token(
    app: Flask, app_settings: dict[str, Any], connection_id: int, sandbox: SandboxServer
) -> None:
    crash_during_refresh(app, app_settings, connection_id, "before_call")
    run_sweep(app)
    assert (status(app, connection_id), refresh_requests(sandbox)) == ("active", 1)


def test_crash_after_the_answer_with_a_strict_provider_needs_reconnect(
    app: Flask, app_settings: dict[str, Any], connection_id: int, sandbox: SandboxServer
) -> None:
    crash_during_refresh(app, app_settings, connection_id, "after_answer")
    run_sweep(app)
    run_sweep(app)
    row = load(app, connection_id)
    assert (row.needs_reconnect_cause, refresh_requests(sandbox)) == ("lost", 2)


def test_crash_after_the_answer_with_a_grace_period_recovers(
    app: Flask, app_settings: dict[str, Any], connection_id: int, sandbox: SandboxServer
) -> None:
    sandbox.configure(reuse_grace=3600)
    crash_during_refresh(app, app_settings, connection_id, "after_answer")
    run_sweep(app)
    assert (status(app, connection_id), refresh_requests(sandbox)) == ("active", 2)


def test_a_crashed_refresh_is_never_left_refreshing(
    app: Flask, app_settings: dict[str, Any], connection_id: int
) -> None:
    crash_during_refresh(app, app_settings, connection_id, "after_answer")
    run_sweep(app)
    assert status(app, connection_id) != "refreshing" and load(app, connection_id).attempt_id == ""


HEALTHY_LOOKING = {"active", "expires_soon", "does_not_expire"}
LEASE, INTERVAL = 1, 1  # the child's refresh lease; the sweep's interval


def flask_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args]


def sweeper_env(app: Flask, app_settings: dict[str, Any]) -> dict[str, str]:
    settings = settings_of(app)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_"))}
    env.update({k: str(v) for k, v in app_settings.items()})
    env.update(
        APP_ENV="demo",
        TOKEN_ENCRYPTION_KEYS=",".join(settings.token_encryption_keys),
        SECRET_KEY=settings.secret_key,
        SWEEP_INTERVAL=str(INTERVAL),
        LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def worker_sweeping(env: dict[str, str]) -> Iterator[None]:
    """`flask tokens worker`, stopped by its pid."""
    worker = subprocess.Popen(
        flask_command("tokens", "worker"), cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        worker.kill()
        worker.wait(timeout=30)


@contextmanager
def cron_sweeping(env: dict[str, str]) -> Iterator[None]:
    """Cron at its tightest: `flask tokens refresh-due` again as soon as one ends."""
    stop = threading.Event()

    def cron() -> None:
        while not stop.is_set():
            subprocess.run(flask_command("tokens", "refresh-due"), cwd=ROOT, env=env,
                           capture_output=True, timeout=60)  # fmt: skip

    loop = threading.Thread(target=cron, daemon=True)
    loop.start()
    try:
        yield
    finally:
        stop.set()
        loop.join(timeout=60)


SWEEPING = {"worker": worker_sweeping, "cron": cron_sweeping}
# How long after the lease runs out the sweep can take to come round: one interval for the
# worker; for cron, one whole `refresh-due` run (a flask process's start-up, ~2 s here, is
# its interval).
COME_ROUND = {"worker": INTERVAL + 0.5, "cron": 5.0}


def statuses_until(app: Flask, connection_id: int, final: str, seconds: float) -> list[str]:
    """Every status seen, polled every 0.1 s, until `final` or `seconds` pass."""
    seen = [status(app, connection_id)]
    deadline = time.monotonic() + seconds
    while seen[-1] != final and time.monotonic() < deadline:
        time.sleep(0.1)
        seen.append(status(app, connection_id))
    return seen


@pytest.mark.parametrize("mode", ["worker", "cron"])
def test_the_sweep_settles_a_refresh_killed_after_rotation_within_lease_plus_interval(
    app: Flask,
    app_settings: dict[str, Any],
    client: FlaskClient,
    connection_id: int,
    mode: str,
) -> None:
    """Not on demand: nothing vends meanwhile. Never shown healthy; then the API says 409."""
    with SWEEPING[mode](sweeper_env(app, app_settings)):
        time.sleep(2 * INTERVAL)  # the sweeper is up (and, for cron, between two runs)
        killed = kill_mid_refresh(app, app_settings, connection_id, "after_answer")
        seen = statuses_until(app, connection_id, "needs_reconnect", 30)
        settled = time.monotonic() - killed
    print(f"{mode}: settled {settled:.1f} s after kill -9 (lease {LEASE} s, interval {INTERVAL} s)")
    secret = make_client(app, connections=(connection_id,))
    answer = client.get(f"/api/v1/connections/{connection_id}/token", headers=bearer(secret))
    assert (seen[-1], load(app, connection_id).needs_reconnect_cause) == ("needs_reconnect", "lost")
    assert (HEALTHY_LOOKING & set(seen), answer.status_code) == (set(), 409)
    assert settled <= LEASE + COME_ROUND[mode]
