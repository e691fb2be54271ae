"""API keys: Factorial's other credential, stored, verified and watched beside connections.

Views parse the form, call one service and render or redirect. The key itself never reaches
a page, a URL, a flash message or a log line: only its fingerprint does.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import Admin, ApiKey, utcnow
from app.services.keys import api_key_remote, api_key_rotation, api_key_verification, api_keys
from app.services.keys.api_key_lease import KeyChanged
from app.services.keys.api_keys import ApiKeyError
from app.web.admin import current_actor
from app.web.admin.api_key_forms import AddApiKeyForm, CreateApiKeyForm, DeleteApiKeyForm
from app.web.admin.forms import ActionForm, environment_labels, offer_environments
from app.web.security import admin_required
from app.wiring import wiring

bp = Blueprint("api_keys", __name__, url_prefix="/api-keys")
log = logging.getLogger(__name__)


def _key_or_404(key_id: int) -> ApiKey:
    key = api_keys.get_key(db.session, key_id)
    if key is None:
        abort(404, "No such API key.")
    return key


@bp.get("/")
@login_required
def index() -> str:
    keys = api_keys.list_keys(db.session)
    return render_template(
        "api_keys/index.html",
        rows=[{"key": k, "status": api_keys.status_of(k)} for k in keys],
        summary=api_keys.summary(db.session),
        environments=environment_labels(),
        now=utcnow(),
    )


def _add_form() -> AddApiKeyForm:
    form = AddApiKeyForm()
    offer_environments(form.environment)
    return form


@bp.get("/new")
@admin_required
def new() -> str:
    return render_template("api_keys/new.html", form=_add_form())


@bp.post("/new")
@admin_required
def add() -> Response | tuple[str, int]:
    form = _add_form()
    if not form.validate_on_submit():
        return render_template("api_keys/new.html", form=form), 400
    try:
        key = api_keys.add(
            db.session,
            wiring().deps,
            environment=form.environment.data or "",
            label=form.label.data or "",
            raw_key=form.key.data or "",
            actor=current_actor(),
        )
    except ApiKeyError as exc:
        log.info("API key not added: %s", exc.reason)
        form.key.errors = [exc.message]
        status = 502 if isinstance(exc, api_keys.ProviderFailed) else 400
        return render_template("api_keys/new.html", form=form, existing_id=exc.existing_id), status
    flash(f"Stored and verified {key.label} ({key.fingerprint}).", "success")
    return redirect(url_for("api_keys.detail", key_id=key.id), code=303)


@bp.get("/<id:key_id>")
@login_required
def detail(key_id: int) -> str:
    return _render_detail(_key_or_404(key_id), CreateApiKeyForm())


def _render_detail(key: ApiKey, create_form: CreateApiKeyForm) -> str:
    creator = db.session.get(Admin, key.created_by_id) if key.created_by_id else None
    return render_template(
        "api_keys/detail.html",
        key=key,
        status=api_keys.status_of(key),
        events=api_keys.events_for(db.session, key.id),
        created_by=creator.email if creator else "",
        environments=environment_labels(),
        create_form=create_form,
        now=utcnow(),
    )


@bp.post("/<id:key_id>/verify")
@admin_required
def verify(key_id: int) -> Response:
    key = _key_or_404(key_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload and retry.")
    result = api_key_verification.verify(db.session, key, wiring().deps, actor=current_actor())
    messages = {
        "ok": ("Factorial accepts this key.", "success"),
        "rejected": (api_keys.REJECTED_MESSAGE, "error"),
        "error": (f"Could not verify: {key.last_error}", "warning"),
    }
    flash(*messages[result])
    return redirect(url_for("api_keys.detail", key_id=key.id), code=303)


@bp.get("/<id:key_id>/delete")
@admin_required
def confirm_delete(key_id: int) -> str:
    return render_template("api_keys/delete.html", key=_key_or_404(key_id), form=DeleteApiKeyForm())


@bp.post("/<id:key_id>/delete")
@admin_required
def delete(key_id: int) -> Response | tuple[str, int]:
    """Like rotation, the key is read under its change lease: a page older than another admin's
    deletion or rotation gets its outcome, not a 404."""
    form = DeleteApiKeyForm()
    if not form.validate_on_submit():
        return render_template("api_keys/delete.html", key=_key_or_404(key_id), form=form), 400
    try:
        gone = api_key_remote.delete(
            db.session,
            key_id,
            wiring().deps,
            actor=current_actor(),
            in_factorial=bool(form.in_factorial.data),
        )
    except KeyChanged as exc:
        return _settled(exc)
    except ApiKeyError as exc:
        form.in_factorial.errors = [f"{exc.message} Nothing was deleted."]
        status = 502 if isinstance(exc, api_key_remote.RemoteFailed) else 400
        return render_template("api_keys/delete.html", key=_key_or_404(key_id), form=form), status
    flash(f"Deleted {gone.label} ({gone.fingerprint}).", "success")
    return redirect(url_for("api_keys.index"), code=303)


def _settled(exc: KeyChanged) -> Response:
    """Someone else's rotation or deletion decided this key's fate: say so, show what is left."""
    flash(exc.message, "warning" if exc.reason == "busy" else "info")
    if exc.existing_id is None:
        return redirect(url_for("api_keys.index"), code=303)
    return redirect(url_for("api_keys.detail", key_id=exc.existing_id), code=303)


@bp.post("/<id:key_id>/rotate")
@admin_required
def rotate(key_id: int) -> Response:
    """The key is read under its change lease, not here: a page older than another admin's
    rotation gets that rotation's outcome, not a 404."""
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload and retry.")
    try:
        result = api_key_rotation.rotate(db.session, key_id, wiring().deps, actor=current_actor())
    except KeyChanged as exc:
        return _settled(exc)
    except ApiKeyError as exc:
        flash(f"Not rotated: {exc.message} The key is unchanged.", "error")
        return redirect(url_for("api_keys.detail", key_id=key_id), code=303)
    flash(result.message, "success" if result.complete else "warning")
    return redirect(url_for("api_keys.detail", key_id=result.new_key.id), code=303)


@bp.post("/<id:key_id>/create")
@admin_required
def create(key_id: int) -> Response | tuple[str, int]:
    key = _key_or_404(key_id)
    form = CreateApiKeyForm()
    if not form.validate_on_submit():
        return _render_detail(key, form), 400
    try:
        created = api_key_remote.create(
            db.session,
            wiring().deps,
            company_of=key,
            label=form.label.data or "",
            actor=current_actor(),
        )
    except ApiKeyError as exc:
        flash(f"Not created: {exc.message}", "error")
        return redirect(url_for("api_keys.detail", key_id=key.id), code=303)
    flash(f"Created {created.label} ({created.fingerprint}) in Factorial and stored it.", "success")
    return redirect(url_for("api_keys.detail", key_id=created.id), code=303)


@bp.get("/<id:key_id>/factorial")
@login_required
def remote(key_id: int) -> str | tuple[str, int]:
    key = _key_or_404(key_id)
    try:
        listed = api_key_remote.list_remote(db.session, key, wiring().deps)
    except ApiKeyError as exc:
        return render_template("api_keys/remote.html", key=key, remote=[], error=exc.message), 502
    return render_template("api_keys/remote.html", key=key, remote=listed, error="")
