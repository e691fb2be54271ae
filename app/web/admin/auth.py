"""Sign-in and sign-out, with failed sign-ins throttled per account and per client address.

Signing in starts a server-side session (`app.web.sessions`); signing out ends it there, so a
copy of the cookie stops working too.

Only failures count: 10 per account (normalised email) and 50 per address in any 15 minutes.
Past either limit every attempt is refused with 429, even with the right password. Counters live
in a `limits` storage (`RATELIMIT_STORAGE_URI`): shared through Redis, per process with the
default `memory://`, and per process while Redis cannot be reached (`app.infra.throttle`).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
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

from app.identity import IdentityClient, IdentityError
from app.infra.extensions import db
from app.infra.throttle import SignInWindow
from app.models import Admin, utcnow
from app.services import audit
from app.services.audit import Actor
from app.services.people import admins, oidc_sign_in, sign_in_sessions
from app.web import sessions
from app.web.admin.forms import ActionForm, LoginForm
from app.wiring import wiring

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
BROWSER_KEY = "oidc_browser"  # a random value binding a started IdP sign-in to this browser
PASSWORDS_OFF = "Password sign-in is off; only break-glass accounts may use a password."

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
    window = wiring().login_throttle
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


def _login_page(form: LoginForm) -> str:
    s = wiring().settings
    show_form = (
        s.password_login or request.args.get("break_glass") == "1" or request.method == "POST"
    )
    return render_template(
        "auth/login.html",
        form=form,
        oidc=s.oidc,
        password_login=s.password_login,
        show_password_form=show_form,
    )


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
            return _login_page(form), 200
        if not admin.break_glass and not wiring().settings.password_login:
            count_failure(email)
            _audit("auth.login_failed", _anonymous(email), "failed", "password sign-in is off")
            flash(PASSWORDS_OFF, "error")
            return _login_page(form), 200
        if admin.break_glass:
            message = "signed in with the password of a break-glass account"
            _audit("auth.break_glass_login", Actor.admin(admin.id, admin.email), "ok", message)
        else:
            _audit("auth.login_succeeded", Actor.admin(admin.id, admin.email), "ok", "signed in")
        return _sign_in(admin, safe_next(form.next.data))
    return _login_page(form)


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


def _identity_client() -> IdentityClient:
    s = wiring().settings
    if s.oidc is None:
        abort(404, "Sign-in through an identity provider is not configured.")
    return IdentityClient(s.oidc, (s.factorial_connect_timeout, s.factorial_read_timeout))


def _callback_url() -> str:
    return url_for("auth.oidc_callback", _external=True)


@bp.get("/auth/oidc/start")
def oidc_start() -> Response:
    """Off to the identity provider; the answer must come back to this browser."""
    client = _identity_client()
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    browser = session.get(BROWSER_KEY)
    if not isinstance(browser, str) or len(browser) != 43:
        browser = session[BROWSER_KEY] = secrets.token_urlsafe(32)
    with client:
        try:
            url = oidc_sign_in.start(
                db.session,
                client,
                redirect_uri=_callback_url(),
                browser=browser,
                next_path=safe_next(request.args.get("next")),
                now=utcnow(),
            )
        except IdentityError as exc:
            flash(exc.message, "error")
            return redirect(url_for("auth.login"), code=303)
    return redirect(url, code=303)


@bp.get("/auth/oidc/callback")
def oidc_callback() -> Response:
    """The identity provider's answer; always leaves for a URL without `code` or `state`."""
    client = _identity_client()
    params = {
        key: request.args.get(key, "") for key in ("state", "code", "error", "error_description")
    }
    if "iss" in request.args:  # present but empty is a wrong issuer, not an absent one
        params["iss"] = request.args["iss"]
    browser = session.get(BROWSER_KEY, "")  # kept until a sign-in succeeds (`begin` clears it)
    with client:
        try:
            result = oidc_sign_in.complete(
                db.session,
                client,
                params=params,
                browser=browser if isinstance(browser, str) else "",
                redirect_uri=_callback_url(),
                now=utcnow(),
                ip=request.remote_addr or "",
            )
        except oidc_sign_in.SignInRefused as exc:
            flash(f"Not signed in: {exc.message}", "error")
            return redirect(url_for("auth.login"), code=303)
    sessions.begin(result.admin, "oidc")
    return redirect(safe_next(result.next_path), code=303)
