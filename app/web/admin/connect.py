"""Connect Factorial: the choice page, the redirect to Factorial, and the OAuth callback
(reconnecting one connection is among its actions, in `connections`)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.services import connect
from app.web.admin import current_actor
from app.web.admin.forms import ConnectForm, offer_environments
from app.web.security import admin_required
from app.wiring import wiring

bp = Blueprint("connect", __name__)
log = logging.getLogger(__name__)


def _form() -> ConnectForm:
    form = ConnectForm()
    offer_environments(form.environment)
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
    return redirect_to_factorial(form.environment.data or "", form.kind.data or "", None)


def redirect_to_factorial(environment: str, kind: str, connection_id: int | None) -> Response:
    """303 to Factorial's consent page, for a new connection or to reconnect `connection_id`."""
    try:
        url = connect.start_authorization(
            db.session,
            wiring().deps,
            environment=environment,
            kind=kind,
            admin_id=current_user.id,
            connection_id=connection_id,
        )
    except connect.ConnectError as exc:
        abort(400, exc.message)
    return redirect(url, code=303)


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
    actor = current_actor()
    try:
        result = connect.complete_authorization(
            db.session, wiring().deps, actor=actor, params=params
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
    return redirect(url_for("connections.detail", connection_id=connection.id), code=303)
