"""A Redis outage never turns a proxied POST into a 500: the POST limits count in this process
while the shared storage is unreachable (said once, never with its URI), shared again when it is
back, and a limiter that cannot decide at all answers 503 with Retry-After."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.factorial.ratelimit import PostLimiter
from app.infra.extensions import db
from app.models import ApiKey, utcnow
from app.refresh.policy import RefreshPolicy
from app.services import notify
from app.services.deps import Deps
from app.services.service_api import proxy
from app.wiring import wiring
from tests.factories import ADMIN, make_client
from tests.helpers import LEAVES, bearer
from tests.production.servers import Redis, binary, free_port
from tests.redis_support import in_ci

LEAVE = {"employee_id": 1002, "start_on": "2026-12-01", "finish_on": "2026-12-02"}
CANARY = "hunter2-canary"


def post_leaves(client: FlaskClient, key_id: int, secret: str, count: int) -> list[int]:
    path = f"/api/v1/api-keys/{key_id}/proxy/{LEAVES}"
    return [client.post(path, headers=bearer(secret), json=LEAVE).status_code for _ in range(count)]


def limiter_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.infra.throttle"]


@pytest.fixture
def redis_down(app_settings: dict[str, Any]) -> dict[str, Any]:
    """Redis configured, with a password, but nothing listens there."""
    url = f"redis://:{CANARY}@127.0.0.1:{free_port()}/0"
    app_settings["RATELIMIT_STORAGE_URI"] = url
    return app_settings


@pytest.fixture(autouse=True)
def two_posts_per_window(app_settings: dict[str, Any]) -> None:
    """A POST window small enough to fill in a test, set before the app is built."""
    app_settings["API_PROXY_POST_LIMITS"] = {"v2": "2 per 30 seconds"}


@pytest.fixture
def key_secret(app: Flask, api_key_id: int) -> str:
    return make_client(app, scopes=("proxy",), keys=(api_key_id,))


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_posts_go_through(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    assert post_leaves(client, api_key_id, key_secret, 2) == [201, 201]


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_posts_are_still_limited_in_this_process(
    client: FlaskClient, api_key_id: int, key_secret: str
) -> None:
    assert post_leaves(client, api_key_id, key_secret, 3)[-1] == 429


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_the_outage_is_logged_once_without_the_uri(
    client: FlaskClient, api_key_id: int, key_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    post_leaves(client, api_key_id, key_secret, 3)
    warnings = limiter_warnings(caplog)
    assert (len(warnings), "unreachable" in warnings[0]) == (1, True)
    assert CANARY not in caplog.text


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Redis]:
    """A redis-server of this test's own, so it can be stopped mid-test without touching the
    shared TEST_REDIS_URL server; skipped locally without the binary, failing in CI."""
    if binary("redis-server") is None:
        if in_ci():
            pytest.fail("CI=true but redis-server is not installed; .ci/run installs it")
        pytest.skip("redis-server is not installed")
    server = Redis(tmp_path, tmp_path / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture
def redis_app(own_redis: Redis, app_settings: dict[str, Any]) -> dict[str, Any]:
    app_settings["RATELIMIT_STORAGE_URI"] = own_redis.url
    return app_settings


@pytest.mark.usefixtures("redis_app")
def test_redis_stopped_mid_test_posts_still_go_through(
    client: FlaskClient, api_key_id: int, key_secret: str, own_redis: Redis
) -> None:
    before = post_leaves(client, api_key_id, key_secret, 1)
    own_redis.stop()
    assert before + post_leaves(client, api_key_id, key_secret, 1) == [201, 201]


@pytest.mark.usefixtures("redis_app")
def test_redis_back_shares_the_counters_again(
    client: FlaskClient, api_key_id: int, key_secret: str, own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    post_leaves(client, api_key_id, key_secret, 1)
    own_redis.stop()
    post_leaves(client, api_key_id, key_secret, 1)
    own_redis.start()
    caplog.set_level(logging.INFO)
    statuses = post_leaves(client, api_key_id, key_secret, 3)
    assert (statuses, len(limiter_warnings(caplog))) == ([201, 201, 429], 2)
    assert "reachable again" in limiter_warnings(caplog)[-1]


@pytest.fixture
def undecided(redis_down: dict[str, Any]) -> proxy.ProxyContext:
    """A POST limiter on unreachable shared storage with nothing to fall back on."""
    url = redis_down["RATELIMIT_STORAGE_URI"]
    window = MovingWindowRateLimiter(storage_from_string(url, wrap_exceptions=True))
    return proxy.ProxyContext(PostLimiter(window))


def test_a_limiter_that_cannot_decide_refuses_with_503_and_retry_after(
    app: Flask, api_key_id: int, undecided: proxy.ProxyContext
) -> None:
    request = proxy.ProxyRequest("POST", LEAVES, [], b"{}", [("Content-Type", "application/json")])
    context = Deps(
        wiring(app).deps.clients, utcnow, RefreshPolicy(),
        notify.Notifier(""),
    )  # fmt: skip
    with app.app_context(), pytest.raises(proxy.ProxyRefused) as refused:
        key = db.session.get_one(ApiKey, api_key_id)
        proxy.via_api_key(db.session, key, request, context, undecided, actor=ADMIN)
    assert (refused.value.status, refused.value.code) == (503, "rate_limit_unavailable")
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
