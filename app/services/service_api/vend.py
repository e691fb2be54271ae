"""Handing access tokens to service clients, and counting who used what.

A token is vended straight from the row when it is usable and not due; otherwise it goes
through the single-flight refresh (`tokens.fresh_token`), so any number of concurrent callers
cause one refresh. Usage (last used, the aggregated audit row) is counted in this process and
written at most once a minute per client, credential and action, keeping the hot path read-only.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Select, String, bindparam, or_, select, type_coerce, update
from sqlalchemy.exc import SQLAlchemyError

from app.infra.read_cache import MISS, ReadCache
from app.infra.reads import PreparedRead
from app.models import ApiKey, AuditEvent, Connection, ServiceClient
from app.refresh import tokens
from app.refresh.policy import RefreshPolicy
from app.services import DbSession, audit, connections
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.service_api import service_clients
from app.services.service_api.service_clients import Caller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vended:
    access_token: str
    token_type: str
    expires_at: datetime | None


class Unavailable(Exception):
    """No usable token: `reason` is machine-readable (needs_reconnect, revoked, revoke_pending,
    refresh_failed, expired, undecryptable); `cause` refines needs_reconnect."""

    def __init__(self, reason: str, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.cause = reason, message, cause


def unavailable(connection: Connection, now: datetime, margin: timedelta) -> Unavailable:
    """Why this connection's token cannot be handed out, from its derived status."""
    token = connection.access_token
    if token is not None and not token.readable:
        return Unavailable("undecryptable", "The stored token cannot be decrypted.")
    status = connections.status_of(connection, now, margin)
    if status.code == "needs_reconnect":
        cause = connection.needs_reconnect_cause or "revoked"
        return Unavailable("needs_reconnect", f"Needs reconnect: {status.detail}", cause)
    if status.code in ("revoked", "revoke_pending", "expired"):
        return Unavailable(status.code, status.detail or status.label)
    return Unavailable("refresh_failed", status.detail or "The token could not be refreshed.")


def _peek_query() -> Select[Any]:
    c, client = Connection.__table__.c, ServiceClient.__table__
    granted = or_(
        client.c.all_credentials, service_clients.grant_exists(client.c.id, "connection", c.id)
    )
    stored = (
        c.id, c.access_token, c.token_type, c.expires_at, c.refresh_token_issued_at,
        c.needs_reconnect_cause, c.revoked_at, c.revoke_requested_at, c.attempt_id,
        # Whether a refresh token exists is all `is_due` asks: skip decrypting it.
        type_coerce(c.refresh_token, String).label("refresh_token"),
    )  # fmt: skip
    joined = client.outerjoin(Connection.__table__, c.id == bindparam("connection_id"))
    return (
        select(*service_clients.CLIENT_COLUMNS, granted.label("granted"), *stored)
        .select_from(joined)
        .where(client.c.id == bindparam("client_id"))
    )


# The token endpoint runs it on every call: compiled once, run without the execution layer.
_PEEK = PreparedRead(_peek_query())


def peek(
    engine: Engine,
    raw_secret: str,
    connection_id: int,
    now: datetime,
    policy: RefreshPolicy,
    cache: ReadCache | None = None,
) -> tuple[Caller | None, Vended | None]:
    """The token endpoint's hot path, in one read-only query (`app.infra.reads`): the client
    this secret authenticates (as `service_clients.authenticate`), and the stored token when
    that client may have it and it needs no refresh. A None token sends the caller down the
    full path (`vend_token`), which also explains every refusal. With a `cache` the row of
    an authenticated client is remembered until anything it holds changes
    (`app.infra.read_cache`)."""
    parsed = service_clients.parse_secret(raw_secret)
    if parsed is None:
        return None, None
    key = (parsed[0], connection_id)
    row, ticket = (MISS, None) if cache is None else cache.get(key)
    fresh = row is MISS
    if fresh:
        row = _PEEK.first(engine, client_id=parsed[0], connection_id=connection_id)
    client = service_clients.caller_from(row, parsed)
    if fresh and cache is not None and client is not None:
        cache.put(key, row, ticket)
    return client, _handed_out(client, row, now, policy)


def recall(
    cache: ReadCache,
    raw_secret: str,
    connection_id: int,
    now: datetime,
    policy: RefreshPolicy,
) -> tuple[Caller, Vended] | None:
    """`peek` from memory alone, for the token lane (`app.web.api.token_lane`): the client and a
    token ready to hand out, or None whenever anything else must decide (nothing remembered,
    a wrong secret, no grant, a token due or unusable)."""
    parsed = service_clients.parse_secret(raw_secret)
    if parsed is None:
        return None
    row, _ = cache.get((parsed[0], connection_id))
    if row is MISS:
        return None
    client = service_clients.caller_from(row, parsed)
    vended = _handed_out(client, row, now, policy)
    return None if client is None or vended is None else (client, vended)


def _handed_out(
    client: Caller | None, row: Any, now: datetime, policy: RefreshPolicy
) -> Vended | None:
    """The stored token when the client may have it and it needs no refresh."""
    if client is None or row is None or row.id is None or not row.granted:
        return None
    stored = cast(Connection, row)
    return _vended(stored) if _ready(stored, now, policy) else None


