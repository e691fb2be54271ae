"""The token endpoint's fast lane: a remembered token that is ready is answered before Flask.

`GET /api/v1/connections/<id>/token` is the call other services make all day, and once its read
is remembered (`app.infra.read_cache`) most of its cost is Flask's own machinery: the request
context, routing, seven hooks, the response object. This WSGI middleware sits just inside the
security
headers (`app.web.security.ResponseHeaders`, which still adds them and the request id) and
answers one case only: the client's row is remembered, its secret matches, it holds
`token:read` and a grant, and the token needs no refresh (`vend.recall`). It counts the call
("last used", the hourly audit count, the vend metric) exactly as the endpoint does and sends
the same bytes and headers (`api.token_body`, `api.NO_STORE`).

Everything else (nothing remembered, a wrong secret, a missing scope or grant, a token due for
refresh, any other method or path shape) goes to Flask unchanged, which decides and explains as
before. With `VEND_CACHE_SECONDS=0` nothing is remembered and the lane is not installed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.wsgi import ClosingIterator

from app.infra import metrics
from app.infra.read_cache import ReadCache
from app.models import MAX_ID, utcnow
from app.services.service_api import vend
from app.web.api import routes as api
from app.web.providers import policy
from app.wiring import wiring

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# Canonical ids only (no sign, no leading zero, at most MAX_ID): Flask decides the rest.
_PATH = re.compile(r"/api/v1/connections/([1-9][0-9]{0,9})/token")


class TokenLane:
    def __init__(self, wsgi_app: WSGIApplication, app: Flask, cache: ReadCache) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.cache = cache
        self.policy = policy(app)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = None
        if environ.get("REQUEST_METHOD") == "GET":
            try:
                answer = self._answer(environ)
            except Exception as exc:  # never worse than Flask: it answers instead
                log.warning("token lane skipped (%s): the endpoint answers", type(exc).__name__)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        body, due = answer
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *api.NO_STORE,
        ]
        start_response("200 OK", headers)
        if due is None:
            return [body]
        return ClosingIterator([body], api.usage_writer(self.app, due))

    def _answer(self, environ: WSGIEnvironment) -> tuple[bytes, vend.Usage | None] | None:
        match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or int(match.group(1)) > MAX_ID:
            return None
        secret = api.bearer_secret(environ.get("HTTP_AUTHORIZATION", ""))
        if secret is None:
            return None
        connection_id = int(match.group(1))
        found = vend.recall(self.cache, secret, connection_id, utcnow(), self.policy)
        if found is None:
            return None
        client, vended = found
        if "token:read" not in client.scopes:
            return None
        due = api.note_token(api.runtime(self.app), client, connection_id)
        metrics.record_vend("ok")
        return api.token_body(vended), due


def install_token_lane(app: Flask) -> None:
    """Put the lane in front of Flask when the token endpoint's read is remembered."""
    cache = wiring(app).read_cache
    if cache is not None:
        app.wsgi_app = TokenLane(app.wsgi_app, app, cache)  # type: ignore[method-assign]
