"""What the protocol decides on: pure rules about a connection row at a given `now`, and the
outcome every refresh ends with. No database, no Factorial."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.models import Connection
from app.refresh.policy import RefreshPolicy


@dataclass(frozen=True)
class RefreshOutcome:
    """What happened: fresh | refreshed | sibling | busy | backoff | needs_reconnect |
    transient | not_refreshable."""

    result: str
    connection_id: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.result in ("fresh", "refreshed", "sibling")


def digest(token: str) -> str:
    """A short, one-way name for a refresh token: enough to tell two apart, useless to steal."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def is_due(connection: Connection, now: datetime, policy: RefreshPolicy) -> bool:
    """Due when the access token expires within the margin or the refresh token ages out."""
    if connection.refresh_token is None:
        return False
    if connection.expires_at is not None and connection.expires_at - now <= policy.margin:
        return True
    issued = connection.refresh_token_issued_at
    return issued is not None and now - issued >= policy.keepalive_after


def usable(connection: Connection, now: datetime) -> bool:
    """The stored access token can be handed out: readable, healthy, not expired."""
    token = connection.access_token
    return (
        token is not None
        and token.readable
        and not connection.needs_reconnect_cause
        and connection.revoked_at is None
        and connection.revoke_requested_at is None
        and (connection.expires_at is None or connection.expires_at > now)
    )


def refreshable(connection: Connection) -> bool:
    return (
        connection.refresh_token is not None
        and connection.refresh_token.readable
        and not connection.needs_reconnect_cause
        and connection.revoked_at is None
        and connection.revoke_requested_at is None
    )


def leased(connection: Connection, now: datetime) -> bool:
    """Another holder (or we) has the connection's lease at `now`."""
    return connection.lease_expires_at is not None and connection.lease_expires_at > now


def backoff_delay(failures: int, policy: RefreshPolicy, retry_after: float | None) -> timedelta:
    """Honour Retry-After (capped); else exponential with full jitter, capped."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), policy.retry_after_cap)
    ceiling = min(policy.base_backoff * (2 ** max(failures - 1, 0)), policy.max_backoff)
    jittered: timedelta = ceiling * (0.5 + random.random() / 2)
    return jittered
