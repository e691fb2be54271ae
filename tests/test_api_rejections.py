"""A 401 through the proxy: no caller can rotate a shared token at will, and a credential
Factorial really rejects is found at once (Needs reconnect / Rejected, announced once, 409)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.infra.extensions import db
from app.models import ApiKey, utcnow
from app.refresh import rejections
from app.refresh.policy import RefreshPolicy
from app.services.deps import Deps
from app.services.notify import Notifier
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.api_key_flows import seeded_key
from tests.conftest import AuthActions
from tests.factories import ADMIN, make_client
from tests.flows import connect_account, connection_id_from
from tests.helpers import (
    CREDENTIALS,
    EMPLOYEES,
    bearer,
    credential_checks,
    revoke_access_token,
    set_columns,
)
from tests.lifecycle import (
    HOOK_URL,
    access_token,
    count_notifications,
    refresh_requests,
    status,
)

KEYS_ONLY = "v1/core/keys"  # Factorial answers 401 to any bearer token there


def via_connection(connection_id: int, path: str = CREDENTIALS) -> str:
    return f"/api/v1/connections/{connection_id}/proxy/{path}"


def via_key(key_id: int, path: str = CREDENTIALS) -> str:
    return f"/api/v1/api-keys/{key_id}/proxy/{path}"


def minutes_ago(minutes: float) -> datetime:
    return utcnow() - timedelta(minutes=minutes)


def get_later(client: FlaskClient, path: str, secret: str, times: int = 1) -> TestResponse:
    """`times` GETs two minutes on, when whatever was issued, checked or verified at setup is
    no longer fresh; the last answer."""
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=True):
        responses = [client.get(path, headers=bearer(secret)) for _ in range(times)]
    return responses[-1]


@pytest.fixture
def webhooks(app_settings: dict[str, Any]) -> None:
    """Webhooks on, to a port nothing listens on: announcements stay in the outbox, counted."""
    app_settings.update(NOTIFY_WEBHOOK_URL=HOOK_URL, NOTIFY_WEBHOOK_SECRET="w" * 32)


@pytest.fixture
def conn_secret(app: Flask, user_connection: int) -> str:
    return make_client(app, connections=(user_connection,))


@pytest.fixture
def aged(app: Flask, user_connection: int) -> int:
    """The user connection, its token issued two minutes ago."""
    set_columns(app, user_connection, obtained_at=minutes_ago(2))
    return user_connection


# --- a 401 about the call, not the token -------------------------------------------------


def test_a_401_for_the_path_is_passed_back_as_it_came(
    client: FlaskClient, aged: int, conn_secret: str
) -> None:
    response = client.get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    answer = (response.status_code, response.headers["X-Upstream"], response.get_json()["error"])
    assert answer == (401, "factorial", "invalid_token")


def test_401s_for_the_path_never_rotate_the_token(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    before = access_token(app, aged)
    for _ in range(5):
        client.get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    assert (refresh_requests(sandbox), access_token(app, aged)) == (0, before)


def test_401s_for_the_path_check_the_token_once_a_minute(
    client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    sandbox.reset_counts()
    for _ in range(5):
        client.get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    assert credential_checks(sandbox) == 1


def test_a_minute_later_a_401_is_checked_again(
    client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    client.get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    sandbox.reset_counts()
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=True):
        client.get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    assert credential_checks(sandbox) == 1


def test_the_check_once_a_minute_holds_across_processes(
    app: Flask, app_settings: dict[str, Any], sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    keys = ",".join(wiring(app).settings.token_encryption_keys)
    other = create_app({**app_settings, "TOKEN_ENCRYPTION_KEYS": keys})
    sandbox.reset_counts()
    for web in (app, other, app, other):
        web.test_client().get(via_connection(aged, KEYS_ONLY), headers=bearer(conn_secret))
    assert (credential_checks(sandbox), refresh_requests(sandbox)) == (1, 0)


# --- a token Factorial really rejects ----------------------------------------------------


def test_a_rejected_token_is_refreshed_once_and_the_call_retried(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    revoke_access_token(sandbox, access_token(app, aged))
    sandbox.reset_counts()
    response = client.get(via_connection(aged), headers=bearer(conn_secret))
    assert (response.status_code, refresh_requests(sandbox)) == (200, 1)


def test_a_401_to_the_retry_is_passed_back_as_it_came(
    client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    sandbox.fault(f"/api/{CREDENTIALS}", status=401, count=3, body={"error": "invalid_token"})
    response = client.get(via_connection(aged), headers=bearer(conn_secret))
    answer = (response.status_code, response.headers["X-Upstream"], refresh_requests(sandbox))
    assert answer == (401, "factorial", 1)


@pytest.mark.parametrize(
    ("column", "minutes"),
    [
        pytest.param("obtained_at", -0.5, id="issued-within-the-minute"),
        pytest.param("last_refresh_at", -0.5, id="refreshed-within-the-minute"),
        pytest.param("next_retry_at", 5, id="backing-off"),
        pytest.param("last_health_check_at", -0.5, id="checked-within-the-minute"),
    ],
)
def test_no_forced_refresh_when_the_rules_forbid_it(
    app: Flask,
    client: FlaskClient,
    sandbox: SandboxServer,
    aged: int,
    conn_secret: str,
    column: str,
    minutes: float,
) -> None:
    set_columns(app, aged, **{column: utcnow() + timedelta(minutes=minutes)})
    revoke_access_token(sandbox, access_token(app, aged))
    sandbox.reset_counts()
    response = client.get(via_connection(aged), headers=bearer(conn_secret))
    assert (response.status_code, refresh_requests(sandbox)) == (401, 0)


def test_a_token_refreshed_by_one_process_is_not_refreshed_again_by_another(
    app: Flask, app_settings: dict[str, Any], sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    keys = ",".join(wiring(app).settings.token_encryption_keys)
    other = create_app({**app_settings, "TOKEN_ENCRYPTION_KEYS": keys})
    revoke_access_token(sandbox, access_token(app, aged))
    app.test_client().get(via_connection(aged), headers=bearer(conn_secret))
    revoke_access_token(sandbox, access_token(app, aged))
    sandbox.reset_counts()
    response = other.test_client().get(via_connection(aged), headers=bearer(conn_secret))
    assert (response.status_code, refresh_requests(sandbox)) == (401, 0)


def test_concurrent_401s_refresh_once_and_all_retry(
    app: Flask, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    revoke_access_token(sandbox, access_token(app, aged))
    sandbox.reset_counts()
    statuses: list[int] = []

    def call() -> None:
        response = app.test_client().get(via_connection(aged), headers=bearer(conn_secret))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (statuses, refresh_requests(sandbox)) == ([200] * 6, 1)


def test_a_401_to_a_token_no_longer_stored_retries_with_the_stored_one(
    app: Flask, sandbox: SandboxServer, aged: int
) -> None:
    context = Deps(wiring(app).deps.clients, utcnow, RefreshPolicy(), Notifier())
    sandbox.reset_counts()
    with app.app_context():
        retry = rejections.after_401(db.session, aged, "an-older-token", context, actor=ADMIN)
    assert retry is not None and retry.access_token == access_token(app, aged)
    assert (credential_checks(sandbox), refresh_requests(sandbox)) == (0, 0)


def test_a_revoked_grant_needs_reconnect_at_its_first_401(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, aged: int, conn_secret: str
) -> None:
    sandbox.revoke_grant(access_token(app, aged))
    response = client.get(via_connection(aged), headers=bearer(conn_secret))
    assert (response.status_code, response.get_json()["error"]) == (409, "needs_reconnect")


# --- company tokens: no refresh token, so a confirmed rejection means reconnect -----------


@pytest.fixture
def company_connection(client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer) -> int:
    return connection_id_from(connect_account(client, signed_in, sandbox, "company"))


@pytest.fixture
def company_secret(app: Flask, company_connection: int) -> str:
    return make_client(app, connections=(company_connection,))


@pytest.fixture
def revoked_company(app: Flask, sandbox: SandboxServer, company_connection: int) -> int:
    sandbox.revoke_grant(access_token(app, company_connection))
    return company_connection


def test_a_revoked_company_token_is_refused_with_409_at_its_first_401(
    client: FlaskClient, revoked_company: int, company_secret: str
) -> None:
    response = get_later(client, via_connection(revoked_company), company_secret)
    assert (response.status_code, response.get_json()["error"]) == (409, "needs_reconnect")


def test_a_revoked_company_token_shows_needs_reconnect(
    app: Flask, client: FlaskClient, revoked_company: int, company_secret: str
) -> None:
    get_later(client, via_connection(revoked_company), company_secret)
    assert status(app, revoked_company) == "needs_reconnect"


@pytest.mark.usefixtures("webhooks")
def test_a_revoked_company_token_is_announced_once(
    app: Flask, client: FlaskClient, revoked_company: int, company_secret: str
) -> None:
    get_later(client, via_connection(revoked_company), company_secret, times=3)
    assert count_notifications(app, "connection.needs_reconnect") == 1


def test_after_a_confirmed_rejection_the_token_endpoint_answers_409(
    client: FlaskClient, revoked_company: int, company_secret: str
) -> None:
    get_later(client, via_connection(revoked_company), company_secret)
    response = get_later(client, f"/api/v1/connections/{revoked_company}/token", company_secret)
    body = response.get_json()
    assert (response.status_code, body["error"], body["cause"]) == (
        409, "needs_reconnect", "revoked"
    )  # fmt: skip


def test_a_company_token_factorial_accepts_stays_healthy_after_a_401_for_the_path(
    app: Flask, client: FlaskClient, company_connection: int, company_secret: str
) -> None:
    get_later(client, via_connection(company_connection, KEYS_ONLY), company_secret)
    assert status(app, company_connection) == "does_not_expire"


def test_a_company_token_just_connected_is_not_checked_again_within_the_minute(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, revoked_company: int,
    company_secret: str,
) -> None:  # fmt: skip
    sandbox.reset_counts()
    path = via_connection(revoked_company, EMPLOYEES)
    response = client.get(path, headers=bearer(company_secret))
    assert (response.status_code, credential_checks(sandbox)) == (401, 0)


# --- API keys ------------------------------------------------------------------------------


@pytest.fixture
def key_secret(app: Flask, api_key_id: int) -> str:
    return make_client(app, scopes=("proxy",), keys=(api_key_id,))


@pytest.fixture
def deleted_key(sandbox: SandboxServer, api_key_id: int) -> int:
    """The stored key, deleted in Factorial."""
    seeded = seeded_key(sandbox)
    requests.delete(
        f"{sandbox.url}/api/v1/core/keys/{seeded['id']}",
        headers={"x-api-key": seeded["token"]},
        timeout=5,
    ).raise_for_status()
    return api_key_id


def key_status(app: Flask, key_id: int) -> str:
    with app.app_context():
        return db.session.get_one(ApiKey, key_id).last_verified_result


def test_a_deleted_key_is_refused_with_409_at_its_first_401(
    client: FlaskClient, deleted_key: int, key_secret: str
) -> None:
    response = get_later(client, via_key(deleted_key), key_secret)
    assert (response.status_code, response.get_json()["error"]) == (409, "rejected")


@pytest.mark.usefixtures("webhooks")
def test_a_deleted_key_shows_rejected_and_is_announced_once(
    app: Flask, client: FlaskClient, deleted_key: int, key_secret: str
) -> None:
    get_later(client, via_key(deleted_key), key_secret, times=3)
    assert (key_status(app, deleted_key), count_notifications(app, "api_key.rejected")) == (
        "rejected", 1
    )  # fmt: skip


def test_a_rejected_key_is_not_sent_to_factorial_again(
    client: FlaskClient, sandbox: SandboxServer, deleted_key: int, key_secret: str
) -> None:
    get_later(client, via_key(deleted_key), key_secret)
    sandbox.reset_counts()
    response = get_later(client, via_key(deleted_key), key_secret)
    assert (response.status_code, sandbox.counts()["requests"]) == (409, {})


def test_a_401_for_the_call_leaves_a_working_key_verified(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    sandbox.fault(f"/api/{CREDENTIALS}", status=401, body={"error": "invalid_token"})
    response = get_later(client, via_key(api_key_id), key_secret)
    assert (response.status_code, key_status(app, api_key_id)) == (401, "ok")


def test_a_key_verified_within_the_minute_is_not_checked_again(
    client: FlaskClient, sandbox: SandboxServer, deleted_key: int, key_secret: str
) -> None:
    sandbox.reset_counts()
    response = client.get(via_key(deleted_key, EMPLOYEES), headers=bearer(key_secret))
    assert (response.status_code, credential_checks(sandbox)) == (401, 0)
