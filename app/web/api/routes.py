"""The JSON service API under /api/v1: list credentials, vend tokens, proxy Factorial calls.

Only a service client's bearer secret authenticates here; the admin session cookie is never
consulted, so CSRF does not apply (the blueprint is exempt). Errors are `{error, message}`.
The contract is `app/openapi.json`, served at /api/v1/openapi.json.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from limits import parse as parse_limit

from app.factorial.ratelimit import V1_POSTS, Classifier, PostLimiter, limit_for
from app.infra import metrics
from app.infra.extensions import csrf, db
from app.infra.throttle import SharedWindow
from app.models import MAX_ID, ApiKey, Connection, utcnow
from app.refresh import rejections
from app.services.deps import Deps
from app.services.service_api import proxy, service_clients, vend
from app.web.providers import client_for, notifier, policy, read_cache, read_engine
from app.web.security import settings

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

REALM = 'Bearer realm="factorial-connect"'
OPENAPI = Path(__file__).resolve().parent / "openapi.json"
# A token must not be kept by any cache on its way (HTTP/1.0 ones read Pragma).
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
REPORTED_TOKEN_LIMIT = 8192
_runtime_lock = threading.Lock()


@dataclass(frozen=True)
class Runtime:
    """Per-app objects built once: the shared POST limiter and the usage counter."""

    proxy: proxy.ProxyContext
    usage: vend.UsageRecorder
    openapi: bytes


def _classifier(limits: Mapping[str, str] | None) -> Classifier:
    """Factorial's limits, or (tests, smaller windows) `{"v1"|"v2": "N per S seconds"}`."""
    if not limits:
        return limit_for
    items = {family: parse_limit(spec) for family, spec in limits.items()}

    def classify(method: str, path: str) -> Any:
        item = limit_for(method, path)
        family = "v1" if item is V1_POSTS else "v2"
        return None if item is None else items.get(family, item)

    return classify


def _build(app: Flask) -> Runtime:
    config = app.config
    window = SharedWindow(app.extensions["settings"].ratelimit_storage_uri, counting="proxy POSTs")
    limiter = PostLimiter(window, classify=_classifier(config.get("API_PROXY_POST_LIMITS")))
    return Runtime(
        proxy=proxy.ProxyContext(limiter, float(config.get("API_PROXY_MAX_WAIT", 2.0))),
        usage=vend.UsageRecorder(float(config.get("API_USAGE_INTERVAL", 60.0))),
        openapi=OPENAPI.read_bytes(),
    )


def runtime(app: Flask | None = None) -> Runtime:
    """This app's runtime (the current app's by default), built on first use."""
    if app is None:
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    found = app.extensions.get("service_api")
    if found is None:
        with _runtime_lock:
            found = app.extensions.get("service_api") or _build(app)
            app.extensions["service_api"] = found
    return cast(Runtime, found)


def api_error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> Response:
    response = jsonify(error=code, message=message, **(extra or {}))
    response.status_code = status
    response.headers.update(headers or {})
    return response


@bp.before_request
def _authenticate() -> Response | None:
    """Bearer secret → g.service_client; 401 with a WWW-Authenticate challenge otherwise."""
    if request.endpoint == "api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    if not header.strip():
        return api_error(401, "unauthorized", "Send Authorization: Bearer <secret>.",
                         {"WWW-Authenticate": REALM})  # fmt: skip
    secret = bearer_secret(header)
    client = None if secret is None else _identify(secret)
    if client is None:
        challenge = f'{REALM}, error="invalid_token"'
        return api_error(401, "invalid_token", "The bearer secret is not valid.",
                         {"WWW-Authenticate": challenge})  # fmt: skip
    g.service_client = client
    return None


def bearer_secret(header: str) -> str | None:
    """The secret of `Authorization: Bearer <secret>` if it can be one of ours
    (`service_clients.parse_secret`); None otherwise, before any query."""
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or service_clients.parse_secret(secret) is None:
        return None
    return secret


