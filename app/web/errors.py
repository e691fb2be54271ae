"""Errors become friendly HTML pages, or JSON for /api/ paths, after a rollback."""

from __future__ import annotations

import logging
from contextlib import suppress

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response as ResponseBase

from app.infra.extensions import db

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}
DATABASE_DOWN = "The database cannot be reached just now; retry in a few seconds."
PASSED_HEADERS = frozenset({"Retry-After", "WWW-Authenticate", "Allow"})
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(
    status: int, message: str, code: str | None = None
) -> tuple[Response | str, int]:
    """The error as JSON `{error, message}` for API paths, else the friendly HTML page."""
    if wants_json():
        body = jsonify(error=code or CODES.get(status, "error"), message=message)
        return body, status
    page = render_template(
        "errors/error.html", status=status, title=TITLES.get(status, "Error"), message=message
    )
    return page, status


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(OperationalError, _database_unreachable)
    app.register_error_handler(Exception, _unexpected)


def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
    db.session.rollback()
    return error_response(400, "The form expired or was not sent from this site. Reload and retry.")


def _http(exc: HTTPException) -> ResponseBase:
    db.session.rollback()
    status = exc.code or 500
    if status < 400:
        return exc.get_response()
    body, status = error_response(status, exc.description or TITLES.get(status, "Error"))
    response = make_response(body, status)
    for name, value in exc.get_headers():
        if name in PASSED_HEADERS:
            response.headers[name] = value
    return response


def _database_unreachable(exc: OperationalError) -> ResponseBase:
    """A restart or failover of the database: 503 with Retry-After, not a 500."""
    log.warning("database unreachable on %s %s (%s)", request.method, request.path,
                type(exc.orig).__name__)  # fmt: skip
    with suppress(OperationalError):  # the connection is already gone; the pool replaces it
        db.session.rollback()
    if wants_json():
        response = jsonify(error="database_unavailable", message=DATABASE_DOWN)
    else:
        # Rendered without the context processors: the sign-in one asks the database.
        page = current_app.jinja_env.get_template("errors/unavailable.html")
        response = make_response(page.render(message=DATABASE_DOWN, url_for=url_for))
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def _unexpected(exc: Exception) -> tuple[Response | str, int]:
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, InternalServerError.description)
