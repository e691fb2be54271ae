"""The server-side half of an OAuth round trip (Connect Factorial, identity-provider sign-in).

A pending row is keyed by the sha256 of `state` (at least 128 random bits), holds the PKCE
verifier encrypted, lives 10 minutes and is used once: claiming it is a compare-and-set on
`used_at`, so two answers carrying the same state get one success. Every refusal happens before
any token request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select, update

from app.infra.crypto import Secret
from app.models import PendingAuthorization, PendingSignIn
from app.services import DbSession

LIFETIME = timedelta(minutes=10)
STATE_LIMIT = 512  # longer is no state of ours: refused without a query
MIN_STATE = 22  # characters of URL-safe base64: 128 bits

Pending = TypeVar("Pending", PendingAuthorization, PendingSignIn)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def record(
    session: DbSession,
    model: type[Pending],
    state: str,
    now: datetime,
    *,
    verifier: str | None,
    **fields: Any,
) -> None:
    """Store a pending row for `state` (expired ones are dropped) and commit."""
    if len(state) < MIN_STATE:
        raise ValueError("a state carries at least 128 random bits")
    session.execute(delete(model).where(model.expires_at < now))
    session.add(
        model(
            state_hash=digest(state),
            code_verifier=Secret(verifier) if verifier else None,
            created_at=now,
            expires_at=now + LIFETIME,
            **fields,
        )
    )
    session.commit()


def claim(
    session: DbSession,
    model: type[Pending],
    state: str,
    now: datetime,
    *,
    other_owner: Callable[[Pending], str | None],
    refuse: Callable[[str], Exception],
) -> Pending:
    """The row this answer's `state` names, marked used (committed). Otherwise raises
    `refuse(reason)`: missing_state, unknown_state, what `other_owner(row)` names when the row
    belongs to another admin or browser, reused_state, expired_state."""
    if not state or len(state) > STATE_LIMIT:
        raise refuse("missing_state")
    found: Pending | None = session.scalar(select(model).where(model.state_hash == digest(state)))
    if found is None:
        raise refuse("unknown_state")
    mismatch = other_owner(found)
    if mismatch:
        raise refuse(mismatch)
    if found.used_at is not None:
        raise refuse("reused_state")
    if found.expires_at <= now:
        raise refuse("expired_state")
    claimed = session.execute(
        update(model).where(model.id == found.id, model.used_at.is_(None)).values(used_at=now)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise refuse("reused_state")
    return found
