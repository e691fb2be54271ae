"""Client-side POST limits keep Factorial from ever answering 429, shared through Redis."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests import helpers
from tests.factories import make_client
from tests.helpers import LEAVES, bearer
from tests.redis_support import flushed, require_redis_url

LEAVE = {"employee_id": 1002, "start_on": "2026-12-01", "finish_on": "2026-12-02"}


def post_leaves(client: FlaskClient, key_id: int, secret: str, count: int) -> list[Any]:
    path = f"/api/v1/api-keys/{key_id}/proxy/{LEAVES}"
    return [client.post(path, headers=bearer(secret), json=LEAVE) for _ in range(count)]


def refusals(responses: list[Any]) -> set[str]:
    """The error codes of the responses refused with 429."""
    return {r.get_json()["error"] for r in responses if r.status_code == 429}


def test_250_posts_never_draw_a_429_from_factorial(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, api_key_id: int
) -> None:
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    responses = post_leaves(client, api_key_id, secret, 250)
    refused = refusals(responses)
    assert Counter(r.status_code for r in responses) == {201: 200, 429: 50}
    assert (refused, sandbox.counts()["requests"][f"/api/{LEAVES}"]) == ({"rate_limited"}, 200)


@pytest.fixture
def post_limits(request: pytest.FixtureRequest, app_settings: dict[str, Any]) -> None:
    """Smaller POST windows than Factorial's, set before the app is built."""
    app_settings["API_PROXY_POST_LIMITS"] = request.param


@pytest.mark.parametrize("post_limits", [{"v2": "1 per 30 seconds"}], indirect=True)
@pytest.mark.usefixtures("post_limits")
def test_refusal_says_when_to_retry(app: Flask, client: FlaskClient, api_key_id: int) -> None:
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    last = post_leaves(client, api_key_id, secret, 2)[-1]
    assert (last.status_code, 20 <= int(last.headers["Retry-After"]) <= 30) == (429, True)


@pytest.mark.parametrize("post_limits", [{"v2": "3 per 1 second"}], indirect=True)
@pytest.mark.usefixtures("post_limits")
def test_a_short_wait_is_queued_not_refused(
    app: Flask, client: FlaskClient, api_key_id: int
) -> None:
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    assert [r.status_code for r in post_leaves(client, api_key_id, secret, 7)] == [201] * 7


@pytest.mark.parametrize("post_limits", [{"v2": "1 per 30 seconds"}], indirect=True)
@pytest.mark.usefixtures("post_limits")
def test_gets_are_not_limited(app: Flask, client: FlaskClient, api_key_id: int) -> None:
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    path = f"/api/v1/api-keys/{api_key_id}/proxy/{helpers.CREDENTIALS}"
    assert {client.get(path, headers=bearer(secret)).status_code for _ in range(5)} == {200}


@pytest.fixture
def redis_limits(app_settings: dict[str, Any]) -> str:
    url = require_redis_url()
    flushed(url)
    app_settings["RATELIMIT_STORAGE_URI"] = url
    return url


def test_two_hosts_share_one_budget_through_redis(
    redis_limits: str,
    app: Flask,
    app_settings: dict[str, Any],
    sandbox: SandboxServer,
    api_key_id: int,
) -> None:
    keys = ",".join(wiring(app).settings.token_encryption_keys)
    other = create_app({**app_settings, "TOKEN_ENCRYPTION_KEYS": keys})
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    clients = [app.test_client(), other.test_client()]
    responses = [
        r for _ in range(125) for c in clients for r in post_leaves(c, api_key_id, secret, 1)
    ]
    assert Counter(r.status_code for r in responses) == {201: 200, 429: 50}
    assert sandbox.counts()["requests"][f"/api/{LEAVES}"] == 200
