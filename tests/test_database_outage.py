"""The database away for a moment (a PostgreSQL restart or failover). A refresh Factorial
answered meanwhile keeps the new pair and stores it once the database is back, instead of
losing the connection; requests get 503 with Retry-After, not a 500."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app.refresh.rules import RefreshOutcome
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.factories import make_client
from tests.helpers import bearer
from tests.lifecycle import connect_user, load, refresh, refresh_requests, status

pytestmark = [
    pytest.mark.usefixtures("admin_id"),
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
    ),
]


@contextmanager
def database_unreachable(url: str) -> Iterator[None]:
    """No new connection is accepted and every open one is cut; back as it was after."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as admin:
        name = admin.scalar(text("SELECT current_database()"))
        admin.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0'))
        try:
            # Our role's client sessions only: an autovacuum worker on this database is the
            # server's own, and asking to end it fails (it is no client of ours either).
            admin.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid != pg_backend_pid() "
                     "AND backend_type = 'client backend' AND usename = current_user")
            )  # fmt: skip
            yield
        finally:
            admin.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1'))
    engine.dispose()


def test_a_refresh_answered_while_the_database_is_down_is_stored_once_it_is_back(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    sandbox: SandboxServer,
    database_url: str,
) -> None:
    auth.login()
    connection = connect_user(client, auth, sandbox)
    sandbox.reset_counts()
    # Factorial answers 1 s after it rotated: by then the database is unreachable.
    sandbox.fault("/oauth/token", grant_type="refresh_token", mode="process_then_delay", delay=1)
    outcomes: list[RefreshOutcome] = []
    refreshing = threading.Thread(
        target=lambda: outcomes.append(refresh(app, connection, force=True))
    )
    refreshing.start()
    deadline = time.monotonic() + 10
    while refresh_requests(sandbox) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    with database_unreachable(database_url):
        time.sleep(2.5)  # the answer arrives and the store fails, again and again
    refreshing.join(timeout=30)
    row = load(app, connection)
    assert ([o.result for o in outcomes], row.attempt_id, status(app, connection)) == (
        ["refreshed"], "", "active",
    )  # fmt: skip
    assert refresh(app, connection, force=True).result == "refreshed"  # the stored one works


def test_the_api_answers_503_with_retry_after_while_the_database_is_away(
    app: Flask, client: FlaskClient, user_connection: int, database_url: str
) -> None:
    connection = user_connection
    secret = make_client(app, connections=(connection,))
    with database_unreachable(database_url):
        answer = client.get(f"/api/v1/connections/{connection}/token", headers=bearer(secret))
    assert (answer.status_code, answer.headers["Retry-After"], answer.get_json()["error"]) == (
        503, "5", "database_unavailable",
    )  # fmt: skip


def test_pages_answer_503_while_the_database_is_away(
    client: FlaskClient, auth: AuthActions, database_url: str
) -> None:
    auth.login()
    with database_unreachable(database_url):
        page = client.get("/")
    assert (page.status_code, b"retry in a few seconds" in page.data) == (503, True)
