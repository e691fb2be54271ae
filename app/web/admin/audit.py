"""The audit log page: who did what to which credential, filtered from the query string."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from app.infra.extensions import db
from app.models import utcnow
from app.services import audit_log
from app.web.numbers import page_number

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50
OUTCOMES = ("ok", "failed")
TARGET_TYPES = (("connection", "Connection"), ("api_key", "API key"), ("admin", "Person"))
ACTION_RE = re.compile(r"[a-z0-9_.\-]{1,64}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
ACTOR_LIMIT = 254


@dataclass(frozen=True)
class Filters:
    """The page's filters as typed in the query string; empty means 'any'."""

    action: str = ""
    outcome: str = ""
    actor: str = ""
    target_type: str = ""
    since: str = ""
    until: str = ""

    def query_args(self) -> dict[str, str]:
        """The non-empty filters, for links that keep them."""
        return {name: value for name, value in asdict(self).items() if value}


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        abort(400, f"Unknown {name} “{value}”: choose one of {', '.join(allowed)}.")
    return value


def _action(value: str) -> str:
    if value and not ACTION_RE.fullmatch(value):
        abort(400, "The action filter must be an action name such as connection.refreshed.")
    return value


def _actor(value: str) -> str:
    if len(value) > ACTOR_LIMIT:
        abort(400, f"The actor filter is longer than {ACTOR_LIMIT} characters.")
    return value


def _day(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        if not DATE_RE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"The “{name}” date must be a calendar date written YYYY-MM-DD.")


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _read_filters() -> Filters:
    args = request.args
    return Filters(
        action=_action(args.get("action", "").strip()),
        outcome=_choice("outcome", args.get("outcome", ""), OUTCOMES),
        actor=_actor(args.get("actor", "").strip()),
        target_type=_choice(
            "target type", args.get("target_type", ""), tuple(t for t, _ in TARGET_TYPES)
        ),
        since=args.get("since", "").strip(),
        until=args.get("until", "").strip(),
    )


def _range(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """`since` from its first instant, `until` through its last one (UTC days)."""
    since, until = _day("from", filters.since), _day("to", filters.until)
    if since and until and since > until:
        abort(400, "The “from” date is after the “to” date.")
    return (
        _start_of(since) if since else None,
        _start_of(until) + timedelta(days=1) if until else None,
    )


@bp.get("/")
@login_required
def index() -> str:
    filters = _read_filters()
    since, until = _range(filters)
    page = audit_log.search(
        db.session,
        action_prefix=filters.action,
        outcome=filters.outcome,
        actor=filters.actor,
        target_type=filters.target_type,
        since=since,
        until=until,
        page=page_number(request.args.get("page")),
        per_page=PER_PAGE,
    )
    return render_template(
        "audit/index.html",
        page=page,
        filters=filters,
        actions=audit_log.actions(db.session),
        outcomes=OUTCOMES,
        target_types=TARGET_TYPES,
        now=utcnow(),
    )
