"""Security headers on every response, the session interface, and the view helpers that gate
admin-only actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Request, abort
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user, login_required

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from app.infra.request_id import end_request, start_request
from app.infra.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


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


# URLs that carry secrets in their query string (the OAuth callback's `code` and `state`) must
# never be sent as a Referer, not even to our own static files. Everywhere else the browser
# sends the same-origin Referer that Flask-WTF requires of every CSRF-protected POST over HTTPS,
# and still nothing to another site.
SECRET_URL_PATHS = frozenset({"/oauth/callback", "/auth/oidc/callback"})
NO_REFERRER = ("Referrer-Policy", "no-referrer")
SAME_ORIGIN = ("Referrer-Policy", "same-origin")


class ResponseHeaders:
    """WSGI middleware around the app: every response carries the security headers and the
    request id, and the id is known to the log for the request's whole life.

    It works on the raw header list: the same headers set through Flask's per-header API cost a
    fifth of a small request's time. Headers a view set itself (`defaults`: a page's own CSP or
    Cache-Control) are kept; `fixed` ones always win."""

    def __init__(self, app: WSGIApplication, s: Settings) -> None:
        self.app = app
        fixed = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
        ]
        if s.is_production:
            fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        self.fixed = fixed
        self.fixed_names = {name.lower() for name, _ in fixed} | {"referrer-policy"}
        self.defaults = [
            ("Content-Security-Policy", content_security_policy(s)),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        self.no_store = ("Cache-Control", "no-store")  # everything but static files

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Hand the id back, so a user's report or the proxy's log can be matched to our lines.
        request_id = start_request(environ.get("HTTP_X_REQUEST_ID"))
        path = environ.get("PATH_INFO", "")
        static = path.startswith("/static/")
        referrer = NO_REFERRER if path in SECRET_URL_PATHS else SAME_ORIGIN

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            if present & self.fixed_names:
                headers[:] = [(n, v) for n, v in headers if n.lower() not in self.fixed_names]
            headers.extend(self.fixed)
            headers.append(referrer)
            headers.extend(d for d in self.defaults if d[0].lower() not in present)
            if not static and "cache-control" not in present:
                headers.append(self.no_store)
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            end_request()  # back to '-': later lines on this thread are not the request's


def install_security_headers(app: Flask, s: Settings) -> None:
    app.wsgi_app = ResponseHeaders(app.wsgi_app, s)  # type: ignore[method-assign]


def admin_required(view: F) -> F:
    """Signed-in admins only; viewers get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, "Viewers can look but not change anything; ask an admin.")
        return view(*args, **kwargs)

    return cast(F, wrapped)
