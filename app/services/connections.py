"""Reading connections: their derived status, lists for the dashboard, one for its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.models import AuditEvent, Connection
from app.services import DbSession
from app.services.lifecycle import CAUSES


@dataclass(frozen=True)
class Status:
    """A connection's health, derived from stored facts each time it is shown."""

    code: str
    label: str
    tone: str  # ok | warn | bad | muted | info: how the page colours it
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.tone in ("ok", "info")


def status_of(connection: Connection, now: datetime, margin: timedelta) -> Status:
    """The first state that applies, from the facts stored on the row."""
    for check in (_revocation, _reconnect, _in_flight, _transient_error, _expiry):
        status = check(connection, now, margin)
        if status is not None:
            return status
    return Status("active", "Active", "ok")


def _revocation(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    if c.revoked_at is not None:
        return Status("revoked", "Revoked", "muted", "Revoked at Factorial; tokens wiped.")
    if c.revoke_requested_at is not None:
        return Status(
            "revoke_pending",
            "Revoke pending",
            "warn",
            "Factorial has not confirmed the revoke yet; it is retried automatically.",
        )
    return None


def _reconnect(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    cause = c.needs_reconnect_cause
    if not cause and (c.access_token is None or not c.access_token.readable):
        cause = "undecryptable" if c.access_token is not None else "revoked"
    if cause:
        return Status("needs_reconnect", "Needs reconnect", "bad", CAUSES.get(cause, cause))
    return None


def _in_flight(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    if c.lease_expires_at is not None and c.lease_expires_at > now and c.attempt_id:
        return Status("refreshing", "Refreshing", "info", "A refresh is in progress.")
    if c.attempt_id:
        return Status("error", "Error", "warn", "The last refresh's outcome was lost; recovering.")
    return None


def _transient_error(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    if c.failure_count > 0 and c.next_retry_at is not None:
        when = c.next_retry_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return Status("error", "Error", "warn", f"{c.last_error} Next retry at {when}.")
    return None


def _expiry(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    if c.expires_at is None:
        return Status("does_not_expire", "Does not expire", "info")
    if c.expires_at <= now:
        return Status("expired", "Expired", "bad", "The access token has expired.")
    if c.expires_at - now <= margin:
        return Status("expires_soon", "Expires soon", "warn")
    return None


STATUS_CODES = (
    "active",
    "expires_soon",
    "refreshing",
    "needs_reconnect",
    "revoke_pending",
    "revoked",
    "does_not_expire",
    "error",
    "expired",
)


def list_connections(session: DbSession) -> list[Connection]:
    query = select(Connection).order_by(Connection.company_name, Connection.kind, Connection.id)
    return list(session.scalars(query))


def get_connection(session: DbSession, connection_id: int) -> Connection | None:
    connection: Connection | None = session.get(Connection, connection_id)
    return connection


def count_connections(session: DbSession) -> int:
    return int(session.scalar(select(func.count(Connection.id))) or 0)


def events_for(session: DbSession, connection_id: int, limit: int = 50) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.target_type == "connection", AuditEvent.target_id == connection_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
