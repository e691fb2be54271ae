"""When tokens are due and how refreshing behaves, and the callables the protocol is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.factorial import FactorialClient

Clock = Callable[[], datetime]
ClientFactory = Callable[[str], FactorialClient]


@dataclass(frozen=True)
class RefreshPolicy:
    """When a token is due, how long a lease lasts, and how failures back off."""

    margin: timedelta = timedelta(minutes=10)
    keepalive_after: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=60)
    base_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    retry_after_cap: timedelta = timedelta(minutes=5)
    # After a 401 at use: how long a new token or a check stays beyond question, and so how
    # often each connection may be checked or force-refreshed (`rejections`).
    rejection_gap: timedelta = timedelta(minutes=1)
