"""The callback refuses anything that is not a genuine answer, before any token request."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app import create_app
from app.infra.extensions import db
from app.models import Connection
from sandbox.testing import SandboxServer
from tests.conftest import PASSWORD, AuthActions, make_account
from tests.flows import (
    ACME_ADMIN,
    ACME_EMPLOYEE,
    approve,
    connect_account,
    connection_id_from,
    count_connections,
    query_of,
    start_connect,
    token_requests,
    with_params,
)

pytestmark = pytest.mark.usefixtures("admin_id")


def genuine_callback(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> str:
    return approve(sandbox, start_connect(client, auth), ACME_ADMIN)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"state": None}, "missing_state"),
        ({"state": ""}, "missing_state"),
        ({"state": "forged-state-value-1234567890"}, "unknown_state"),
        ({"code": None}, "missing_code"),
        ({"code": ""}, "missing_code"),
        ({"error": "access_denied", "error_description": "The user denied it"}, "denied"),
        ({"state": "x" * 5000}, "missing_state"),
    ],
)
def test_bad_callback_is_refused_without_a_token_request(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    changes: dict[str, str | None],
    reason: str,
) -> None:
    response = client.get(with_params(genuine_callback(client, signed_in, sandbox), **changes))
    assert (response.status_code, reason in response.get_data(as_text=True)) == (400, True)
    assert (token_requests(sandbox), count_connections(app)) == (0, 0)


def test_denial_description_is_escaped(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = with_params(
        genuine_callback(client, signed_in, sandbox),
        error="access_denied",
        error_description="<script>alert(1)</script>",
    )
    body = client.get(callback).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_denied_at_factorial_is_refused(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    location = sandbox.approve(start_connect(client, signed_in), ACME_ADMIN, decision="deny")
    response = client.get(with_params(location))
    assert (response.status_code, token_requests(sandbox), count_connections(app)) == (400, 0, 0)


def test_replayed_callback_makes_no_second_token_request(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    client.get(callback)
    replay = client.get(callback)
    assert (replay.status_code, token_requests(sandbox), count_connections(app)) == (400, 1, 1)


def test_state_started_by_another_admin_is_refused(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    make_account(app, "other@example.com", "admin")
    other = app.test_client()
    AuthActions(other).login("other@example.com", PASSWORD)
    response = other.get(callback)
    assert (response.status_code, token_requests(sandbox), count_connections(app)) == (400, 0, 0)


def test_other_admins_attempt_leaves_the_state_usable_by_its_owner(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    make_account(app, "other@example.com", "admin")
    other = app.test_client()
    AuthActions(other).login("other@example.com", PASSWORD)
    other.get(callback)
    assert client.get(callback).status_code == 303


def test_signed_out_callback_is_refused_without_redirecting_the_code(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    response = app.test_client().get(callback)
    assert (response.status_code, "Location" in response.headers, token_requests(sandbox)) == (
        400,
        False,
        0,
    )


def test_double_submitted_callback_makes_exactly_one_token_request(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    cookie = client.get_cookie("fc_session")
    assert cookie is not None
    statuses: list[int] = []

    def submit() -> None:
        browser = app.test_client()
        browser.set_cookie("fc_session", cookie.value)
        statuses.append(browser.get(callback).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (sorted(statuses), token_requests(sandbox), count_connections(app)) == (
        [303, 400, 400, 400],
        1,
        1,
    )


def app_with(app_settings: dict[str, Any], **extra: str) -> tuple[Flask, FlaskClient]:
    other = create_app({**app_settings, **extra})
    with other.app_context():
        from flask_migrate import upgrade

        upgrade()
    make_account(other, "ada@example.com", "admin")
    browser = other.test_client()
    AuthActions(browser).login()
    return other, browser


@pytest.fixture
def fresh_app_settings(app_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Settings for a second app in this test (its own database)."""
    return {**app_settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'second.sqlite3'}"}


def test_wrong_client_secret_is_a_clear_error(
    fresh_app_settings: dict[str, Any], sandbox: SandboxServer
) -> None:
    other, browser = app_with(fresh_app_settings, FACTORIAL_DEMO_CLIENT_SECRET="wrong-secret")
    response = connect_account(browser, AuthActions(browser), sandbox)
    body = response.get_data(as_text=True)
    assert (response.status_code, "client id or secret" in body, count_connections(other)) == (
        502,
        True,
        0,
    )


