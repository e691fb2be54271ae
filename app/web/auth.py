"""Sign-in and sign-out, with failed sign-ins throttled per account and per client address.

Signing in starts a server-side session (`app.web.sessions`); signing out ends it there, so a
copy of the cookie stops working too.

Only failures count: 10 per account (normalised email) and 50 per address in any 15 minutes.
Past either limit every attempt is refused with 429, even with the right password. Counters live
in a `limits` storage (`RATELIMIT_STORAGE_URI`): shared through Redis, per process with the
default `memory://`, and per process while Redis cannot be reached (`app.throttle`).
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.extensions import db
from app.models import Admin, utcnow
from app.services import admins, audit, sign_in_sessions
from app.services.audit import Actor
from app.throttle import SignInWindow
from app.web import sessions
from app.web.forms import ActionForm, LoginForm

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "Invalid email or password."
THROTTLED = "Too many failed sign-in attempts. Wait a few minutes, then try again."
ACCOUNT_LIMIT = "10 per 15 minutes"
ADDRESS_LIMIT = "50 per 15 minutes"
LABEL_LIMIT = 100


def _failure_limits(email: str) -> list[tuple[RateLimitItem, str, str]]:
    """(limit, scope, key) for the account and the client address; config may tighten them."""
    address = request.remote_addr or "unknown"
    account = email.strip().lower()
    return [
        (parse(current_app.config.get("LOGIN_ACCOUNT_LIMIT", ACCOUNT_LIMIT)), "account", account),
        (parse(current_app.config.get("LOGIN_ADDRESS_LIMIT", ADDRESS_LIMIT)), "address", address),
    ]


def _window() -> SignInWindow:
    window: SignInWindow = current_app.extensions["login_throttle"]
    return window


def retry_after(email: str) -> int | None:
    """Seconds until the next sign-in may be tried, or None when no limit is reached."""
    window = _window()
    waits = [
        window.get_window_stats(item, "login-failures", scope, key).reset_time - time.time()
        for item, scope, key in _failure_limits(email)
        if not window.test(item, "login-failures", scope, key)
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def count_failure(email: str) -> None:
    """Count a wrong password for this account (at sign-in or on the account page)."""
    window = _window()
    for item, scope, key in _failure_limits(email):
        window.hit(item, "login-failures", scope, key)


def _audit(action: str, actor: Actor, outcome: str, message: str) -> None:
    """Record a sign-in event and commit it; the password never reaches the log."""
    details = {"ip": request.remote_addr or ""}
    audit.record_now(
        db.session,
        action,
        now=utcnow(),
        actor=actor,
        outcome=outcome,
        message=message,
        details=details,
    )


def _anonymous(email: str) -> Actor:
    return Actor(kind="anonymous", label=email.strip()[:LABEL_LIMIT])


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
        email = form.email.data or ""
        wait = retry_after(email)
        if wait is not None:
            _audit("auth.login_throttled", _anonymous(email), "failed", "too many failed sign-ins")
            raise TooManyRequests(THROTTLED, retry_after=wait)
        admin = admins.authenticate(db.session, email, form.password.data or "")
        if admin is None:
            count_failure(email)
            _audit("auth.login_failed", _anonymous(email), "failed", "wrong email or password")
            flash(BAD_CREDENTIALS, "error")
            return render_template("auth/login.html", form=form), 200
        _audit("auth.login_succeeded", Actor.admin(admin.id, admin.email), "ok", "signed in")
        return _sign_in(admin, safe_next(form.next.data))
    return render_template("auth/login.html", form=form)


def _sign_in(admin: Admin, destination: str) -> Response:
    sessions.begin(admin, "password")
    return redirect(destination)


@bp.post("/logout")
def logout() -> Response:
    form = ActionForm()
    if form.validate_on_submit():
        sign_in_sessions.sign_out(
            db.session, sessions.current_token(), now=utcnow(), ip_address=request.remote_addr or ""
        )
        logout_user()
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
