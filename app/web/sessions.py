"""Browser sign-in sessions on top of Flask-Login: the signed cookie carries only the token of a
server-side `SignInSession` (Flask-Login's `_user_id`), checked on every request.

Any way of signing in calls `begin` once the account has proved itself, so a password today and
an identity provider later end up in the same kind of session, ended the same ways.
"""

from __future__ import annotations

from datetime import timedelta

from flask import request, session
from flask_login import current_user, login_user

from app.infra.extensions import db
from app.models import Admin, utcnow
from app.services.people import sign_in_sessions
from app.services.people.sign_in_sessions import Lifetimes
from app.wiring import wiring

USER_ID_KEY = "_user_id"  # where Flask-Login keeps the value of `Admin.get_id()`


def lifetimes() -> Lifetimes:
    s = wiring().settings
    return Lifetimes(
        idle=timedelta(minutes=s.session_idle_minutes),
        absolute=timedelta(hours=s.session_max_hours),
    )


def begin(admin: Admin, method: str) -> None:
    """Sign this browser in as `admin`: a new server-side session, and a renewed cookie
    session in which nothing from before survives (no fixation)."""
    token = sign_in_sessions.start(
        db.session,
        admin,
        method=method,
        now=utcnow(),
        lifetimes=lifetimes(),
        ip_address=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )
    session.clear()
    admin.sign_in_token = token
    login_user(admin)
    session.permanent = True


def current_token() -> str:
    """The token of the session this request is signed in with ("" when none)."""
    token = session.get(USER_ID_KEY)
    return token if isinstance(token, str) else ""


def adopt(token: str) -> None:
    """Carry on under a rotated token: the cookie sent back with this answer holds the new one."""
    session[USER_ID_KEY] = token
    current_user.sign_in_token = token


def load(token: str) -> Admin | None:
    """Flask-Login's user loader: the account a live session token signs in, else None (and the
    dead token leaves the cookie)."""
    admin = sign_in_sessions.resolve(db.session, token, now=utcnow(), lifetimes=lifetimes())
    if admin is None:
        session.pop(USER_ID_KEY, None)
        return None
    admin.sign_in_token = token
    return admin
