"""Security headers on every response, the session interface, and the view helpers that gate
admin-only actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Request, Response, abort, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user, login_required

from app.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    """The running app's settings object."""
    return cast(Settings, current_app.extensions["settings"])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(s: Settings) -> str:
    """No inline script; forms may only post here or redirect to a configured Factorial."""
    providers = " ".join(sorted({_origin(e.base_url) for e in s.environments.values()}))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action 'self' {providers}".strip(),
            "frame-ancestors 'none'",
        )
    )


class ApiAwareSessionInterface(SecureCookieSessionInterface):
    """The service API authenticates by bearer secret alone: its requests get Flask's null
    session, so an admin's cookie can never reach it (and no request pays for decoding one)."""

    def open_session(self, app: Flask, incoming: Request) -> SecureCookieSession | None:
        if incoming.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, incoming)


def install_security_headers(app: Flask, s: Settings) -> None:
    csp = content_security_policy(s)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if s.is_production:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response


def admin_required(view: F) -> F:
    """Signed-in admins only; viewers get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, "Viewers can look but not change anything; ask an admin.")
        return view(*args, **kwargs)

    return cast(F, wrapped)
