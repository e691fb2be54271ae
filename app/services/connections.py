"""Reading connections: their derived status, lists for the dashboard, one for its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.models import AuditEvent, Connection
from app.services import DbSession


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
    """Active, Expires soon, Expired or Does not expire, from the token's expiry."""
    if connection.access_token is None:
        return Status("no_token", "No token", "bad", "Reconnect to obtain a token.")
    if not connection.access_token.readable:
        return Status(
            "undecryptable",
            "Undecryptable",
            "bad",
            "The stored token cannot be decrypted with the configured keys; reconnect.",
        )
    if connection.expires_at is None:
        return Status("does_not_expire", "Does not expire", "info")
    if connection.expires_at <= now:
        return Status("expired", "Expired", "bad", "The access token has expired.")
    if connection.expires_at - now <= margin:
        return Status("expires_soon", "Expires soon", "warn")
    return Status("active", "Active", "ok")


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
