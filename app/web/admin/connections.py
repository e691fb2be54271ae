"""One connection's page and every action on it: Refresh now, Reconnect, Revoke, Delete (with a
confirmation step)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import Admin, Connection, utcnow
from app.refresh import lifecycle, protocol
from app.refresh.lifecycle import REFRESH_TOKEN_LIFE
from app.services import connections
from app.web.admin import current_actor
from app.web.admin.connect import redirect_to_factorial
from app.web.admin.dashboard import margin
from app.web.admin.forms import environment_labels
from app.web.security import admin_required
from app.wiring import wiring

bp = Blueprint("connections", __name__, url_prefix="/connections")

REFRESH_MESSAGES = {
    "refreshed": ("Refreshed: a new access token is stored.", "success"),
    "sibling": ("Another process refreshed it just now; the new token is stored.", "success"),
    "busy": ("A refresh is already in progress; try again in a moment.", "warning"),
    "needs_reconnect": ("Factorial refused the refresh token: reconnect this account.", "error"),
    "not_refreshable": ("This connection has no refresh token to use.", "warning"),
    "transient": ("Factorial did not answer; the old token is kept and we will retry.", "error"),
}


def _connection(connection_id: int) -> Connection:
    connection = connections.get_connection(db.session, connection_id)
    if connection is None:
        abort(404, "No such connection.")
    return connection


@bp.get("/<id:connection_id>")
@login_required
def detail(connection_id: int) -> str:
    connection = _connection(connection_id)
    now = utcnow()
    connected_by = (
        db.session.get(Admin, connection.connected_by_id) if connection.connected_by_id else None
    )
    issued = connection.refresh_token_issued_at
    return render_template(
        "connections/detail.html",
        connection=connection,
        status=connections.status_of(connection, now, margin()),
        events=connections.events_for(db.session, connection.id),
        connected_by=connected_by.email if connected_by else "",
        environments=environment_labels(),
        next_refresh=connections.next_refresh_at(
            connection, margin(), wiring().settings.keepalive_after
        ),
        refresh_token_dies=issued + REFRESH_TOKEN_LIFE if issued else None,
        now=now,
    )


@bp.post("/<id:connection_id>/reconnect")
@admin_required
def reconnect(connection_id: int) -> Response:
    connection = _connection(connection_id)
    return redirect_to_factorial(connection.environment, connection.kind, connection.id)


@bp.post("/<id:connection_id>/refresh")
@admin_required
def refresh(connection_id: int) -> Response:
    _connection(connection_id)
    outcome = protocol.refresh_connection(
        db.session, connection_id, wiring().deps, actor=current_actor(), force=True
    )
    message, category = REFRESH_MESSAGES.get(outcome.result, (outcome.message, "info"))
    flash(message, category)
    return redirect(url_for("connections.detail", connection_id=connection_id), code=303)


@bp.post("/<id:connection_id>/revoke")
@admin_required
def revoke(connection_id: int) -> Response:
    outcome = _revoke(connection_id, delete_after=False)
    if outcome.result == "revoked":
        flash("Revoked at Factorial; the local tokens are wiped.", "success")
    else:
        flash(outcome.message, "warning")
    return redirect(url_for("connections.detail", connection_id=connection_id), code=303)


@bp.get("/<id:connection_id>/delete")
@admin_required
def confirm_delete(connection_id: int) -> str:
    return render_template("connections/confirm_delete.html", connection=_connection(connection_id))


@bp.post("/<id:connection_id>/delete")
@admin_required
def delete(connection_id: int) -> Response:
    outcome = _revoke(connection_id, delete_after=True)
    if outcome.result == "deleted":
        flash("Revoked at Factorial and deleted.", "success")
        return redirect(url_for("dashboard.index"), code=303)
    flash(f"{outcome.message} The connection will be deleted once Factorial confirms.", "warning")
    return redirect(url_for("connections.detail", connection_id=connection_id), code=303)


def _revoke(connection_id: int, *, delete_after: bool) -> lifecycle.RevokeOutcome:
    """Revoke at Factorial (then delete, when asked); 404 for an unknown connection."""
    _connection(connection_id)
    return lifecycle.revoke_connection(
        db.session, connection_id, wiring().deps, actor=current_actor(), delete_after=delete_after
    )