def _identify(secret: str) -> service_clients.Caller | None:
    """Authenticate in one read-only query; for the token endpoint the same query also reads
    the stored token (`vend.peek`), left in g.ready_token when it can be handed out as is."""
    connection_id = int((request.view_args or {}).get("connection_id") or 0)
    if request.endpoint == "api.token" and 0 < connection_id <= MAX_ID:
        client, g.ready_token = vend.peek(
            read_engine(), secret, connection_id, utcnow(), policy(), read_cache()
        )
        return client
    return service_clients.authenticate(read_engine(), secret)


@bp.after_request
def _count(response: Response) -> Response:
    """Vends by outcome (ok, or the error code) and proxied calls by method and status."""
    if request.endpoint == "api.token":
        ok = response.status_code == 200
        metrics.record_vend(
            "ok" if ok else str((response.get_json(silent=True) or {}).get("error"))
        )
    elif request.endpoint in ("api.proxy_connection", "api.proxy_api_key"):
        metrics.record_proxy(request.method, response.status_code)
    return response


def _client() -> service_clients.Caller:
    return cast(service_clients.Caller, g.service_client)


class Refusal(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@bp.errorhandler(Refusal)
def _refused(exc: Refusal) -> Response:
    db.session.rollback()
    return exc.response


def _require(scope: str) -> service_clients.Caller:
    client = _client()
    if scope not in client.scopes:
        raise Refusal(api_error(403, "insufficient_scope", f"This client lacks the {scope} scope."))
    return client


def _granted(kind: str, credential_id: int) -> Connection | ApiKey:
    model = Connection if kind == "connection" else ApiKey
    row = db.session.get(model, credential_id) if credential_id <= MAX_ID else None
    if row is None:
        raise Refusal(api_error(404, "not_found", f"No such {kind.replace('_', ' ')}."))
    if not service_clients.may_use(db.session, _client(), kind, credential_id):
        raise Refusal(api_error(403, "forbidden", f"This client may not use that {kind}."))
    return cast(Connection | ApiKey, row)


def _margin() -> timedelta:
    return timedelta(seconds=settings().refresh_margin)


def _token_context() -> Deps:
    return Deps(client_for, utcnow, policy(), notifier())


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(runtime().openapi, mimetype="application/json")


@bp.get("/connections")
def list_connections() -> Response:
    now, rows = utcnow(), service_clients.visible_connections(db.session, _client())
    return jsonify(data=[service_clients.describe_connection(c, now, _margin()) for c in rows])


@bp.get("/connections/<id:connection_id>")
def get_connection(connection_id: int) -> Response:
    connection = cast(Connection, _granted("connection", connection_id))
    return jsonify(service_clients.describe_connection(connection, utcnow(), _margin()))


@bp.get("/api-keys")
def list_api_keys() -> Response:
    rows = service_clients.visible_api_keys(db.session, _client())
    return jsonify(data=[service_clients.describe_api_key(k) for k in rows])


@bp.get("/api-keys/<id:key_id>")
def get_api_key(key_id: int) -> Response:
    return jsonify(service_clients.describe_api_key(cast(ApiKey, _granted("api_key", key_id))))


@bp.get("/connections/<id:connection_id>/token")
def token(connection_id: int) -> Response:
    client = _require("token:read")
    vended: vend.Vended | None = g.pop("ready_token", None)
    if vended is None:  # not found, not granted, due, or unusable: the full path says which
        connection = cast(Connection, _granted("connection", connection_id))
        actor = service_clients.actor_for(client)
        try:
            vended = vend.vend_token(db.session, connection, _token_context(), actor=actor)
        except vend.Unavailable as exc:
            extra = {"cause": exc.cause} if exc.cause else {}
            return api_error(409, exc.reason, exc.message, extra=extra)
    due = note_token(runtime(), client, connection_id)
    response = Response(token_body(vended), mimetype="application/json", headers=NO_STORE)
    return _with_usage(response, due)


def note_token(
    found: Runtime, client: service_clients.Caller, connection_id: int
) -> vend.Usage | None:
    """Count one vend toward "last used" and the hourly audit count; a count due to be
    written comes back (`usage_writer`)."""
    return found.usage.note(
        client, (Connection, connection_id), "connection.token_vended", utcnow()
    )


def token_body(vended: vend.Vended) -> bytes:
    """The token endpoint's JSON, the same bytes jsonify would give (sorted keys, compact).
    Encoded here: it is the hottest answer the app gives, and Flask's provider (sorting, its
    default hook, a Response built header by header) cost a tenth of the request."""
    expires = vended.expires_at.isoformat() if vended.expires_at else None
    return (
        json.dumps(
            {"access_token": vended.access_token, "expires_at": expires,
             "token_type": vended.token_type},
            separators=(",", ":"),
        ) + "\n"
    ).encode()  # fmt: skip


def _with_usage(response: Response, due: vend.Usage | None) -> Response:
    if due is not None:
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        response.call_on_close(usage_writer(app, due))
    return response


def usage_writer(app: Flask, due: vend.Usage) -> Callable[[], None]:
    """Writes a due usage count; run once the answer is sent (the server closes the response),
    so the caller never waits for it, even when other writers hold SQLite's lock."""
    recorder = runtime(app).usage

    def write() -> None:
        with app.app_context():
            recorder.write(db.session, due)

    return write


def _proxy_request(path: str) -> proxy.ProxyRequest:
    return proxy.ProxyRequest(
        method=request.method,
        path=path,
        params=list(request.args.items(multi=True)),
        body=request.get_data(cache=False),
        headers=list(request.headers.items()),
    )


def _proxied(answer: proxy.ProxyResponse) -> Response:
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    response.headers["X-Upstream"] = "factorial"
    return response


def _refusal(exc: proxy.ProxyRefused) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return api_error(exc.status, exc.code, exc.message, headers)


@bp.route("/connections/<id:connection_id>/proxy/<path:path>", methods=PROXY_METHODS)
def proxy_connection(connection_id: int, path: str) -> Response:
    client = _require("proxy")
    connection = cast(Connection, _granted("connection", connection_id))
    actor = service_clients.actor_for(client)
    try:
        answer = proxy.via_connection(
            db.session, connection, _proxy_request(path), _token_context(), runtime().proxy,
            actor=actor,
        )  # fmt: skip
    except proxy.ProxyRefused as exc:
        return _refusal(exc)
    due = runtime().usage.note(client, (Connection, connection.id), "connection.proxied", utcnow())
    return _with_usage(_proxied(answer), due)


@bp.route("/api-keys/<id:key_id>/proxy/<path:path>", methods=PROXY_METHODS)
def proxy_api_key(key_id: int, path: str) -> Response:
    client = _require("proxy")
    key = cast(ApiKey, _granted("api_key", key_id))
    actor = service_clients.actor_for(client)
    try:
        answer = proxy.via_api_key(
            db.session, key, _proxy_request(path), _token_context(), runtime().proxy, actor=actor
        )
    except proxy.ProxyRefused as exc:
        return _refusal(exc)
    due = runtime().usage.note(client, (ApiKey, key.id), "api_key.proxied", utcnow())
    return _with_usage(_proxied(answer), due)


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
def report_rejection(connection_id: int) -> Response:
    """A consumer saw Factorial answer 401 to a vended token: check it (`rejections`)."""
    client = _require("token:read")
    connection = cast(Connection, _granted("connection", connection_id))
    rejected = _reported_token()
    actor = service_clients.actor_for(client)
    try:
        verdict = rejections.report(
            db.session, connection.id, rejected, _token_context(), actor=actor
        )
    except vend.Unavailable as exc:
        extra = {"cause": exc.cause} if exc.cause else {}
        return api_error(409, exc.reason, exc.message, extra=extra)
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
