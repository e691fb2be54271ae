"""Single-flight refresh: one provider call per due token, however many processes ask at once.

1. In a short transaction, take the connection's lease (compare-and-set), re-read the row; if
   the token is no longer due, give it back without calling Factorial. Record the attempt
   (id, start, digest of the refresh token being spent). Commit: no lock is held during HTTP.
2. Call the token endpoint once; the client never retries a refresh POST.
3. On success, store the new pair at once, compare-and-set on the attempt id.
4. On `invalid_grant`, re-read: a changed refresh token means a sibling won (healthy);
   otherwise the connection needs a reconnect — audited and notified once, never retried.
5. Timeouts, 5xx, 429 keep the old tokens and back off. An attempt left behind by a process
   that died means the outcome was lost: retry once with the stored token, else reconnect.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, or_, update
from sqlalchemy.exc import OperationalError

from app.factorial import (
    FactorialError,
    InvalidGrant,
    RateLimited,
    TokenResponse,
)
from app.models import Connection
from app.refresh.lifecycle import mark_needs_reconnect, reconnect_cause, release_attempt, reload
from app.refresh.policy import ClientFactory, Clock, RefreshPolicy
from app.services import DbSession, audit, notify
from app.services.audit import SYSTEM, Actor, TargetRef
from app.services.connect import token_values

log = logging.getLogger(__name__)


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


def refresh_connection(
    session: DbSession,
    clients: ClientFactory,
    connection_id: int,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    actor: Actor = SYSTEM,
    force: bool = False,
) -> RefreshOutcome:
    """Refresh one connection if due (or `force`), following the single-flight protocol."""
    now = clock()
    leased = _lease(session, connection_id, now, policy, notifier, force)
    if isinstance(leased, RefreshOutcome):
        return leased
    return _spend(
        session, clients, connection_id, leased, now,
        clock=clock, policy=policy, notifier=notifier, actor=actor,
    )  # fmt: skip


def refresh_leased(
    session: DbSession,
    clients: ClientFactory,
    connection: Connection,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    actor: Actor = SYSTEM,
) -> RefreshOutcome:
    """Refresh now a refreshable connection whose lease the caller holds and has decided to
    spend (steps 2-5 of the protocol); the lease is given back with the outcome."""
    return _spend(
        session, clients, connection.id, connection, clock(),
        clock=clock, policy=policy, notifier=notifier, actor=actor,
    )  # fmt: skip


def _spend(
    session: DbSession,
    clients: ClientFactory,
    connection_id: int,
    leased: Row[Any] | Connection,
    now: datetime,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    actor: Actor,
) -> RefreshOutcome:
    """Record the attempt and commit, then call Factorial once and settle."""
    attempt = _Attempt(
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
    return _call_and_settle(
        session, clients, attempt, clock=clock, policy=policy, notifier=notifier, actor=actor
    )


def _lease(
    session: DbSession,
    connection_id: int,
    now: datetime,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    force: bool,
) -> Row[Any] | Connection | RefreshOutcome:
    """Take the lease and re-read the row: what to refresh (lease kept, not committed), or
    why not (lease given back). The common case needs nothing but the leased row."""
    row = session.connection().execute(
        _LEASE,
        {"b_id": connection_id, "b_now": now, "b_owner": secrets.token_hex(8),
         "b_until": now + policy.lease},
    ).first()  # fmt: skip
    if row is None:
        session.rollback()
        return RefreshOutcome("busy", connection_id, "Another refresh is in progress.")
    if _plainly_due(row, now, policy, force):
        return row
    connection = reload(session, connection_id)
    if connection is None:
        session.rollback()
        return RefreshOutcome("not_refreshable", connection_id, "No such connection.")
    return _decide(session, connection, now, policy, notifier, force) or connection


_COLUMNS = Connection.__table__.c
# The lease (compare-and-set) returns in the same statement what the decision needs: SQLite
# >= 3.35 and PostgreSQL both have UPDATE ... RETURNING. Statements are built once: building
# one costs more than running it.
_LEASE = (
    update(Connection.__table__)
    .where(
        _COLUMNS.id == bindparam("b_id"),
        or_(_COLUMNS.lease_expires_at.is_(None), _COLUMNS.lease_expires_at <= bindparam("b_now")),
    )
    .values(lease_owner=bindparam("b_owner"), lease_expires_at=bindparam("b_until"))
    .returning(
        *(
            _COLUMNS[name]
            for name in (
                "environment", "kind", "company_id", "company_name", "employee_id",
                "employee_name", "employee_email", "refresh_token", "expires_at",
                "refresh_token_issued_at", "next_retry_at", "attempt_id",
                "needs_reconnect_cause", "revoked_at", "revoke_requested_at",
            )
        )
    )
)  # fmt: skip
_RECORD_ATTEMPT = update(Connection.__table__).where(_COLUMNS.id == bindparam("b_id"))
_STORE = update(Connection.__table__).where(
    _COLUMNS.id == bindparam("b_id"), _COLUMNS.attempt_id == bindparam("b_attempt")
)


def _plainly_due(row: Row[Any], now: datetime, policy: RefreshPolicy, force: bool) -> bool:
    """Refreshable, no attempt left behind, due (or forced) and not backing off. Anything
    else is decided on the whole row by `_decide`."""
    if not refreshable(row) or row.attempt_id:  # type: ignore[arg-type]
        return False
    if force:
        return True
    backing_off = row.next_retry_at is not None and row.next_retry_at > now
    return is_due(row, now, policy) and not backing_off  # type: ignore[arg-type]


def _owner_label(row: Row[Any] | Connection) -> str:
    """`Connection.owner_label`, also of a row that is not a loaded model."""
    label: str = Connection.owner_label.fget(row)  # type: ignore[attr-defined]
    return label


@dataclass(frozen=True)
class _Attempt:
    """One recorded refresh attempt: what it spends and how to name it in the audit log."""

    connection_id: int
    environment: str
    refresh_token: str = field(repr=False)
    id: str
    target: TargetRef


def _decide(
    session: DbSession,
    connection: Connection,
    now: datetime,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    force: bool,
) -> RefreshOutcome | None:
    """None to go ahead and call Factorial; otherwise the lease is given back and why."""
    cid = connection.id
    if not refreshable(connection):
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("not_refreshable", cid, "This connection cannot be refreshed.")
    if connection.attempt_id:  # a previous holder died with its outcome unrecorded
        if connection.outcome_unknown:
            mark_needs_reconnect(session, connection, "lost", now, notifier)
            return RefreshOutcome("needs_reconnect", cid, "The refresh outcome was lost.")
        connection.outcome_unknown = True
        log.warning("connection %s: previous refresh outcome lost; retrying once", cid)
        return None
    if force:
        return None
    if not is_due(connection, now, policy):
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("fresh", cid)
    if connection.next_retry_at is not None and connection.next_retry_at > now:
        release_attempt(session, connection, clear_attempt=False)
        return RefreshOutcome("backoff", cid, "Waiting before the next retry.")
    return None


def _call_and_settle(
    session: DbSession,
    clients: ClientFactory,
    attempt: _Attempt,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    actor: Actor,
) -> RefreshOutcome:
    cid = attempt.connection_id
    try:
        with clients(attempt.environment) as client:
            token = client.refresh(attempt.refresh_token)
    except KeyError:
        error = FactorialError("That Factorial environment is no longer configured.")
        return _transient(session, cid, attempt.id, clock(), policy, actor, error)
    except InvalidGrant:
        return _invalid_grant(
            session, cid, attempt.id, attempt.refresh_token, clock(), notifier, actor
        )
    except FactorialError as exc:
        return _transient(session, cid, attempt.id, clock(), policy, actor, exc)
    return _store(session, attempt, token, clock(), actor, patience=policy.lease / 2)


def _store(
    session: DbSession,
    attempt: _Attempt,
    token: TokenResponse,
    now: datetime,
    actor: Actor,
    *,
    patience: timedelta,
) -> RefreshOutcome:
    """Commit the new pair at once, compare-and-set on our attempt id. Factorial has already
    rotated: this pair exists nowhere else. While the database cannot be reached (a restart,
    a failover) keep it and retry for up to `patience` — half the lease, the half a refresh
    call may not use — so no other process takes the attempt for lost meanwhile."""
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
    attempt: _Attempt,
    values: dict[str, Any],
    refresh_token: str | None,
    now: datetime,
    actor: Actor,
) -> RefreshOutcome:
    stored = session.connection().execute(
        _STORE,
        {
            **values,
            "attempt_id": "",
            "attempt_started_at": None,
            "attempt_fingerprint": "",
            "outcome_unknown": False,
            "lease_owner": "",
            "lease_expires_at": None,
            "last_refresh_at": now,
            "failure_count": 0,
            "next_retry_at": None,
            "b_id": attempt.connection_id,
            "b_attempt": attempt.id,
        },
    )
    if stored.rowcount != 1 and _already_stored(session, attempt.connection_id, refresh_token):
        return RefreshOutcome("refreshed", attempt.connection_id)  # a commit whose ack was lost
    if stored.rowcount != 1:
        session.rollback()
        log.error(
            "connection %s: refresh result arrived after its attempt was superseded",
            attempt.connection_id,
        )
        return RefreshOutcome("transient", attempt.connection_id, "The refresh was superseded.")
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
    return RefreshOutcome("refreshed", attempt.connection_id)


def _already_stored(session: DbSession, connection_id: int, refresh_token: str | None) -> bool:
    """Whether the row already holds this refresh token: an earlier try's commit went
    through, but the connection broke before its answer came back."""
    connection = reload(session, connection_id)
    current = None if connection is None else connection.refresh_token
    held = current.reveal() if current is not None and current.readable else None
    session.rollback()
    return None not in (held, refresh_token) and digest(held or "") == digest(refresh_token or "")


def _invalid_grant(
    session: DbSession,
    connection_id: int,
    attempt: str,
    spent: str,
    now: datetime,
    notifier: notify.Notifier,
    actor: Actor,
) -> RefreshOutcome:
    """A changed refresh token means a sibling stored the winner; otherwise reconnect."""
    connection = reload(session, connection_id)
    if connection is None:
        session.rollback()
        return RefreshOutcome("not_refreshable", connection_id, "No such connection.")
    current = connection.refresh_token
    if current is not None and current.readable and digest(current.reveal()) != digest(spent):
        if connection.attempt_id == attempt:
            release_attempt(session, connection, clear_attempt=True)
        else:
            session.commit()
        return RefreshOutcome("sibling", connection_id)
    cause = reconnect_cause(connection, now)
    mark_needs_reconnect(session, connection, cause, now, notifier, actor=actor)
    return RefreshOutcome("needs_reconnect", connection_id, f"Needs reconnect ({cause}).")


def backoff_delay(failures: int, policy: RefreshPolicy, retry_after: float | None) -> timedelta:
    """Honour Retry-After (capped); else exponential with full jitter, capped."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), policy.retry_after_cap)
    ceiling = min(policy.base_backoff * (2 ** max(failures - 1, 0)), policy.max_backoff)
    jittered: timedelta = ceiling * (0.5 + random.random() / 2)
    return jittered


