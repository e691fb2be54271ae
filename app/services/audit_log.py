"""Reading the audit log: filtered, newest first, one page at a time, in two cheap queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select

from app.models import AuditEvent
from app.services import DbSession


@dataclass(frozen=True)
class Page:
    """One page of events; `has_next` comes from fetching one row more, never from COUNT(*)."""

    items: tuple[AuditEvent, ...]
    page: int
    per_page: int
    has_next: bool
    has_prev: bool


def search(
    session: DbSession,
    *,
    action_prefix: str = "",
    outcome: str = "",
    actor: str = "",
    target_type: str = "",
    target_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Events matching every given filter (`since` inclusive, `until` exclusive; `actor` is a
    case-insensitive substring of the actor's label), ordered `created_at desc, id desc`."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1")
    conditions = _conditions(action_prefix, outcome, actor, target_type, target_id, since, until)
    query = (
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = list(session.scalars(query))
    return Page(
        items=tuple(rows[:per_page]),
        page=page,
        per_page=per_page,
        has_next=len(rows) > per_page,
        has_prev=page > 1,
    )


def _conditions(
    action_prefix: str,
    outcome: str,
    actor: str,
    target_type: str,
    target_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if action_prefix:
        conditions.append(AuditEvent.action.startswith(action_prefix, autoescape=True))
    if outcome:
        conditions.append(AuditEvent.outcome == outcome)
    if actor:
        conditions.append(AuditEvent.actor_label.icontains(actor, autoescape=True))
    if target_type:
        conditions.append(AuditEvent.target_type == target_type)
    if target_id is not None:
        conditions.append(AuditEvent.target_id == target_id)
    if since is not None:
        conditions.append(AuditEvent.created_at >= since)
    if until is not None:
        conditions.append(AuditEvent.created_at < until)
    return conditions


def actions(session: DbSession) -> list[str]:
    """Every action name that occurs in the log, sorted, for a filter's choices."""
    query = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    return list(session.scalars(query))
