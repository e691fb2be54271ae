"""The sweep as it runs for real: embedded in several gunicorn workers, and as `flask tokens …`."""

from __future__ import annotations

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
from sqlalchemy import select

from app.infra.extensions import db
from app.models import Lease
from app.refresh.scheduler import LEADER_LEASE
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.lifecycle import access_token, connect_user, make_due, refresh_requests
from tests.processes import free_port, process_env

pytestmark = pytest.mark.usefixtures("admin_id")
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def due_connection(
    app: Flask, client: FlaskClient, auth: AuthActions, sandbox: SandboxServer
) -> int:
    auth.login()
    connection_id = connect_user(client, auth, sandbox)
    make_due(app, connection_id)
    sandbox.reset_counts()
    return connection_id


def wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_embedded_sweep_in_three_gunicorn_workers_refreshes_once(
    app: Flask, app_settings: dict[str, Any], due_connection: int, sandbox: SandboxServer
) -> None:
    before = access_token(app, due_connection)
    env = process_env(app, app_settings, SCHEDULER="embedded", SWEEP_INTERVAL="1")
    command = [
        str(BIN / "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "--workers",
        "3",
        "--bind",
        f"127.0.0.1:{free_port()}",
        "wsgi:app",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        refreshed = wait_for(lambda: access_token(app, due_connection) != before, 30)
        time.sleep(3)  # several more ticks of every worker's scheduler
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert (refreshed, refresh_requests(sandbox)) == (True, 1)


def flask_command(*args: str) -> list[str]:
    return [str(BIN / "flask"), "--app", "wsgi", *args]


def test_refresh_due_runs_one_sweep(
    app: Flask, app_settings: dict[str, Any], due_connection: int, sandbox: SandboxServer
) -> None:
    result = subprocess.run(
        flask_command("tokens", "refresh-due"),
        cwd=ROOT,
        env=process_env(app, app_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, "refreshed=1" in result.stdout, refresh_requests(sandbox)) == (
        0,
        True,
        1,
    )


def test_status_prints_a_table(
    app: Flask, app_settings: dict[str, Any], due_connection: int
) -> None:
    result = subprocess.run(
        flask_command("tokens", "status"),
        cwd=ROOT,
        env=process_env(app, app_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Bruno López" in result.stdout and "Expires soon" in result.stdout


def test_worker_stops_gracefully_on_sigterm(
    app: Flask, app_settings: dict[str, Any], due_connection: int, sandbox: SandboxServer
) -> None:
    worker = subprocess.Popen(
        flask_command("tokens", "worker"),
        cwd=ROOT,
        env=process_env(app, app_settings, SWEEP_INTERVAL="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None
    started = worker.stdout.readline()
    wait_for(lambda: refresh_requests(sandbox) == 1, 30)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=30)[0]
    assert ("started" in started, worker.returncode, "stopped" in output) == (True, 0, True)


def test_refresh_one_connection_from_the_cli(
    app: Flask, app_settings: dict[str, Any], due_connection: int
) -> None:
    result = subprocess.run(
        flask_command("tokens", "refresh", str(due_connection)),
        cwd=ROOT,
        env=process_env(app, app_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, "refreshed" in result.stdout) == (0, True)


def sweep_leader(app: Flask) -> str:
    """The pid part of the sweep lease's owner (`host:pid:random`), or '' when nobody leads."""
    with app.app_context():
        owner = db.session.scalar(select(Lease.owner).where(Lease.name == LEADER_LEASE))
        db.session.remove()
    return owner.split(":")[1] if owner else ""


def test_two_cron_sweeps_one_after_the_other_both_sweep(
    app: Flask, app_settings: dict[str, Any], due_connection: int
) -> None:
    """A one-shot sweep gives the lease back when it ends (it used to keep it for 5 minutes)."""
    runs = [
        subprocess.run(
            flask_command("tokens", "refresh-due"),
            cwd=ROOT,
            env=process_env(app, app_settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert [("keys_verified=" in run.stdout, run.returncode) for run in runs] == [(True, 0)] * 2
    assert sweep_leader(app) == ""


def start_worker(app: Flask, app_settings: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        flask_command("tokens", "worker"),
        cwd=ROOT,
        env=process_env(app, app_settings, SWEEP_INTERVAL=str(INTERVAL)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


INTERVAL = 2


def test_a_killed_leaders_lease_passes_on_within_two_intervals(
    app: Flask, app_settings: dict[str, Any], due_connection: int, sandbox: SandboxServer
) -> None:
    leader = start_worker(app, app_settings)
    follower = None
    try:
        assert wait_for(lambda: sweep_leader(app) == str(leader.pid), 30)
        follower = start_worker(app, app_settings)
        time.sleep(3 * INTERVAL)  # the follower is up and keeps trying; the leader renews
        assert sweep_leader(app) == str(leader.pid)
        make_due(app, due_connection)
        sandbox.reset_counts()
        os.kill(leader.pid, signal.SIGKILL)
        killed = time.monotonic()
        took_over = wait_for(lambda: sweep_leader(app) == str(follower.pid), 10)
        handover = time.monotonic() - killed
        print(f"sweep leadership passed on {handover:.2f} s after kill -9 (interval {INTERVAL} s)")
        assert (took_over, handover <= 2 * INTERVAL) == (True, True)
        assert wait_for(lambda: refresh_requests(sandbox) == 1, 5 * INTERVAL)
    finally:
        stop_processes(leader, follower)


def stop_processes(*processes: subprocess.Popen[str] | None) -> None:
    """Each by its own pid; a process already dead is reaped."""
    for process in filter(None, processes):
        process.kill()
        process.wait(timeout=30)
