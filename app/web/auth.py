"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from app.extensions import db
from app.models import utcnow
from app.services import admins
from app.web.forms import ActionForm, LoginForm

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "Invalid email or password."


def safe_next(target: str | None) -> str:
    """A same-origin relative path to go to after sign-in; anything else becomes the dashboard."""
    fallback = url_for("dashboard.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        admin = admins.authenticate(
            db.session, form.email.data or "", form.password.data or "", utcnow()
        )
        if admin is None:
            flash(BAD_CREDENTIALS, "error")
            return render_template("auth/login.html", form=form), 200
        destination = safe_next(form.next.data)
        session.clear()  # renew the session at privilege change: nothing from before survives
        login_user(admin)
        session.permanent = True
        return redirect(destination)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    form = ActionForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
