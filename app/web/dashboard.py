"""The dashboard: every connected account at a glance, and one account's page."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template
from flask_login import login_required

from app.extensions import db
from app.models import Admin, utcnow
from app.services import admins, connections
from app.web.security import settings

bp = Blueprint("dashboard", __name__)


def _margin() -> timedelta:
    return timedelta(seconds=settings().refresh_margin)


def _environment_labels() -> dict[str, str]:
    return {e.name: e.label for e in settings().environments.values()}


@bp.get("/")
@login_required
def index() -> str:
    now = utcnow()
    rows = [
        {"connection": c, "status": connections.status_of(c, now, _margin())}
        for c in connections.list_connections(db.session)
    ]
    return render_template(
        "dashboard/index.html",
        rows=rows,
        now=now,
        environments=_environment_labels(),
        admins_by_id={a.id: a.email for a in admins.list_admins(db.session)},
    )


@bp.get("/connections/<int:connection_id>")
@login_required
def detail(connection_id: int) -> str:
    connection = connections.get_connection(db.session, connection_id)
    if connection is None:
        abort(404, "No such connection.")
    now = utcnow()
    connected_by = (
        db.session.get(Admin, connection.connected_by_id)
        if connection.connected_by_id
        else None
    )
    return render_template(
        "dashboard/detail.html",
        connection=connection,
        status=connections.status_of(connection, now, _margin()),
        events=connections.events_for(db.session, connection.id),
        connected_by=connected_by.email if connected_by else "",
        environments=_environment_labels(),
        now=now,
    )
