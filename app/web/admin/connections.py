"""Actions on one connection: Refresh now, Revoke, Delete (with a confirmation step)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import Connection, utcnow
from app.refresh import lifecycle, tokens
from app.services import connections
from app.services.audit import Actor
from app.web.providers import client_for, notifier, policy
from app.web.security import admin_required

bp = Blueprint("connections", __name__, url_prefix="/connections")

REFRESH_MESSAGES = {
    "refreshed": ("Refreshed: a new access token is stored.", "success"),
    "sibling": ("Another process refreshed it just now; the new token is stored.", "success"),
    "busy": ("A refresh is already in progress; try again in a moment.", "warning"),
    "needs_reconnect": ("Factorial refused the refresh token: reconnect this account.", "error"),
    "not_refreshable": ("This connection has no refresh token to use.", "warning"),
    "transient": ("Factorial did not answer; the old token is kept and we will retry.", "error"),
}


def _actor() -> Actor:
    return Actor.admin(current_user.id, current_user.email)


def _connection(connection_id: int) -> Connection:
    connection = connections.get_connection(db.session, connection_id)
    if connection is None:
        abort(404, "No such connection.")
    return connection


@bp.post("/<id:connection_id>/refresh")
@admin_required
def refresh(connection_id: int) -> Response:
    _connection(connection_id)
    outcome = tokens.refresh_connection(
        db.session,
        client_for,
        connection_id,
        clock=utcnow,
        policy=policy(),
        notifier=notifier(),
        actor=_actor(),
        force=True,
    )
    message, category = REFRESH_MESSAGES.get(outcome.result, (outcome.message, "info"))
    flash(message, category)
    return redirect(url_for("dashboard.detail", connection_id=connection_id), code=303)


@bp.post("/<id:connection_id>/revoke")
@admin_required
def revoke(connection_id: int) -> Response:
    _connection(connection_id)
    outcome = lifecycle.revoke_connection(
        db.session, client_for, connection_id, now=utcnow(), notifier=notifier(), actor=_actor()
    )
    if outcome.result == "revoked":
        flash("Revoked at Factorial; the local tokens are wiped.", "success")
    else:
        flash(outcome.message, "warning")
    return redirect(url_for("dashboard.detail", connection_id=connection_id), code=303)


@bp.get("/<id:connection_id>/delete")
@admin_required
def confirm_delete(connection_id: int) -> str:
    return render_template("dashboard/confirm_delete.html", connection=_connection(connection_id))


@bp.post("/<id:connection_id>/delete")
@admin_required
def delete(connection_id: int) -> Response:
    _connection(connection_id)
    outcome = lifecycle.revoke_connection(
        db.session,
        client_for,
        connection_id,
        now=utcnow(),
        notifier=notifier(),
        actor=_actor(),
        delete_after=True,
    )
    if outcome.result == "deleted":
        flash("Revoked at Factorial and deleted.", "success")
        return redirect(url_for("dashboard.index"), code=303)
    flash(f"{outcome.message} The connection will be deleted once Factorial confirms.", "warning")
    return redirect(url_for("dashboard.detail", connection_id=connection_id), code=303)
