"""Client-side POST limits as Factorial documents them, so we slow down before it says 429.

Counters live in the window the limiter is given (a `limits` strategy): per process by default,
shared across workers and hosts when the app gives it one over Redis. A window whose storage
fails (`limits` StorageError) is LimitUndecided, never any other error.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItem, RateLimitItemPerSecond, WindowStats
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.factorial.errors import RateLimited

# Factorial counts a POST when it arrives, we when we take its slot just before sending: one
# that travels slower than the next would still sit in Factorial's minute when ours has let
# the next one go. A second of margin absorbs that (and keeps 98 % of the limit).
WINDOW_SECONDS = 61
V1_POSTS = RateLimitItemPerSecond(100, WINDOW_SECONDS, namespace="factorial-post")
V2_POSTS = RateLimitItemPerSecond(200, WINDOW_SECONDS, namespace="factorial-post")
_VERSIONED = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MIN_SLEEP = 0.01

Classifier = Callable[[str, str], RateLimitItem | None]
# How long to ask a caller to wait when the limiter cannot tell whether a POST may go.
UNDECIDED_RETRY_AFTER = 5.0


class Window(Protocol):
    """What the limiter needs of a `limits` strategy (MovingWindowRateLimiter has it)."""

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


class LimitUndecided(Exception):
    """The counters could not be read or written: whether a POST may go is unknown. Nothing
    was sent; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float = UNDECIDED_RETRY_AFTER) -> None:
        super().__init__("The POST limit could not be checked")
        self.retry_after = retry_after


def limit_for(method: str, path: str) -> RateLimitItem | None:
    """POST on v1 → 100/min; on v2 or a dated version → 200/min (each counted over
    WINDOW_SECONDS); anything else is not limited."""
    if method.upper() != "POST":
        return None
    clean = path.lstrip("/")
    clean = clean.removeprefix("api/")
    family = clean.split("/", 1)[0].split("?", 1)[0]
    if family == "v1":
        return V1_POSTS
    if family == "v2" or _VERSIONED.match(family):
        return V2_POSTS
    return None


class PostLimiter:
    """Waits for or refuses a POST slot per credential; `classify` is swappable for tests."""

    def __init__(self, window: Window | None = None, *, classify: Classifier = limit_for) -> None:
        self._limiter = window or MovingWindowRateLimiter(MemoryStorage())
        self._classify = classify

    def acquire(self, credential_key: str, method: str, path: str, *, max_wait: float) -> None:
        """Take a slot; sleep while the wait fits in `max_wait`, else raise RateLimited
        (LimitUndecided when the window's storage fails)."""
        item = self._classify(method, path)
        if item is None:
            return
        try:
            self._acquire(item, _fingerprint(credential_key), max_wait)
        except StorageError:
            raise LimitUndecided() from None

    def _acquire(self, item: RateLimitItem, key: str, max_wait: float) -> None:
        deadline = time.monotonic() + max_wait
        while not self._limiter.hit(item, key):
            wait = self._seconds_until_slot(item, key)
            if time.monotonic() + wait > deadline:
                raise RateLimited(
                    "Factorial's POST limit for this credential is used up",
                    retry_after=wait,
                    status=None,
                )
            time.sleep(max(wait, _MIN_SLEEP))

    def _seconds_until_slot(self, item: RateLimitItem, key: str) -> float:
        reset_time = self._limiter.get_window_stats(item, key).reset_time
        return max(0.0, reset_time - time.time())


def _fingerprint(credential_key: str) -> str:
    """Storage keys (e.g. in Redis) must never hold a token, so only a digest is used."""
    return hashlib.sha256(credential_key.encode()).hexdigest()[:32]
