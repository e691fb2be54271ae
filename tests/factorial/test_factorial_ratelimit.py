"""Client-side POST limits: classification, then allow, wait or refuse."""

from __future__ import annotations

import time

import pytest
from limits import RateLimitItem, RateLimitItemPerSecond

from app.factorial import PostLimiter, RateLimited, limit_for

TWO_PER_SECOND = RateLimitItemPerSecond(2, namespace="test-posts")


def _two_per_second(method: str, path: str) -> RateLimitItem | None:
    return TWO_PER_SECOND


@pytest.mark.parametrize(
    ("method", "path", "amount"),
    [
        ("POST", "v1/core/keys", 100),
        ("post", "/api/v1/employees", 100),
        ("POST", "v2/resources/employees", 200),
        ("POST", "2026-10-01/resources/time_off/leaves", 200),
        ("POST", "/api/2025-07-01/resources/x?a=1", 200),
    ],
)
def test_posts_are_limited_per_api_family(method: str, path: str, amount: int) -> None:
    item = limit_for(method, path)
    assert item is not None
    assert (item.amount, item.get_expiry()) == (amount, 61)  # a minute and a second of margin


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "v1/core/keys"), ("DELETE", "v2/x"), ("PUT", "2026-10-01/y"), ("POST", "oauth/token")],
)
def test_other_calls_are_not_limited(method: str, path: str) -> None:
    assert limit_for(method, path) is None


def test_calls_within_the_limit_return_at_once() -> None:
    limiter = PostLimiter(classify=_two_per_second)
    started = time.monotonic()
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    assert time.monotonic() - started < 0.5


def test_over_the_limit_without_time_to_wait_raises_with_retry_after() -> None:
    limiter = PostLimiter(classify=_two_per_second)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 1.0


def test_over_the_limit_waits_when_allowed() -> None:
    limiter = PostLimiter(classify=_two_per_second)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    started = time.monotonic()
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=2.0)
    assert 0.5 < time.monotonic() - started < 2.0


def test_credentials_have_separate_budgets() -> None:
    limiter = PostLimiter(classify=_two_per_second)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    limiter.acquire("conn-1", "POST", "v2/x", max_wait=0)
    limiter.acquire("conn-2", "POST", "v2/x", max_wait=0)


def test_real_limits_let_one_hundred_v1_posts_through_then_refuse() -> None:
    limiter = PostLimiter()
    for _ in range(100):
        limiter.acquire("conn-1", "POST", "v1/core/keys", max_wait=0)
    with pytest.raises(RateLimited):
        limiter.acquire("conn-1", "POST", "v1/core/keys", max_wait=0)


def test_reads_are_never_held_back() -> None:
    limiter = PostLimiter()
    for _ in range(300):
        limiter.acquire("conn-1", "GET", "v1/core/keys", max_wait=0)
