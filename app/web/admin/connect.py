"""Connect Factorial: the choice page, the redirect to Factorial, and the OAuth callback."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import utcnow
from app.services import connect, connections
from app.services.audit import Actor
from app.web.admin.forms import ConnectForm
from app.web.providers import client_for, notifier
from app.web.security import admin_required, settings

bp = Blueprint("connect", __name__)
log = logging.getLogger(__name__)


def _form() -> ConnectForm:
    form = ConnectForm()
    form.environment.choices = [(e.name, e.label) for e in settings().environments.values()]
    if not form.environment.data and form.environment.choices:
        form.environment.data = form.environment.choices[0][0]
    return form


@bp.get("/connect")
@login_required
def page() -> str:
    return render_template("connect/index.html", form=_form())


@bp.post("/connect")
@admin_required
def start() -> Response | tuple[str, int]:
    form = _form()
    if not form.validate_on_submit():
        return render_template("connect/index.html", form=form), 400
    return _redirect_to_factorial(form.environment.data or "", form.kind.data or "", None)


def _redirect_to_factorial(environment: str, kind: str, connection_id: int | None) -> Response:
    try:
        client = client_for(environment)
    except KeyError:
        abort(400, "That Factorial environment is not configured.")
    with client:
        url = connect.start_authorization(
            db.session,
            client,
            kind=kind,
            admin_id=current_user.id,
            now=utcnow(),
            connection_id=connection_id,
        )
    return redirect(url, code=303)


@bp.post("/connections/<id:connection_id>/reconnect")
@admin_required
def reconnect(connection_id: int) -> Response:
    connection = connections.get_connection(db.session, connection_id)
    if connection is None:
        abort(404, "No such connection.")
    return _redirect_to_factorial(connection.environment, connection.kind, connection.id)


@bp.get("/oauth/callback")
def callback() -> Response | tuple[str, int]:
    """Never redirects to sign-in: that would carry `code` and `state` into another URL."""
    if not current_user.is_authenticated or not current_user.is_admin:
        error = connect.CallbackRejected(
            "not_signed_in", "Sign in as an admin, then connect again."
        )
        return render_template("connect/failed.html", error=error, rejected=True), 400
    params = {
        key: request.args.get(key, "") for key in ("state", "code", "error", "error_description")
    }
    if "iss" in request.args:  # present but empty is a wrong issuer, not an absent one
        params["iss"] = request.args["iss"]
    actor = Actor.admin(current_user.id, current_user.email)
    try:
        result = connect.complete_authorization(
            db.session, client_for, actor=actor, params=params, now=utcnow(), notifier=notifier()
        )
    except connect.CallbackRejected as exc:
        log.warning("rejected OAuth callback: %s", exc.reason)
        return render_template("connect/failed.html", error=exc, rejected=True), 400
    except connect.ExchangeFailed as exc:
        log.warning("connect failed at Factorial: %s", exc.reason)
        return render_template("connect/failed.html", error=exc, rejected=False), 502
    connection = result.connection
    verb = "Connected" if result.created else "Reconnected"
    flash(f"{verb} {connection.owner_label} ({connection.kind} token).", "success")
    if result.other_account:
        flash(
            "You approved a different Factorial account than the one being reconnected.", "warning"
        )
    return redirect(url_for("dashboard.detail", connection_id=connection.id), code=303)
