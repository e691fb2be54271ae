"""Reading connections: their derived status, lists for the dashboard, one for its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from app.models import AuditEvent, Connection
from app.refresh.lifecycle import CAUSES
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


INTERRUPTED = (
    "A refresh was interrupted before Factorial's answer was stored, so whether the stored "
    "refresh token still works is unknown. The sweep retries it once; if Factorial refuses it, "
    "the connection needs a reconnect (refresh outcome lost)."
)


def _in_flight(c: Connection, now: datetime, margin: timedelta) -> Status | None:
    if c.lease_expires_at is not None and c.lease_expires_at > now and c.attempt_id:
        return Status("refreshing", "Refreshing", "info", "A refresh is in progress.")
    if c.attempt_id:
        return Status("checking", "Checking", "warn", INTERRUPTED)
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
    "checking",
    "error",
    "expired",
)


def list_connections(session: DbSession) -> list[Connection]:
    query = select(Connection).order_by(Connection.company_name, Connection.kind, Connection.id)
    return list(session.scalars(query))


HEALTHY = ("active", "expires_soon", "refreshing", "does_not_expire")


def status_expression(now: datetime, margin: timedelta) -> ColumnElement[str]:
    """`status_of` as SQL (same order of precedence), to filter and count without loading rows.
    Only an undecryptable token is beyond SQL; the page still shows it from `status_of`."""
    c = Connection
    return case(
        (c.revoked_at.is_not(None), "revoked"),
        (c.revoke_requested_at.is_not(None), "revoke_pending"),
        (or_(c.needs_reconnect_cause != "", c.access_token.is_(None)), "needs_reconnect"),
        (and_(c.attempt_id != "", c.lease_expires_at > now), "refreshing"),
        (c.attempt_id != "", "checking"),
        (and_(c.failure_count > 0, c.next_retry_at.is_not(None)), "error"),
        (c.expires_at.is_(None), "does_not_expire"),
        (c.expires_at <= now, "expired"),
        (c.expires_at <= now + margin, "expires_soon"),
        else_="active",
    )


@dataclass(frozen=True)
class Page:
    """One page of connections with each one's status."""

    rows: list[tuple[Connection, Status]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def page_of_connections(
    session: DbSession,
    now: datetime,
    margin: timedelta,
    *,
    status: str = "",
    search: str = "",
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """A filtered page in two queries (the rows, and the count), whatever the table size."""
    query = select(Connection)
    if status == "attention":
        query = query.where(status_expression(now, margin).not_in(HEALTHY))
    elif status:
        query = query.where(status_expression(now, margin) == status)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(Connection.company_name).like(pattern),
                func.lower(Connection.employee_name).like(pattern),
                func.lower(Connection.employee_email).like(pattern),
                Connection.company_id == search,
            )
        )
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    ordered = query.order_by(Connection.company_name, Connection.kind, Connection.id)
    rows = session.scalars(ordered.limit(per_page).offset((page - 1) * per_page))
    return Page([(c, status_of(c, now, margin)) for c in rows], page, per_page, total)


def status_counts(session: DbSession, now: datetime, margin: timedelta) -> dict[str, int]:
    """How many connections are in each status: one grouped query."""
    expression = status_expression(now, margin).label("status")
    query = select(expression, func.count(Connection.id)).group_by(expression)
    return {str(code): int(count) for code, count in session.execute(query)}


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


def next_refresh_at(connection: Connection, margin: timedelta, keepalive: int) -> datetime | None:
    """When the sweep will next refresh this connection, as far as the facts say."""
    if connection.refresh_token is None or connection.needs_reconnect_cause:
        return None
    if connection.next_retry_at is not None:
        return connection.next_retry_at
    candidates = []
    if connection.expires_at is not None:
        candidates.append(connection.expires_at - margin)
    if connection.refresh_token_issued_at is not None:
        candidates.append(connection.refresh_token_issued_at + timedelta(seconds=keepalive))
    return min(candidates) if candidates else None
