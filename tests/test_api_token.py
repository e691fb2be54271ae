"""GET /api/v1/connections/{id}/token: a usable token, refreshed first when due, or 409 why."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Connection, ServiceClient, utcnow
from sandbox.testing import SandboxServer
from tests.factories import make_client
from tests.helpers import audit_rows, bearer, expire_soon, last_used, only_on, set_columns
from tests.lifecycle import access_token, refresh_requests


def vend(client: FlaskClient, secret: str, connection_id: int) -> tuple[int, dict[str, object]]:
    response = client.get(f"/api/v1/connections/{connection_id}/token", headers=bearer(secret))
    response.close()  # as a server does once the answer is sent: usage is written then
    return response.status_code, response.get_json()


def test_fresh_token_is_vended_without_calling_factorial(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    sandbox.reset_counts()
    status, body = vend(client, secret, user_connection)
    assert (status, body["access_token"], sum(sandbox.counts()["token"].values())) == (
        200, access_token(app, user_connection), 0,
    )  # fmt: skip


def test_token_answer_is_never_cached(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    response = client.get(f"/api/v1/connections/{user_connection}/token", headers=bearer(secret))
    assert (response.headers["Cache-Control"], response.headers["Pragma"]) == (
        "no-store",
        "no-cache",
    )


def test_expiring_token_is_refreshed_first(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    before = access_token(app, user_connection)
    expire_soon(app, user_connection)
    sandbox.reset_counts()
    status, body = vend(client, secret, user_connection)
    assert (status, refresh_requests(sandbox)) == (200, 1)
    assert body["access_token"] == access_token(app, user_connection) != before


def test_needs_reconnect_is_a_409_with_its_cause(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    set_columns(app, user_connection, needs_reconnect_cause="refresh_expired")
    status, body = vend(client, secret, user_connection)
    assert (status, body["error"], body["cause"]) == (409, "needs_reconnect", "refresh_expired")


def test_revoke_pending_is_a_409(app: Flask, client: FlaskClient, user_connection: int) -> None:
    secret = make_client(app, connections=(user_connection,))
    set_columns(app, user_connection, revoke_requested_at=utcnow())
    assert vend(client, secret, user_connection)[1]["error"] == "revoke_pending"


def test_revoked_is_a_409(app: Flask, client: FlaskClient, user_connection: int) -> None:
    secret = make_client(app, connections=(user_connection,))
    set_columns(app, user_connection, revoked_at=utcnow(), access_token=None, refresh_token=None)
    assert vend(client, secret, user_connection) == (
        409, {"error": "revoked", "message": "Revoked at Factorial; tokens wiped."},
    )  # fmt: skip


def test_failed_refresh_of_an_expiring_token_still_vends_the_valid_one(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    expire_soon(app, user_connection)
    sandbox.fault("/oauth/token", status=503, grant_type="refresh_token")
    assert vend(client, secret, user_connection)[0] == 200


def test_expired_token_that_cannot_refresh_is_refresh_failed(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    expire_soon(app, user_connection, seconds=-5)
    sandbox.fault("/oauth/token", status=503, grant_type="refresh_token")
    assert vend(client, secret, user_connection)[1]["error"] == "refresh_failed"


def test_vending_stamps_last_used_on_connection_and_client(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    vend(client, secret, user_connection)
    client_id = int(secret.split("_")[1])
    assert last_used(app, Connection, user_connection) is not None
    assert last_used(app, ServiceClient, client_id) is not None


@pytest.fixture
def usage_every_call(app_settings: dict[str, object]) -> None:
    """Usage is written after every call, not once a minute."""
    app_settings["API_USAGE_INTERVAL"] = 0


@pytest.mark.usefixtures("usage_every_call")
def test_vends_are_audited_as_one_row_with_a_count(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    for _ in range(5):
        vend(client, secret, user_connection)
    rows = audit_rows(app, "connection.token_vended")
    assert [(r["target_id"], r["actor"], r["count"]) for r in rows] == [
        (user_connection, "service", 5)
    ]


def test_usage_is_written_at_most_once_per_interval(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    for _ in range(5):
        vend(client, secret, user_connection)
    assert [r["count"] for r in audit_rows(app, "connection.token_vended")] == [1]


def test_audit_rows_never_hold_the_token(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    token = vend(client, secret, user_connection)[1]["access_token"]
    assert str(token) not in repr(audit_rows(app, "connection.token_vended"))
    assert secret not in repr(audit_rows(app, "service_client.created"))


def test_token_is_served_while_another_process_holds_the_write_lock(
    app: Flask, client: FlaskClient, user_connection: int, database_url: str
) -> None:
    """Vending only reads, so on SQLite it begins deferred, and its usage count is written after
    the answer: a writer elsewhere (the sweep, an admin, another worker) never delays a token."""
    only_on(database_url, "sqlite", "the write lock is SQLite's; PostgreSQL readers never wait")
    secret = make_client(app, connections=(user_connection,))
    answers: list[int] = []

    def call() -> None:
        path = f"/api/v1/connections/{user_connection}/token"
        response = client.get(path, headers=bearer(secret))
        answers.append(response.status_code)
        response.close()  # the first use is due to be written: it waits for the lock

    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    caller = threading.Thread(target=call)
    try:
        writer.execute("BEGIN IMMEDIATE")
        caller.start()
        deadline = time.monotonic() + 10
        while not answers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert answers == [200], "the token endpoint waited for the write lock"
    finally:
        writer.rollback()
        writer.close()
        caller.join()
    assert last_used(app, Connection, user_connection) is not None  # written once released


def test_a_valid_secret_under_another_scheme_is_refused(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    path = f"/api/v1/connections/{user_connection}/token"
    response = client.get(path, headers={"Authorization": f"Token {secret}"})
    assert (response.status_code, response.get_json()["error"]) == (401, "invalid_token")


def test_head_answers_like_get_without_a_body(
    app: Flask, client: FlaskClient, user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    response = client.head(f"/api/v1/connections/{user_connection}/token", headers=bearer(secret))
    assert (response.status_code, response.get_data(), response.headers["Cache-Control"]) == (
        200, b"", "no-store",
    )  # fmt: skip
