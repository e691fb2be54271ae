"""Factorial calls made for a service client with a stored credential it never sees
(`app.services.service_api.proxy`); nested in the API's blueprint (`routes`)."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, request

from app.infra import metrics
from app.infra.extensions import csrf, db
from app.models import ApiKey, Connection, utcnow
from app.services.service_api import proxy, service_clients, vend
from app.services.service_api.service_clients import Caller
from app.web.api.answers import with_usage
from app.web.api.guard import counted, requires
from app.web.api.runtime import service_api
from app.wiring import wiring

bp = Blueprint("proxy", __name__)
csrf.exempt(bp)

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _count_proxied(response: Response) -> None:
    metrics.record_proxy(request.method, response.status_code)


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


@bp.route("/connections/<id:connection_id>/proxy/<path:path>", methods=PROXY_METHODS)
@counted(_count_proxied)
@requires("proxy")
def proxy_connection(caller: Caller, connection_id: int, path: str) -> Response:
    connection = cast(Connection, vend.granted(db.session, caller, "connection", connection_id))
    found, actor = service_api(), service_clients.actor_for(caller)
    answer = proxy.via_connection(
        db.session, connection, _proxy_request(path), wiring().deps, found.proxy, actor=actor
    )
    due = found.usage.note(caller, (Connection, connection.id), "connection.proxied", utcnow())
    return with_usage(_proxied(answer), found.usage, due)


@bp.route("/api-keys/<id:key_id>/proxy/<path:path>", methods=PROXY_METHODS)
@counted(_count_proxied)
@requires("proxy")
def proxy_api_key(caller: Caller, key_id: int, path: str) -> Response:
    key = cast(ApiKey, vend.granted(db.session, caller, "api_key", key_id))
    found, actor = service_api(), service_clients.actor_for(caller)
    answer = proxy.via_api_key(
        db.session, key, _proxy_request(path), wiring().deps, found.proxy, actor=actor
    )
    due = found.usage.note(caller, (ApiKey, key.id), "api_key.proxied", utcnow())
    return with_usage(_proxied(answer), found.usage, due)
