"""Factorial's documented POST limits: 200/min on /api/v2 and versioned paths, 100/min on
/api/v1, per credential.

Sliding window (a log of the last minute's accepted POSTs per credential and bucket), so a
burst never slips through at a minute boundary and tests are not flaky. Rejected requests
are not logged. Time comes from the sandbox clock, so shifting the clock drains the window.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque

WINDOW = 60
LIMITS = {"v1": 100, "v2": 200}


def bucket_for(path: str) -> str | None:
    """Which limit applies to a POST on `path` (None: not limited)."""
    if path.startswith("/api/v1/"):
        return "v1"
    if path.startswith("/api/"):
        return "v2"
    return None


class SlidingWindowLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)

    def hit(self, bucket: str, credential: str, now: float) -> int | None:
        """Record one request; return None if allowed, else the Retry-After in seconds."""
        with self._lock:
            log = self._log[(bucket, credential)]
            while log and log[0] <= now - WINDOW:
                log.popleft()
            if len(log) >= LIMITS[bucket]:
                return max(1, math.ceil(log[0] + WINDOW - now))
            log.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
