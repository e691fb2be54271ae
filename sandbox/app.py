"""The app factory: wires the OAuth server, the API, the control API and request hooks.

Per request, in order: count it, apply an armed fault, apply the POST rate limit, then take
the database lock for the view; after the view, commit and release the lock before any
`process_then_*` fault rewrites or delays the answer (so a delay never blocks others), and
any fault's extra headers are added to the answer.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox import api, consent, control, idp, idp_control
from sandbox.config import SandboxConfig
from sandbox.context import close_db, current, open_db
from sandbox.faults import Fault
from sandbox.oauth import SandboxServer
from sandbox.protect import build_protector
from sandbox.ratelimit import bucket_for
from sandbox.store import open_sandbox

STATIC_PREFIX = "/sandbox-static/"


def create_app(config: SandboxConfig | None = None) -> Flask:
    """A fresh sandbox app with its own freshly seeded database."""
    config = config or SandboxConfig()
    app = Flask(__name__, static_url_path=STATIC_PREFIX.rstrip("/"))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    sandbox = open_sandbox(config)
    sandbox.server = SandboxServer(sandbox)
    sandbox.protector = build_protector(sandbox)
    sandbox.idp = idp.IdentityProvider()
    app.extensions["sandbox"] = sandbox
    app.register_blueprint(consent.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(idp.bp)
    if config.control_enabled:
        app.register_blueprint(control.bp)
        app.register_blueprint(idp_control.control_bp)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _before() -> Response | None:
    sandbox = current()
    path = request.path
    if path.startswith(("/_sandbox/", STATIC_PREFIX)):
        open_db()
        return None
    grant_type = request.form.get("grant_type") if path == "/oauth/token" else None
    sandbox.counts.record(path, grant_type, request.method, request.headers.items())
    fault = sandbox.faults.take(path, grant_type)
    if fault is not None and fault.mode == "fail":
        time.sleep(fault.delay)  # a provider that hangs, then fails, having done nothing
        return fault.response()
    if fault is not None and fault.mode == "delay":
        time.sleep(fault.delay)
    if fault is not None:
        g.sandbox_fault = fault
    limited = _rate_limit()
    if limited is not None:
        return limited
    open_db()
    return None


def _rate_limit() -> Response | None:
    """429 with Retry-After once a credential exceeds its POSTs per minute."""
    bucket = bucket_for(request.path)
    if request.method != "POST" or bucket is None:
        return None
    credential = (
        request.headers.get("x-api-key")
        or request.headers.get("Authorization")
        or request.remote_addr
        or "anonymous"
    )
    retry_after = current().limiter.hit(bucket, credential, current().clock.exact())
    if retry_after is None:
        return None
    response = jsonify(
        {
            "error": "too_many_requests",
            "retry_after": retry_after,
            "error_description": "Rate limit exceeded, retry later.",
        }
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _after(response: Response) -> Response:
    close_db(commit=response.status_code < 500)
    fault: Fault | None = g.pop("sandbox_fault", None)
    if fault is None:
        return response
    if fault.mode == "process_then_fail":
        return fault.response()
    if fault.mode == "process_then_delay":
        time.sleep(fault.delay)
    return fault.decorate(response)


def _teardown(_error: BaseException | None) -> None:
    close_db(commit=False)


def _http_error(error: HTTPException) -> Response | HTTPException:
    """JSON errors (404 unknown path, 405, ...) unless a view built its own response."""
    if error.response is not None or error.code is None:
        return error
    response = jsonify(
        {
            "error": (error.name or "error").lower().replace(" ", "_"),
            "error_description": error.description,
        }
    )
    response.status_code = error.code
    return response
