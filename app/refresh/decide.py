"""Step 1 of the refresh: take the connection's lease, decide on the re-read row whether to call
Factorial, and record the attempt (committed before any HTTP)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, update

from app.infra import leases
from app.models import Connection
from app.refresh.lifecycle import mark_needs_reconnect, release_attempt, reload
from app.refresh.rules import RefreshOutcome, digest, is_due, refreshable
from app.services import DbSession
from app.services.audit import TargetRef
from app.services.deps import Deps

log = logging.getLogger(__name__)

# What the decision needs, returned by the lease's own UPDATE (SQLite >= 3.35 and PostgreSQL
# both have UPDATE ... RETURNING): the common case reads nothing else.
_DECIDES_ON = (
    "environment", "kind", "company_id", "company_name", "employee_id", "employee_name",
    "employee_email", "refresh_token", "expires_at", "refresh_token_issued_at", "next_retry_at",
    "attempt_id", "needs_reconnect_cause", "revoked_at", "revoke_requested_at",
)  # fmt: skip
_COLUMNS = Connection.__table__.c
_RECORD_ATTEMPT = update(Connection.__table__).where(_COLUMNS.id == bindparam("b_id"))


@dataclass(frozen=True)
class Attempt:
    """One recorded refresh attempt: what it spends and how to name it in the audit log."""

    connection_id: int
    environment: str
    refresh_token: str = field(repr=False)
    id: str
    target: TargetRef


def claim(
    session: DbSession, connection_id: int, now: datetime, deps: Deps, force: bool
) -> Row[Any] | Connection | RefreshOutcome:
    """Take the lease and re-read the row: what to refresh (lease kept, not committed), or
    why not (lease given back). The common case needs nothing but the leased row."""
    owner, until = secrets.token_hex(8), deps.policy.lease
    row = leases.take(session, leases.CONNECTION, connection_id, owner, now, until, _DECIDES_ON)
    if row is None:
        session.rollback()
        return RefreshOutcome("busy", connection_id, "Another refresh is in progress.")
    if _plainly_due(row, now, deps, force):
        return row
    connection = reload(session, connection_id)
    if connection is None:
        session.rollback()
        return RefreshOutcome("not_refreshable", connection_id, "No such connection.")
    return _decide(session, connection, now, deps, force) or connection


def record(
    session: DbSession, connection_id: int, leased: Row[Any] | Connection, now: datetime
) -> Attempt:
    """Record the attempt on the leased row and commit: from here a crash leaves a trace."""
    attempt = Attempt(
        connection_id=connection_id,
        environment=leased.environment,
        refresh_token=leased.refresh_token.reveal(),  # type: ignore[union-attr]
        id=secrets.token_hex(8),
        target=TargetRef("connection", connection_id, _owner_label(leased)),
    )
    session.connection().execute(
        _RECORD_ATTEMPT,
        {"b_id": connection_id, "attempt_id": attempt.id, "attempt_started_at": now,
         "attempt_fingerprint": digest(attempt.refresh_token)},
    )  # fmt: skip
    session.commit()
    return attempt


def _plainly_due(row: Row[Any], now: datetime, deps: Deps, force: bool) -> bool:
    """Refreshable, no attempt left behind, due (or forced) and not backing off. Anything
    else is decided on the whole row by `_decide`."""
    if not refreshable(row) or row.attempt_id:  # type: ignore[arg-type]
        return False
    if force:
        return True
    backing_off = row.next_retry_at is not None and row.next_retry_at > now
    return is_due(row, now, deps.policy) and not backing_off  # type: ignore[arg-type]


def _owner_label(row: Row[Any] | Connection) -> str:
    """`Connection.owner_label`, also of a row that is not a loaded model."""
    label: str = Connection.owner_label.fget(row)  # type: ignore[attr-defined]
    return label


def _decide(
    session: DbSession, connection: Connection, now: datetime, deps: Deps, force: bool
) -> RefreshOutcome | None:
    """None to go ahead and call Factorial; otherwise the lease is given back and why."""
    cid = connection.id
    if not refreshable(connection):
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("not_refreshable", cid, "This connection cannot be refreshed.")
    if connection.attempt_id:  # a previous holder died with its outcome unrecorded
        if connection.outcome_unknown:
            mark_needs_reconnect(session, connection, "lost", deps)
            return RefreshOutcome("needs_reconnect", cid, "The refresh outcome was lost.")
        connection.outcome_unknown = True
        log.warning("connection %s: previous refresh outcome lost; retrying once", cid)
        return None
    if force:
        return None
    if not is_due(connection, now, deps.policy):
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("fresh", cid)
    if connection.next_retry_at is not None and connection.next_retry_at > now:
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("backoff", cid, "Waiting before the next retry.")
    return None
