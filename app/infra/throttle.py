"""Rate-limit windows over the configured `limits` storage, with a window in this process's
memory that takes over while that storage cannot be reached: sign-in throttling and the
proxy's POST limits both count through one.

With Redis configured and down, every counted request would otherwise fail with an error (or,
if errors were ignored, not be limited at all). Counting per process meanwhile keeps every limit
in force, only up to one worker's share looser, and says so in the log once per outage.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from limits import RateLimitItem, WindowStats
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

# Seconds a request may wait for Redis before counting locally instead.
REDIS_TIMEOUT = 1.0


class SharedWindow:
    """`test`, `hit` and `get_window_stats` of a MovingWindowRateLimiter, with the fallback.
    `counting` names what is counted, for the log lines."""

    def __init__(self, storage_uri: str, *, counting: str) -> None:
        self._counting = counting
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if not storage_uri.startswith("memory://"):
            options: dict[str, Any] = {"wrap_exceptions": True}
            if storage_uri.startswith(("redis://", "rediss://", "redis+unix://")):
                options.update(socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
            self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri, **options))
        self._degraded = False
        self._lock = threading.Lock()

    def _run(self, method: str, *args: Any) -> Any:
        if self._shared is not None:
            try:
                result = getattr(self._shared, method)(*args)
            except StorageError as exc:
                self._note(failed=True, error=exc.storage_error)
            else:
                self._note(failed=False)
                return result
        return getattr(self._local, method)(*args)

    def _note(self, *, failed: bool, error: Exception | None = None) -> None:
        with self._lock:
            changed, self._degraded = self._degraded != failed, failed
        if changed and failed:
            # The exception's class only: its text may carry the storage URI and its password.
            log.warning(
                "rate-limit storage unreachable (%s): counting %s in this process until it is "
                "back", type(error).__name__, self._counting,
            )  # fmt: skip
        elif changed:
            log.warning("rate-limit storage reachable again: counting %s there", self._counting)

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._run("test", item, *identifiers))

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._run("hit", item, *identifiers))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        stats: WindowStats = self._run("get_window_stats", item, *identifiers)
        return stats


class SignInWindow(SharedWindow):
    """The window sign-in throttling counts failed sign-ins in."""

    def __init__(self, storage_uri: str) -> None:
        super().__init__(storage_uri, counting="failed sign-ins")
