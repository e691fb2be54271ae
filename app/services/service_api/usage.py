"""Counting who used which credential: "last used" and one audit row per client, credential,
action and hour. Counted in this process and written at most once per interval per key, after
the answer is sent, so the API's hot path stays read-only."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from app.models import ApiKey, AuditEvent, Connection, ServiceClient
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.service_api.service_clients import Caller

log = logging.getLogger(__name__)


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
