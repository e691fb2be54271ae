"""The dashboard: every connected account at a glance, and one account's page."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from app.infra.extensions import db
from app.models import Admin, utcnow
from app.refresh.lifecycle import REFRESH_TOKEN_LIFE
from app.services import connections
from app.services.keys import api_keys
from app.services.people import admins
from app.web.numbers import page_number
from app.web.security import settings

bp = Blueprint("dashboard", __name__)

STATUS_FILTERS = {
    "": "All",
    "attention": "Needs attention",
    "active": "Active",
    "expires_soon": "Expires soon",
    "refreshing": "Refreshing",
    "does_not_expire": "Does not expire",
    "expired": "Expired",
    "checking": "Checking",
    "error": "Error",
    "needs_reconnect": "Needs reconnect",
    "revoke_pending": "Revoke pending",
    "revoked": "Revoked",
}
PER_PAGE = 50


def _margin() -> timedelta:
    return timedelta(seconds=settings().refresh_margin)


def _environment_labels() -> dict[str, str]:
    return {e.name: e.label for e in settings().environments.values()}


def _filters() -> tuple[str, str, int]:
    status = request.args.get("status", "")
    if status not in STATUS_FILTERS:
        abort(400, "Unknown status filter.")
    search = request.args.get("q", "").strip()
    if len(search) > 100:
        abort(400, "Search for at most 100 characters.")
    return status, search, page_number(request.args.get("page"))


@bp.get("/")
@login_required
def index() -> str:
    now = utcnow()
    status, search, page = _filters()
    counts = connections.status_counts(db.session, now, _margin())
    listing = connections.page_of_connections(
        db.session, now, _margin(), status=status, search=search, page=page, per_page=PER_PAGE
    )
    healthy = sum(counts.get(code, 0) for code in connections.HEALTHY)
    return render_template(
        "dashboard/index.html",
        listing=listing,
        counts=counts,
        healthy=healthy,
        attention=sum(counts.values()) - healthy,
        keys=api_keys.summary(db.session),
        filters=STATUS_FILTERS,
        status=status,
        search=search,
        now=now,
        environments=_environment_labels(),
        admins_by_id={a.id: a.email for a in admins.list_admins(db.session)},
    )


@bp.get("/connections/<id:connection_id>")
@login_required
def detail(connection_id: int) -> str:
    connection = connections.get_connection(db.session, connection_id)
    if connection is None:
        abort(404, "No such connection.")
    now = utcnow()
    connected_by = (
        db.session.get(Admin, connection.connected_by_id) if connection.connected_by_id else None
    )
    issued = connection.refresh_token_issued_at
    return render_template(
        "dashboard/detail.html",
        connection=connection,
        status=connections.status_of(connection, now, _margin()),
        events=connections.events_for(db.session, connection.id),
        connected_by=connected_by.email if connected_by else "",
        environments=_environment_labels(),
        next_refresh=connections.next_refresh_at(connection, _margin(), settings().keepalive_after),
        refresh_token_dies=issued + REFRESH_TOKEN_LIFE if issued else None,
        now=now,
    )