def _ready(connection: Connection, now: datetime, policy: RefreshPolicy) -> bool:
    return (
        tokens.usable(connection, now)
        and not tokens.is_due(connection, now, policy)
        and not connection.attempt_id
    )


def _vended(connection: Connection) -> Vended:
    assert connection.access_token is not None
    return Vended(
        connection.access_token.reveal(), connection.token_type or "Bearer", connection.expires_at
    )


def vend_token(session: DbSession, connection: Connection, deps: Deps, *, actor: Actor) -> Vended:
    """A usable token for `connection`, refreshed first (single flight) when due; else
    Unavailable."""
    now = deps.clock()
    if _ready(connection, now, deps.policy):
        return _vended(connection)
    fresh, _ = tokens.fresh_token(
        session,
        deps.clients,
        connection.id,
        clock=deps.clock,
        policy=deps.policy,
        notifier=deps.notifier,
        wait=deps.wait,
        actor=actor,
    )
    now = deps.clock()
    current = fresh or connection
    if fresh is None or not tokens.usable(fresh, now):
        raise unavailable(current, now, deps.policy.margin)
    return _vended(fresh)


@dataclass
class _Tally:
    count: int = 0
    written_at: float | None = None
    first_at: datetime | None = None


@dataclass
class UsageRecorder:
    """Per-process usage counts, written at most every `interval` seconds per key."""

    interval: float = 60.0
    _tallies: dict[tuple[int, str, int, str], _Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(
        self,
        client: Caller,
        target: tuple[type[Connection] | type[ApiKey], int],
        action: str,
        now: datetime,
    ) -> Usage | None:
        """Count one call on `target` (model, id). When this key's interval has passed, hand
        back the pending count for the caller to `write` (after answering: it is the only
        database write a vend makes, and SQLite would queue it behind other writers)."""
        model, target_id = target
        key = (client.id, model.__name__, target_id, action)
        mono = time.monotonic()
        with self._lock:
            tally = self._tallies.setdefault(key, _Tally())
            tally.count += 1
            if tally.written_at is not None and mono - tally.written_at < self.interval:
                return None
            count, tally.count, tally.written_at = tally.count, 0, mono
        return Usage(client, model, target_id, action, count, now, tally)

    def write(self, session: DbSession, usage: Usage) -> None:
        """Write a pending count; on a database error it goes back into the tally."""
        try:
            row = cast(Connection | ApiKey | None, session.get(usage.model, usage.target_id))
            if row is not None:  # deleted meanwhile: nothing left to stamp
                write_usage(session, usage.client, row, usage.action, usage.count, usage.now)
        except SQLAlchemyError:
            session.rollback()
            log.warning("could not record usage of %s by client %s", usage.action, usage.client.id)
            with self._lock:
                usage.tally.count += usage.count


@dataclass(frozen=True)
class Usage:
    """A count due to be written by `UsageRecorder.write`."""

    client: Caller
    model: type[Connection] | type[ApiKey]
    target_id: int
    action: str
    count: int
    now: datetime
    tally: _Tally


def write_usage(
    session: DbSession,
    client: Caller,
    target: Connection | ApiKey,
    action: str,
    count: int,
    now: datetime,
) -> None:
    """Stamp last used on the credential and the client; add `count` to this hour's audit row
    for client, credential and action (created on first use). Commits."""
    model = type(target)
    session.execute(update(model).where(model.id == target.id).values(last_used_at=now))
    # Lock the client row: flushes of one client (any worker) are serialized, so the hour's
    # row is created once and its count never loses an increment (SQLite: BEGIN IMMEDIATE).
    session.execute(select(ServiceClient.id).where(ServiceClient.id == client.id).with_for_update())
    session.execute(
        update(ServiceClient).where(ServiceClient.id == client.id).values(last_used_at=now)
    )
    row = _hour_row(session, client.id, target, action, now)
    if row is None:
        audit.record(
            session, action, now=now, actor=Actor("service", None, client.label), target=target,
            details={"client_id": client.id, "count": count, "last_at": now.isoformat()},
        )  # fmt: skip
    else:
        details: dict[str, Any] = dict(row.details or {})
        details["count"] = int(details.get("count", 0)) + count
        details["last_at"] = now.isoformat()
        row.details = details
    session.commit()


def _hour_row(
    session: DbSession, client_id: int, target: Connection | ApiKey, action: str, now: datetime
) -> AuditEvent | None:
    hour = now.replace(minute=0, second=0, microsecond=0)
    query = select(AuditEvent).where(
        AuditEvent.action == action,
        AuditEvent.actor_type == "service",
        AuditEvent.target_type == ("connection" if isinstance(target, Connection) else "api_key"),
        AuditEvent.target_id == target.id,
        AuditEvent.created_at >= hour,
    )
    for row in session.scalars(query.order_by(AuditEvent.id)):
        if (row.details or {}).get("client_id") == client_id:
            event: AuditEvent = row
            return event
    return None
