"""kill -9 in the middle of a refresh: never shown healthy while dead, never stuck refreshing,
recovered where the provider allows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.lifecycle import connect_user, load, refresh_requests, run_sweep, settings_of, status

pytestmark = pytest.mark.usefixtures("admin_id")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def connection_id(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> int:
    auth.login()
    connection = connect_user(client, auth, sandbox)
    sandbox.reset_counts()
    return connection


def crash_during_refresh(
    app: Flask, app_settings: dict[str, Any], connection_id: int, point: str
) -> None:
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
    child.wait(timeout=10)
    time.sleep(1.2)  # the child's one-second lease runs out


@pytest.mark.parametrize("point", ["before_call", "after_answer"])
def test_a_crashed_refresh_is_shown_as_an_error_not_healthy(
    app: Flask, app_settings: dict[str, Any], connection_id: int, point: str
) -> None:
    crash_during_refresh(app, app_settings, connection_id, point)
    assert status(app, connection_id) == "error"


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