def test_factorial_5xx_is_a_clear_error(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    sandbox.fault("/oauth/token", mode="fail", status=503, html=True)
    response = client.get(callback)
    assert (response.status_code, "did not answer" in response.get_data(as_text=True)) == (
        502,
        True,
    )


def test_factorial_timeout_is_a_clear_error(
    fresh_app_settings: dict[str, Any], sandbox: SandboxServer
) -> None:
    other, browser = app_with(fresh_app_settings, FACTORIAL_READ_TIMEOUT="0.3")
    callback = approve(sandbox, start_connect(browser, AuthActions(browser)), ACME_ADMIN)
    sandbox.fault("/oauth/token", mode="delay", delay=1.0)
    response = browser.get(callback)
    assert (response.status_code, count_connections(other)) == (502, 0)


def test_failed_exchange_is_audited(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = genuine_callback(client, signed_in, sandbox)
    sandbox.fault("/oauth/token", mode="fail", status=503)
    client.get(callback)
    with app.app_context():
        from app.models import AuditEvent

        query = db.session.query(AuditEvent).filter(
            AuditEvent.target_type != "admin", AuditEvent.action.like("connection.%")
        )
        actions = [e.action for e in query]
    assert actions == ["connection.connect_failed"]


def test_pkce_off_sends_no_challenge(
    fresh_app_settings: dict[str, Any], sandbox: SandboxServer
) -> None:
    _, browser = app_with(fresh_app_settings, FACTORIAL_DEMO_PKCE="false")
    assert "code_challenge" not in query_of(start_connect(browser, AuthActions(browser)))


def test_pkce_off_still_connects(
    fresh_app_settings: dict[str, Any], sandbox: SandboxServer
) -> None:
    other, browser = app_with(fresh_app_settings, FACTORIAL_DEMO_PKCE="false")
    connect_account(browser, AuthActions(browser), sandbox)
    assert count_connections(other) == 1


def stored_secrets(app: Flask, connection_id: int) -> list[str]:
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        assert connection is not None
        tokens = (connection.access_token, connection.refresh_token)
        return [token.reveal() for token in tokens if token is not None]


@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="reads the SQLite files; see the column test"
)
def test_no_plaintext_token_in_the_database_files(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, tmp_path: Path
) -> None:
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    secrets = stored_secrets(app, connection_id_from(response))
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("test.sqlite3*"))
    assert raw and not any(secret.encode() in raw for secret in secrets)


def test_no_token_code_or_state_in_debug_logs(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        callback = genuine_callback(client, signed_in, sandbox)
        connection_id = connection_id_from(client.get(callback))
        client.get(callback)
    params = query_of(callback)
    leaked = [params["code"][0], params["state"][0], *stored_secrets(app, connection_id)]
    assert not any(value in caplog.text for value in leaked)


callback_params = st.dictionaries(
    st.sampled_from(["state", "code", "error", "error_description", "scope", "junk"]),
    st.text(max_size=300),
    max_size=5,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=callback_params)
def test_fuzzed_callbacks_never_fail_or_reach_factorial(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, params: dict[str, str]
) -> None:
    response = client.get("/oauth/callback", query_string=params)
    assert (response.status_code < 500, token_requests(sandbox)) == (True, 0)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.text(min_size=1, max_size=100).filter(str.strip))
def test_fuzzed_codes_with_a_genuine_state_fail_cleanly(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, code: str
) -> None:
    callback = with_params(genuine_callback(client, signed_in, sandbox), code=code)
    assert client.get(callback).status_code in (400, 502)


def test_user_flow_after_a_failed_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    client.get(with_params(genuine_callback(client, signed_in, sandbox), code=None))
    connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    assert count_connections(app) == 1


def test_token_columns_hold_ciphertext_on_any_database(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = connect_account(client, signed_in, sandbox, "user", ACME_EMPLOYEE)
    connection_id = connection_id_from(response)
    secrets = stored_secrets(app, connection_id)
    with app.app_context():
        raw = db.session.execute(
            text("SELECT access_token, refresh_token FROM connections WHERE id = :id"),
            {"id": connection_id},
        ).one()
    assert not any(secret in value for secret in secrets for value in raw)
