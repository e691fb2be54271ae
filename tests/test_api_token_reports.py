"""POST /connections/{id}/token/rejections: a consumer reports a 401 it saw with a vended token;
the report is checked at Factorial (at most once a minute per connection), never taken on trust."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.models import utcnow
from sandbox.testing import SandboxServer
from tests.factories import make_client
from tests.helpers import CREDENTIALS, bearer, credential_checks, revoke_access_token, set_columns
from tests.lifecycle import access_token, refresh_requests, status


@pytest.fixture
def aged(app: Flask, user_connection: int) -> int:
    """The user connection, its token issued two minutes ago."""
    set_columns(app, user_connection, obtained_at=utcnow() - timedelta(minutes=2))
    return user_connection


@pytest.fixture
def secret(app: Flask, user_connection: int) -> str:
    return make_client(app, scopes=("token:read",), connections=(user_connection,))


def report(client: FlaskClient, connection_id: int, secret: str, body: Any) -> TestResponse:
    path = f"/api/v1/connections/{connection_id}/token/rejections"
    return client.post(path, headers=bearer(secret), json=body)


def test_a_token_factorial_accepts_is_reported_back_as_accepted(
    app: Flask, client: FlaskClient, aged: int, secret: str
) -> None:
    response = report(client, aged, secret, {"access_token": access_token(app, aged)})
    assert (response.status_code, response.get_json()["result"]) == (200, "accepted")


def test_a_token_factorial_rejects_is_replaced_by_one_refresh(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str
) -> None:
    token = access_token(app, aged)
    revoke_access_token(sandbox, token)
    response = report(client, aged, secret, {"access_token": token})
    assert (response.get_json()["result"], refresh_requests(sandbox)) == ("replaced", 1)


def test_an_older_token_is_answered_replaced_without_asking_factorial(
    client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str
) -> None:
    sandbox.reset_counts()
    response = report(client, aged, secret, {"access_token": "a-token-from-last-week"})
    assert (response.get_json()["result"], credential_checks(sandbox)) == ("replaced", 0)


def test_a_second_report_within_the_minute_is_429_with_retry_after(
    app: Flask, client: FlaskClient, aged: int, secret: str
) -> None:
    body = {"access_token": access_token(app, aged)}
    report(client, aged, secret, body)
    response = report(client, aged, secret, body)
    assert (response.status_code, response.get_json()["error"]) == (429, "too_soon")
    assert 50 <= int(response.headers["Retry-After"]) <= 60


def test_reports_within_the_minute_ask_factorial_once(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str
) -> None:
    body = {"access_token": access_token(app, aged)}
    sandbox.reset_counts()
    for _ in range(5):
        report(client, aged, secret, body)
    assert credential_checks(sandbox) == 1


def test_a_report_about_a_revoked_grant_is_409_and_needs_reconnect(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str
) -> None:
    token = access_token(app, aged)
    sandbox.revoke_grant(token)
    response = report(client, aged, secret, {"access_token": token})
    assert (response.status_code, status(app, aged)) == (409, "needs_reconnect")


def test_factorial_unavailable_for_the_check_is_a_502(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str
) -> None:
    sandbox.fault(f"/api/{CREDENTIALS}", status=503)
    response = report(client, aged, secret, {"access_token": access_token(app, aged)})
    assert (response.status_code, response.get_json()["error"]) == (502, "upstream_unavailable")


@pytest.mark.parametrize(
    "body",
    [None, [], {}, {"access_token": ""}, {"access_token": 42}, {"access_token": "x" * 9000}],
    ids=["none", "list", "empty", "blank", "number", "too-long"],
)
def test_a_report_without_a_token_is_400(
    client: FlaskClient, aged: int, secret: str, body: Any
) -> None:
    response = report(client, aged, secret, body)
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_request")


def test_reporting_needs_the_token_read_scope(app: Flask, client: FlaskClient, aged: int) -> None:
    proxy_only = make_client(app, scopes=("proxy",), connections=(aged,))
    response = report(client, aged, proxy_only, {"access_token": access_token(app, aged)})
    assert (response.status_code, response.get_json()["error"]) == (403, "insufficient_scope")


def test_reporting_needs_a_grant_on_the_connection(
    app: Flask, client: FlaskClient, aged: int, api_key_id: int
) -> None:
    other = make_client(app, scopes=("token:read",), keys=(api_key_id,))
    response = report(client, aged, other, {"access_token": access_token(app, aged)})
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")


def test_the_reported_token_never_reaches_the_logs(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    token = access_token(app, aged)
    revoke_access_token(sandbox, token)
    caplog.set_level(logging.DEBUG)
    report(client, aged, secret, {"access_token": token})
    assert token not in caplog.text
