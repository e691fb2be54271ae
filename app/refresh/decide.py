"""Step 1 of the refresh: take the connection's lease and record the attempt (one statement),
decide on the row whether to call Factorial, commit before any HTTP."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case

from app.infra import leases
from app.models import Connection
from app.refresh.lifecycle import mark_needs_reconnect, release_attempt, reload
from app.refresh.rules import RefreshOutcome, is_due, refreshable
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
_NO_ATTEMPT = _COLUMNS.attempt_id == ""
# The same statement records our attempt, unless one is left behind (RETURNING then shows the
# other id): a refresh that goes ahead commits right after it, with no second write.
_LEASE = (
    leases.CONNECTION.take_statement()
    .values(
        attempt_id=case((_NO_ATTEMPT, bindparam("b_attempt")), else_=_COLUMNS.attempt_id),
        attempt_started_at=case(
            (_NO_ATTEMPT, bindparam("b_started", type_=_COLUMNS.attempt_started_at.type)),
            else_=_COLUMNS.attempt_started_at,
        ),
    )
    .returning(*(_COLUMNS[name] for name in _DECIDES_ON))
)


@dataclass(frozen=True)
class Attempt:
    """One recorded refresh attempt: what it spends and how to name it in the audit log."""

    connection_id: int
    environment: str
    refresh_token: str = field(repr=False)
    id: str
    target: TargetRef

    @classmethod
    def of(cls, row: Row[Any] | Connection, connection_id: int, attempt_id: str) -> Attempt:
        return cls(
            connection_id=connection_id,
            environment=row.environment,
            refresh_token=row.refresh_token.reveal(),  # type: ignore[union-attr]
            id=attempt_id,
            target=TargetRef("connection", connection_id, _owner_label(row)),
        )


def claim(
    session: DbSession, connection_id: int, now: datetime, deps: Deps, force: bool
) -> Attempt | RefreshOutcome:
    """Take the lease, record the attempt and decide on the row: the attempt to spend (not yet
    committed), or why not (lease given back, attempt withdrawn, committed)."""
    owner, attempt_id = secrets.token_hex(8), secrets.token_hex(8)
    row = leases.take(
        session, leases.CONNECTION, connection_id, owner, now, deps.policy.lease, _LEASE,
        b_attempt=attempt_id, b_started=now,
    )  # fmt: skip
    if row is None:
        session.rollback()
        return RefreshOutcome("busy", connection_id, "Another refresh is in progress.")
    if row.attempt_id == attempt_id and _plainly_due(row, now, deps, force):
        return Attempt.of(row, connection_id, attempt_id)
    connection = reload(session, connection_id)
    if connection is None:
        session.rollback()
        return RefreshOutcome("not_refreshable", connection_id, "No such connection.")
    return _decide(session, connection, attempt_id, now, deps, force) or Attempt.of(
        connection, connection_id, attempt_id
    )


def record(session: DbSession, connection: Connection, now: datetime) -> Attempt:
    """Record an attempt on a row whose lease the caller holds, and commit."""
    attempt_id = secrets.token_hex(8)
    connection.attempt_id, connection.attempt_started_at = attempt_id, now
    attempt = Attempt.of(connection, connection.id, attempt_id)
    session.commit()
    return attempt


def _plainly_due(row: Row[Any], now: datetime, deps: Deps, force: bool) -> bool:
    """Refreshable, due (or forced) and not backing off. Anything else is decided on the whole
    row by `_decide`."""
    if not refreshable(row):  # type: ignore[arg-type]
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
    session: DbSession,
    connection: Connection,
    attempt_id: str,
    now: datetime,
    deps: Deps,
    force: bool,
) -> RefreshOutcome | None:
    """None to go ahead and call Factorial; otherwise the lease is given back and why."""
    cid, ours = connection.id, connection.attempt_id == attempt_id
    if not refreshable(connection):
        release_attempt(session, connection, clear_attempt=ours)
        return RefreshOutcome("not_refreshable", cid, "This connection cannot be refreshed.")
    if not ours:  # a previous holder died with its outcome unrecorded
        if connection.outcome_unknown:
            mark_needs_reconnect(session, connection, "lost", deps)
            return RefreshOutcome("needs_reconnect", cid, "The refresh outcome was lost.")
        connection.outcome_unknown = True
        connection.attempt_id, connection.attempt_started_at = attempt_id, now
        log.warning("connection %s: previous refresh outcome lost; retrying once", cid)
        return None
    if force:
        return None
    if not is_due(connection, now, deps.policy):
        release_attempt(session, connection, clear_attempt=True)
        return RefreshOutcome("fresh", cid)
    if connection.next_retry_at is not None and connection.next_retry_at > now:
        release_attempt(session, connection, clear_attempt=True)
        return RefreshOutcome("backoff", cid, "Waiting before the next retry.")
    return None