def _transient(
    session: DbSession,
    connection_id: int,
    attempt: str,
    now: datetime,
    policy: RefreshPolicy,
    actor: Actor,
    exc: FactorialError,
) -> RefreshOutcome:
    """Keep the old tokens, back off. A timeout may have been processed: outcome unknown."""
    connection = reload(session, connection_id)
    if connection is None or connection.attempt_id != attempt:
        session.rollback()
        return RefreshOutcome("transient", connection_id, exc.message)
    connection.failure_count += 1
    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
    connection.next_retry_at = now + backoff_delay(connection.failure_count, policy, retry_after)
    connection.last_error = exc.message[:500]
    connection.last_error_at = now
    connection.outcome_unknown = connection.outcome_unknown or not isinstance(exc, RateLimited)
    release_attempt(session, connection, clear_attempt=True, commit=False)
    audit.record(
        session,
        "connection.refresh_failed",
        now=now,
        actor=actor,
        target=connection,
        outcome="failed",
        message=exc.message,
        details={
            "failures": connection.failure_count,
            "next_retry_at": connection.next_retry_at.isoformat(),
        },
    )
    session.commit()
    return RefreshOutcome("transient", connection_id, exc.message)


def fresh_token(
    session: DbSession,
    clients: ClientFactory,
    connection_id: int,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    notifier: notify.Notifier,
    wait: float = 15.0,
    actor: Actor = SYSTEM,
) -> tuple[Connection | None, RefreshOutcome]:
    """The connection with a usable token: refreshed first if due, or after waiting out a
    sibling's lease (reading, not writing, while it waits)."""
    deadline = time.monotonic() + wait
    while True:
        connection = reload(session, connection_id)
        now = clock()
        if connection is None:
            session.rollback()
            return None, RefreshOutcome("not_refreshable", connection_id, "No such connection.")
        leased = connection.lease_expires_at is not None and connection.lease_expires_at > now
        wanted = is_due(connection, now, policy) or bool(connection.attempt_id)
        if not refreshable(connection) or not (leased or wanted):
            result = "fresh" if usable(connection, now) else "not_refreshable"
            session.commit()
            return connection, RefreshOutcome(result, connection_id)
        session.commit()
        if not leased:
            outcome = refresh_connection(
                session,
                clients,
                connection_id,
                clock=clock,
                policy=policy,
                notifier=notifier,
                actor=actor,
            )
            if outcome.result != "busy":
                return reload(session, connection_id), outcome
        if time.monotonic() > deadline:
            return reload(session, connection_id), RefreshOutcome("busy", connection_id)
        time.sleep(0.05)
