"""The people page: admins add accounts, change roles and deactivate; viewers read."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import Admin
from app.services.people import admins
from app.web.admin import current_actor
from app.web.admin.forms import ActionForm, NewAdminForm, RoleForm
from app.web.security import admin_required

bp = Blueprint("admins", __name__, url_prefix="/admins")


@bp.get("/")
@login_required
def index() -> str:
    return render_template(
        "admins/index.html",
        admins=admins.list_admins(db.session),
        new_form=NewAdminForm(),
        role_form=RoleForm(),
        action_form=ActionForm(),
    )


@bp.post("/")
@admin_required
def create() -> Response | tuple[str, int]:
    form = NewAdminForm()
    if not form.validate_on_submit():
        return _page_with_errors(form), 400
    try:
        admin = admins.create_admin(
            db.session,
            form.email.data or "",
            form.password.data or "",
            form.role.data or "",
            actor=current_actor(),
        )
    except admins.AdminError as exc:
        field = getattr(form, exc.field, form.email)
        field.errors = [*field.errors, str(exc)]
        return _page_with_errors(form), 400
    flash(f"Added {admin.email} as {admin.role}.", "success")
    return redirect(url_for("admins.index"))


def _page_with_errors(form: NewAdminForm) -> str:
    return render_template(
        "admins/index.html",
        admins=admins.list_admins(db.session),
        new_form=form,
        role_form=RoleForm(),
        action_form=ActionForm(),
    )


def _target(admin_id: int) -> Admin:
    admin = db.session.get(Admin, admin_id)
    if admin is None:
        abort(404, "No such account.")
    return admin


@bp.post("/<id:admin_id>/role")
@admin_required
def change_role(admin_id: int) -> Response:
    form = RoleForm()
    target = _target(admin_id)
    if not form.validate_on_submit():
        abort(400, "Choose admin or viewer.")
    try:
        admins.set_role(db.session, current_user, target, form.role.data or "")
    except admins.AdminError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{target.email} is now {target.role}.", "success")
    return redirect(url_for("admins.index"))


@bp.post("/<id:admin_id>/<any(activate, deactivate):action>")
@admin_required
def set_active(admin_id: int, action: str) -> Response:
    form = ActionForm()
    target = _target(admin_id)
    if not form.validate_on_submit():
        abort(400, "The form expired; reload and retry.")
    try:
        admins.set_active(db.session, current_user, target, action == "activate")
    except admins.AdminError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{target.email} is {'active' if target.active else 'deactivated'}.", "success")
    return redirect(url_for("admins.index"))
