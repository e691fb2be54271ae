"""The dashboard: every connected account at a glance (one account's page is `connections`)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from app.infra.extensions import db
from app.models import utcnow
from app.services import connections
from app.services.keys import api_keys
from app.services.people import admins
from app.web.admin.forms import environment_labels
from app.web.numbers import page_number
from app.wiring import wiring

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


def margin() -> timedelta:
    return timedelta(seconds=wiring().settings.refresh_margin)


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
    counts = connections.status_counts(db.session, now, margin())
    listing = connections.page_of_connections(
        db.session, now, margin(), status=status, search=search, page=page, per_page=PER_PAGE
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
        environments=environment_labels(),
        admins_by_id={a.id: a.email for a in admins.list_admins(db.session)},
    )
