"""Fleet-wide facts for /metrics, read from the shared database (never from process memory)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.models import AuditEvent, Connection, Notification
from app.services import DbSession
from app.services.connections import status_expression

REFRESH_OUTCOMES: Mapping[str, str] = {
    "connection.refreshed": "ok",
    "connection.refresh_failed": "transient",
    "connection.needs_reconnect": "needs_reconnect",
}
_EXPIRING_HEALTHY = ("active", "expires_soon", "refreshing")


def seconds_to_nearest_expiry(session: DbSession, now: datetime, margin: timedelta) -> float | None:
    """Seconds until the soonest expiry among healthy expiring connections; None if none."""
    query = select(func.min(Connection.expires_at)).where(
        Connection.expires_at.is_not(None),
        status_expression(now, margin).in_(_EXPIRING_HEALTHY),
    )
    nearest: datetime | None = session.scalar(query)
    return None if nearest is None else (nearest - now).total_seconds()


def refresh_attempts(session: DbSession) -> dict[str, int]:
    """Refresh outcomes counted from the audit log (ok, transient, needs_reconnect), each key
    present. One grouped query on the (action, created_at) index."""
    query = (
        select(AuditEvent.action, func.count(AuditEvent.id))
        .where(AuditEvent.action.in_(tuple(REFRESH_OUTCOMES)))
        .group_by(AuditEvent.action)
    )
    counts = dict.fromkeys(REFRESH_OUTCOMES.values(), 0)
    for action, count in session.execute(query):
        counts[REFRESH_OUTCOMES[str(action)]] += int(count)
    return counts


def notifications_pending(session: DbSession) -> int:
    """Webhook notifications neither delivered nor given up on."""
    query = select(func.count(Notification.id)).where(
        Notification.delivered_at.is_(None), Notification.gave_up_at.is_(None)
    )
    return int(session.scalar(query) or 0)
