"""The JSON service API under /api/v1: list credentials, vend tokens, take reports of rejected
tokens; proxied Factorial calls are `proxy_routes`, nested here.

Every route but the document authenticates the caller and checks its scope (`guard.requires`);
the admin session cookie is never consulted, so CSRF does not apply (the blueprints are
exempt). Refusals are `{error, message}` (`answers`). The contract is `openapi.json`, served
at /api/v1/openapi.json.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, jsonify, request

from app.infra import metrics
from app.infra.extensions import csrf, db
from app.models import ApiKey, Connection, utcnow
from app.refresh import rejections
from app.services.service_api import service_clients, vend
from app.services.service_api.service_clients import Caller
from app.web.api import proxy_routes
from app.web.api.answers import Refusal, api_error, install_refusals, token_answer
from app.web.api.guard import counted, error_code, requires
from app.web.api.runtime import service_api
from app.wiring import wiring

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
install_refusals(bp)
bp.register_blueprint(proxy_routes.bp)

REPORTED_TOKEN_LIMIT = 8192


@bp.get("/openapi.json")
def openapi() -> Response:
    """Public: the contract, for anyone deciding whether to integrate."""
    return Response(service_api().openapi, mimetype="application/json")


@bp.get("/connections")
@requires()
def list_connections(caller: Caller) -> Response:
    now, margin = utcnow(), wiring().deps.policy.margin
    rows = service_clients.visible_connections(db.session, caller)
    return jsonify(data=[service_clients.describe_connection(c, now, margin) for c in rows])


@bp.get("/connections/<id:connection_id>")
@requires()
def get_connection(caller: Caller, connection_id: int) -> Response:
    connection = vend.granted(db.session, caller, "connection", connection_id)
    margin = wiring().deps.policy.margin
    return jsonify(service_clients.describe_connection(connection, utcnow(), margin))


@bp.get("/api-keys")
@requires()
def list_api_keys(caller: Caller) -> Response:
    rows = service_clients.visible_api_keys(db.session, caller)
    return jsonify(data=[service_clients.describe_api_key(k) for k in rows])


@bp.get("/api-keys/<id:key_id>")
@requires()
def get_api_key(caller: Caller, key_id: int) -> Response:
    key = cast(ApiKey, vend.granted(db.session, caller, "api_key", key_id))
    return jsonify(service_clients.describe_api_key(key))


def _count_vend(response: Response) -> None:
    metrics.record_vend(error_code(response))


@bp.get("/connections/<id:connection_id>/token")
@counted(_count_vend)
@requires("token:read")
def token(caller: Caller, connection_id: int) -> Response:
    """Consumers keep the token until shortly before its `expires_at` (openapi.json)."""
    found = wiring()
    vended = vend.token_for(db.session, caller, connection_id, found.deps)
    usage = found.service_api.usage
    due = usage.note(caller, (Connection, connection_id), "connection.token_vended", utcnow())
    return token_answer(vended, usage, due)


# What a consumer's report of a rejected token led to, when a token can still be handed out.
_REPORTED = {
    "replaced": (200, "A newer token is stored: fetch it from the token endpoint."),
    "accepted": (200, "Factorial accepts this token: the 401 was about that call (its path or "
                      "permissions), not the token."),
    "too_soon": (429, "This connection was checked or refreshed within the last minute: if "
                      "Factorial still rejects the token, report it again after Retry-After."),
    "busy": (429, "A check or refresh of this connection is still running; report it again "
                  "after Retry-After."),
}  # fmt: skip
_NOT_CHECKED = (502, "Factorial could not be asked about this token; report it again later.")


@bp.post("/connections/<id:connection_id>/token/rejections")
@requires("token:read")
def report_rejection(caller: Caller, connection_id: int) -> Response:
    """A consumer saw Factorial answer 401 to a vended token: check it (`rejections`)."""
    connection = vend.granted(db.session, caller, "connection", connection_id)
    rejected = _reported_token()
    actor = service_clients.actor_for(caller)
    deps = wiring().deps
    verdict = rejections.report(db.session, connection.id, rejected, deps, actor=actor)
    status, message = _REPORTED.get(verdict.result, _NOT_CHECKED)
    if status == 200:
        return jsonify(result=verdict.result, message=message)
    if status == 429:
        return api_error(429, "too_soon", message, {"Retry-After": str(verdict.retry_after or 1)})
    return api_error(status, "upstream_unavailable", message)


def _reported_token() -> str:
    body = request.get_json(silent=True)
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not 0 < len(token) <= REPORTED_TOKEN_LIMIT:
        message = 'Send JSON {"access_token": "<the token Factorial rejected>"}.'
        raise Refusal(api_error(400, "invalid_request", message))
    return token
