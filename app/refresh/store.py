"""Step 3 of the refresh: commit the new pair at once, compare-and-set on the attempt id.

Factorial has already rotated: this pair exists nowhere else, so nothing else happens between
the response and this commit, and a database that is briefly unreachable is waited out."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.exc import OperationalError

from app.factorial import TokenResponse
from app.infra import leases
from app.models import Connection
from app.refresh.decide import Attempt
from app.refresh.lifecycle import reload
from app.refresh.rules import RefreshOutcome, digest
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.connection_store import token_values

log = logging.getLogger(__name__)

_COLUMNS = Connection.__table__.c
_STORE = update(Connection.__table__).where(
    _COLUMNS.id == bindparam("b_id"), _COLUMNS.attempt_id == bindparam("b_attempt")
)
# Besides the pair: the attempt is over, the lease given back, the failures forgotten.
_SETTLED: dict[str, Any] = {
    "attempt_id": "",
    "attempt_started_at": None,
    "attempt_fingerprint": "",
    "outcome_unknown": False,
    "failure_count": 0,
    "next_retry_at": None,
    **leases.CONNECTION.vacated(),
}


def store(
    session: DbSession,
    attempt: Attempt,
    token: TokenResponse,
    now: datetime,
    actor: Actor,
    *,
    patience: timedelta,
) -> RefreshOutcome:
    """Store the pair. While the database cannot be reached (a restart, a failover) keep it and
    retry for up to `patience` — half the lease, the half a refresh call may not use — so no
    other process takes the attempt for lost meanwhile."""
    values = token_values(token, now)
    deadline, pause = time.monotonic() + patience.total_seconds(), 0.1
    while True:
        try:
            return _write_pair(session, attempt, values, token.refresh_token, now, actor)
        except OperationalError:
            session.rollback()
            if time.monotonic() + pause > deadline:
                raise
            log.warning(
                "connection %s: the database is unreachable; keeping the new tokens and "
                "retrying in %.1f s", attempt.connection_id, pause,
            )  # fmt: skip
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _write_pair(
    session: DbSession,
    attempt: Attempt,
    values: dict[str, Any],
    refresh_token: str | None,
    now: datetime,
    actor: Actor,
) -> RefreshOutcome:
    cid = attempt.connection_id
    stored = session.connection().execute(
        _STORE,
        {**values, **_SETTLED, "last_refresh_at": now, "b_id": cid, "b_attempt": attempt.id},
    )
    if stored.rowcount != 1 and _already_stored(session, cid, refresh_token):
        return RefreshOutcome("refreshed", cid)  # a commit whose acknowledgement was lost
    if stored.rowcount != 1:
        session.rollback()
        log.error("connection %s: refresh result arrived after its attempt was superseded", cid)
        return RefreshOutcome("transient", cid, "The refresh was superseded.")
    expires_at = values["expires_at"]
    audit.insert(
        session,
        "connection.refreshed",
        now=now,
        actor=actor,
        target=attempt.target,
        details={"expires_at": expires_at.isoformat() if expires_at else None},
    )
    session.commit()
    return RefreshOutcome("refreshed", cid)


def _already_stored(session: DbSession, connection_id: int, refresh_token: str | None) -> bool:
    """Whether the row already holds this refresh token: an earlier try's commit went
    through, but the connection broke before its answer came back."""
    connection = reload(session, connection_id)
    current = None if connection is None else connection.refresh_token
    held = current.reveal() if current is not None and current.readable else None
    session.rollback()
    return None not in (held, refresh_token) and digest(held or "") == digest(refresh_token or "")
