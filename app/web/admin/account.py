"""Your own account: who you are signed in as, this session's limits, and a password change.

Changing the password needs the current one (wrong ones count towards the sign-in throttle of
the account, so a stolen session cannot guess it), ends every other session of the account and
rotates this one's token.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.models import utcnow
from app.services import audit
from app.services.people import admins, sign_in_sessions
from app.web import sessions
from app.web.admin import current_actor
from app.web.admin.auth import THROTTLED, count_failure, retry_after
from app.web.admin.forms import ChangePasswordForm
from app.web.templating import humanize_delta

bp = Blueprint("account", __name__, url_prefix="/account")


def _session_ends_by() -> datetime | None:
    """When this session ends at the latest if used on (its absolute limit)."""
    record = sign_in_sessions.find(db.session, sessions.current_token())
    return None if record is None else record.created_at + sessions.lifetimes().absolute


def _page(form: ChangePasswordForm) -> str:
    return render_template(
        "account/index.html",
        form=form,
        ends_by=_session_ends_by(),
        idle=humanize_delta(sessions.lifetimes().idle.total_seconds()),
        now=utcnow(),
    )


@bp.get("/")
@login_required
def index() -> str:
    return _page(ChangePasswordForm())


@bp.post("/password")
@login_required
def change_password() -> Response | tuple[str, int]:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _page(form), 400
    wait = retry_after(current_user.email)
    if wait is not None:
        raise TooManyRequests(THROTTLED, retry_after=wait)
    try:
        token = admins.change_password(
            db.session,
            current_user,
            form.current_password.data or "",
            form.password.data or "",
            token=sessions.current_token(),
            now=utcnow(),
        )
    except admins.AdminError as exc:
        if exc.field == "current_password":
            _wrong_current_password()
        field = form.password if exc.field == "password" else form.current_password
        field.errors = [*field.errors, str(exc)]
        return _page(form), 400
    sessions.adopt(token)
    flash("Your password is changed. Every other session of your account has ended.", "success")
    return redirect(url_for("account.index"), code=303)


def _wrong_current_password() -> None:
    """Counted and audited like a failed sign-in."""
    count_failure(current_user.email)
    audit.record_now(
        db.session,
        "admin.password_change_failed",
        now=utcnow(),
        actor=current_actor(),
        target=current_user._get_current_object(),
        outcome="failed",
        message="wrong current password",
        details={"ip": request.remote_addr or ""},
    )
