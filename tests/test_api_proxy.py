"""The proxy: Factorial calls made with a stored credential, over real HTTP to the sandbox."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import ApiKey
from sandbox.testing import SandboxServer
from tests.factories import make_client
from tests.helpers import CREDENTIALS, EMPLOYEES, LEAVES, audit_rows, bearer, last_used

LEAVE = {"employee_id": 1002, "start_on": "2026-12-01", "finish_on": "2026-12-02"}


@pytest.fixture
def conn_secret(app: Flask, user_connection: int) -> str:
    return make_client(app, scopes=("proxy",), connections=(user_connection,))


@pytest.fixture
def key_secret(app: Flask, api_key_id: int) -> str:
    return make_client(app, scopes=("proxy",), keys=(api_key_id,))


def via_connection(connection_id: int, path: str) -> str:
    return f"/api/v1/connections/{connection_id}/proxy/{path}"


def via_key(key_id: int, path: str) -> str:
    return f"/api/v1/api-keys/{key_id}/proxy/{path}"


def test_get_through_a_connection_acts_as_its_employee(
    client: FlaskClient, user_connection: int, conn_secret: str
) -> None:
    response = client.get(via_connection(user_connection, CREDENTIALS), headers=bearer(conn_secret))
    assert (response.status_code, response.get_json()["data"][0]["employee_id"]) == (200, 1002)


def test_get_passes_the_query_string(
    client: FlaskClient, user_connection: int, conn_secret: str
) -> None:
    path = via_connection(user_connection, f"{EMPLOYEES}?limit=2")
    body = client.get(path, headers=bearer(conn_secret)).get_json()
    assert (len(body["data"]), body["meta"]["limit"]) == (2, 2)


def test_post_through_a_connection_passes_the_body(
    client: FlaskClient, user_connection: int, conn_secret: str
) -> None:
    response = client.post(
        via_connection(user_connection, LEAVES), headers=bearer(conn_secret), json=LEAVE
    )
    assert (response.status_code, response.get_json()["start_on"]) == (201, "2026-12-01")


def test_get_through_an_api_key_acts_as_the_company(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret))
    assert response.get_json()["data"][0]["id"].startswith("api_key_")


def test_post_through_an_api_key(client: FlaskClient, api_key_id: int, key_secret: str) -> None:
    response = client.post(via_key(api_key_id, LEAVES), headers=bearer(key_secret), json=LEAVE)
    assert (response.status_code, response.get_json()["company_id"]) == (201, 1)


def test_factorial_status_and_body_pass_through(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    response = client.get(via_key(api_key_id, "2026-10-01/nowhere"), headers=bearer(key_secret))
    assert (response.status_code, response.headers["X-Upstream"]) == (404, "factorial")


def test_hop_by_hop_and_caller_credentials_are_not_forwarded(
    client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    headers = {**bearer(key_secret), "Cookie": "fc_session=x", "X-Secret-Hop": "1",
               "Connection": "X-Secret-Hop", "Proxy-Authorization": "Basic eA=="}  # fmt: skip
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=headers)
    log = sandbox.log_path.read_text()
    assert response.status_code == 200
    assert [word in log for word in (key_secret, "X-Secret-Hop", "fc_session")] == [False] * 3


def test_response_hop_by_hop_headers_are_dropped(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret))
    dropped = {"transfer-encoding", "connection", "keep-alive", "set-cookie"}
    assert dropped.isdisjoint(name.lower() for name, _ in response.headers.items())
    assert response.headers["Content-Length"] == str(len(response.get_data()))


def test_path_escaping_the_api_is_refused(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    response = client.get(
        via_key(api_key_id, "v2/%2E%2E/%2E%2E/oauth/token"), headers=bearer(key_secret)
    )
    assert response.status_code == 400


def test_factorial_429_is_answered_with_its_retry_after(
    client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    sandbox.fault(f"/api/{LEAVES}", status=429, retry_after=42)
    response = client.post(via_key(api_key_id, LEAVES), headers=bearer(key_secret), json=LEAVE)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "42")


def test_factorial_retry_after_is_capped(
    client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    sandbox.fault(f"/api/{LEAVES}", status=429, retry_after=86400)
    response = client.post(via_key(api_key_id, LEAVES), headers=bearer(key_secret), json=LEAVE)
    assert response.headers["Retry-After"] == "300"


def test_factorial_5xx_passes_through(
    client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    sandbox.fault(f"/api/{CREDENTIALS}", status=503)
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret))
    assert response.status_code == 503


@pytest.fixture
def usage_every_call(app_settings: dict[str, object]) -> None:
    """Usage is written after every call, not once a minute."""
    app_settings["API_USAGE_INTERVAL"] = 0


@pytest.mark.usefixtures("usage_every_call")
def test_proxy_use_is_audited_per_credential(
    app: Flask, client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    for _ in range(3):
        # A server closes each response after sending it: that is when usage is written.
        client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret)).close()
    rows = audit_rows(app, "api_key.proxied")
    assert [(r["target_id"], r["count"]) for r in rows] == [(api_key_id, 3)]
    assert last_used(app, ApiKey, api_key_id) is not None


def test_proxy_answer_is_json_when_factorial_says_so(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret))
    assert json.loads(response.get_data())["data"][0]["company_id"] == 1


@pytest.fixture
def impatient(app_settings: dict[str, object]) -> None:
    app_settings["FACTORIAL_READ_TIMEOUT"] = "0.5"


def test_factorial_too_slow_is_a_504(
    impatient: None, client: FlaskClient, sandbox: SandboxServer, api_key_id: int, key_secret: str
) -> None:
    sandbox.fault(f"/api/{CREDENTIALS}", mode="delay", delay=2.0)
    response = client.get(via_key(api_key_id, CREDENTIALS), headers=bearer(key_secret))
    assert (response.status_code, response.get_json()["error"]) == (504, "upstream_timeout")
