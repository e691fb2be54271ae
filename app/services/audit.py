"""Audit events: added to the caller's session, committed with the change they describe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert as sql_insert

from app.models import AuditEvent
from app.services import DbSession

MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Actor:
    """Who acted: an admin (id + email), the system (the sweep), or a service client."""

    kind: str = "system"
    id: int | None = None
    label: str = "system"

    @classmethod
    def admin(cls, admin_id: int, email: str) -> Actor:
        return cls("admin", admin_id, email)


SYSTEM = Actor()


@dataclass(frozen=True)
class TargetRef:
    """A target named without loading its row (hot paths): its type, id and label."""

    type: str
    id: int
    label: str


def record(
    session: DbSession,
    action: str,
    *,
    now: datetime,
    actor: Actor = SYSTEM,
    target: Any = None,
    outcome: str = "ok",
    message: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event (not committed here). `target` is a model with `id`; its kind names the type."""
    event = AuditEvent(**_values(action, now, actor, target, outcome, message, details))
    session.add(event)
    return event


_INSERT = sql_insert(AuditEvent.__table__)


def insert(
    session: DbSession,
    action: str,
    *,
    now: datetime,
    actor: Actor = SYSTEM,
    target: TargetRef | None = None,
    outcome: str = "ok",
    message: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """`record` for hot paths: the row is inserted now (still not committed), with no model
    object built, flushed or tracked by the session."""
    session.connection().execute(
        _INSERT, _values(action, now, actor, target, outcome, message, details)
    )


def _values(
    action: str,
    now: datetime,
    actor: Actor,
    target: Any,
    outcome: str,
    message: str,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "created_at": now,
        "action": action,
        "outcome": outcome,
        "actor_type": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label[:254],
        "target_type": _target_type(target),
        "target_id": getattr(target, "id", None),
        "target_label": _target_label(target)[:255],
        "message": message[:MESSAGE_LIMIT],
        "details": details or {},
    }


def _target_type(target: Any) -> str:
    if isinstance(target, TargetRef):
        return target.type
    return "" if target is None else str(getattr(target, "__tablename__", "")).rstrip("s")


def _target_label(target: Any) -> str:
    if target is None:
        return ""
    if isinstance(target, TargetRef):
        return target.label
    label = getattr(target, "owner_label", None) or getattr(target, "label", None)
    return str(label or getattr(target, "email", "") or "")


def record_now(session: DbSession, action: str, **kwargs: Any) -> AuditEvent:
    """Record an event that is itself the change (a sign-in, say) and commit it."""
    event = record(session, action, **kwargs)
    session.commit()
    return event
