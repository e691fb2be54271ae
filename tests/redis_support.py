"""Redis for tests: TEST_REDIS_URL names a throwaway server (flushed by the tests that use it).

Locally, tests that need Redis skip when TEST_REDIS_URL is unset. In CI (`CI=true`) a missing
URL or an unreachable server fails the test instead: CI must never pass by skipping.
"""

from __future__ import annotations

import os

import pytest
import redis


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_redis_url() -> str:
    """TEST_REDIS_URL after a PING; skip without it locally, fail without it (or a server) in CI."""
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not url:
        if in_ci():
            pytest.fail("CI=true but TEST_REDIS_URL is not set; .ci/run starts a Redis server")
        pytest.skip("TEST_REDIS_URL is not set (start a Redis server to run this test)")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"TEST_REDIS_URL is set but Redis does not answer: {type(exc).__name__}")
    return url


def flushed(url: str) -> redis.Redis:
    """A client on the test database, emptied so counters from earlier tests cannot leak in."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    client.flushdb()
    return client
