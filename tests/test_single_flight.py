"""Single flight for real: many processes and threads, many sweepers, one refresh each time."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.factorial import FactorialClient
from app.infra.extensions import db
from app.models import Connection, utcnow
from sandbox.testing import SandboxServer
from tests.conftest import REDIRECT_URI, AuthActions
from tests.lifecycle import (
    access_token,
    connect_user,
    load,
    make_due,
    refresh_requests,
    run_sweep,
    settings_of,
)

pytestmark = pytest.mark.usefixtures("admin_id")
ROOT = Path(__file__).resolve().parent.parent
PROCESSES, THREADS, ROUNDS = 4, 25, 20


def short_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@pytest.fixture
def connection_id(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> int:
    auth.login()
    return connect_user(client, auth, sandbox)


@pytest.fixture
def children(app: Flask, app_settings: dict[str, Any], connection_id: int) -> Iterator[list[Any]]:
    settings = settings_of(app)
    child_settings = {
        **app_settings,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.token_encryption_keys),
        "SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "WARNING",
    }
    env = {**os.environ, "CHILD_SETTINGS": json.dumps(child_settings)}
    command = [sys.executable, "tests/refresh_child.py", str(connection_id), str(THREADS)]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(PROCESSES)
    ]
    yield processes
    for process in processes:
        assert process.stdin is not None
        process.stdin.close()
    for process in processes:
        process.wait(timeout=30)


def one_round(processes: list[Any]) -> list[list[str]]:
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    return [result for process in processes for result in json.loads(process.stdout.readline())]


def test_single_flight_across_processes_and_threads(
    app: Flask, connection_id: int, sandbox: SandboxServer, children: list[Any]
) -> None:
    rounds = []
    for _ in range(ROUNDS):
        make_due(app, connection_id)
        sandbox.reset_counts()
        results = one_round(children)
        stored = short_digest(access_token(app, connection_id))
        outcomes = {outcome for outcome, _ in results}
        rounds.append(
            (
                refresh_requests(sandbox),
                {digest for _, digest in results} == {stored},
                len(results),
                outcomes <= {"refreshed", "fresh", "sibling"},
            )
        )
    assert rounds == [(1, True, PROCESSES * THREADS, True)] * ROUNDS
    assert load(app, connection_id).needs_reconnect_cause == ""


def connect_directly(app: Flask, sandbox: SandboxServer, employee_id: str) -> None:
    """A real sandbox grant stored as a connection row (the sandbox has only six employees)."""
    client = FactorialClient(settings_of(app).environments["demo"])
    verifier = client.new_code_verifier()
    url = client.authorization_url(state=client.new_state(), kind="user", code_verifier=verifier)
    location = sandbox.approve(url, 1002)
    code = location.split("code=")[1].split("&")[0]
    token = client.exchange_code(code, code_verifier=verifier)
    from app.services.connection_store import token_values

    with app.app_context():
        row = Connection(environment="demo", kind="user", company_id="1", employee_id=employee_id)
        for name, value in token_values(token, utcnow()).items():
            setattr(row, name, value)
        db.session.add(row)
        db.session.commit()


def test_three_sweepers_refresh_each_due_connection_exactly_once(
    app: Flask, sandbox: SandboxServer
) -> None:
    assert REDIRECT_URI
    for number in range(50):
        connect_directly(app, sandbox, f"bulk-{number}")
    with app.app_context():
        db.session.execute(update(Connection).values(expires_at=utcnow()))
        db.session.commit()
    sandbox.reset_counts()
    sweepers = [threading.Thread(target=run_sweep, args=(app,)) for _ in range(3)]
    for sweeper in sweepers:
        sweeper.start()
    for sweeper in sweepers:
        sweeper.join()
    assert refresh_requests(sandbox) == 50
    assert run_sweep(app).outcomes == {}
