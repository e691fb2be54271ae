"""Forwarding a service's call to Factorial with a stored credential it never sees.

The caller's credentials, cookies and hop-by-hop headers never travel on, either way. POSTs
pass a client-side limiter keyed per credential (wait briefly or refuse with Retry-After) so
Factorial never has to say 429; when it does anyway, its Retry-After (capped) is passed back.
A limiter that cannot decide refuses with 503 and Retry-After, sending nothing.
A 401 is Factorial's answer to that call and passes back as it came, unless checking the
credential (`rejections`, at most once a minute) shows it dead (409) or a newer token is stored
(one retry with it). No caller can make a shared token rotate at will.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from app.factorial import FactorialClient, ProviderUnavailable, RateLimited
from app.factorial.errors import parse_retry_after
from app.factorial.ratelimit import LimitUndecided, PostLimiter
from app.models import ApiKey, Connection
from app.refresh import rejections
from app.services import DbSession
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.keys.api_keys import REJECTED_MESSAGE
from app.services.service_api import vend

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded to Factorial: the caller's own credentials and what `requests` sets itself.
_REQUEST_DROP = HOP_BY_HOP | {
    "host", "content-length", "authorization", "cookie", "x-api-key", "accept-encoding",
}  # fmt: skip
# Never passed back: the body is re-encoded and re-measured here, and cookies are Factorial's.
_RESPONSE_DROP = HOP_BY_HOP | {
    "content-length", "content-encoding", "set-cookie", "server", "date",
}  # fmt: skip
RETRY_AFTER_CAP = 300.0
DEFAULT_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ProxyRefused(Exception):
    """The call was not (fully) made: answer `status` with `code`; `retry_after` in seconds."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


@dataclass(frozen=True)
class ProxyContext:
    """The per-app pieces: one PostLimiter for the whole app and how long a POST may queue."""

    limiter: PostLimiter
    max_wait: float = 2.0


def clean_headers(
    headers: Iterable[tuple[str, str]], drop: frozenset[str]
) -> list[tuple[str, str]]:
    """Without `drop` and without any header the Connection header names (RFC 9110 §7.6.1)."""
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(n, v) for n, v in pairs if n.lower() not in drop and n.lower() not in named]


def _send(
    client: FactorialClient, request: ProxyRequest, credential: dict[str, str], ctx: ProxyContext,
    limiter_key: str,
) -> requests.Response:  # fmt: skip
    try:
        ctx.limiter.acquire(limiter_key, request.method, request.path, max_wait=ctx.max_wait)
    except RateLimited as exc:
        wait = math.ceil(exc.retry_after or DEFAULT_RETRY_AFTER)
        raise ProxyRefused(
            429, "rate_limited", "Factorial's POST limit for this credential is used up.",
            retry_after=max(1, wait),
        ) from None  # fmt: skip
    except LimitUndecided as exc:
        raise ProxyRefused(
            503, "rate_limit_unavailable", "The POST limit could not be checked; nothing was sent.",
            retry_after=max(1, math.ceil(exc.retry_after)),
        ) from None  # fmt: skip
    headers = dict(clean_headers(request.headers, _REQUEST_DROP))
    try:
        return client.request(
            request.method, request.path, params=request.params, data=request.body,
            headers=headers, **credential,
        )  # fmt: skip
    except ValueError:
        raise ProxyRefused(400, "bad_path", "That path is not under Factorial's /api/.") from None
    except ProviderUnavailable as exc:
        timeout = "in time" in exc.message
        status, code = (504, "upstream_timeout") if timeout else (502, "upstream_unavailable")
        raise ProxyRefused(status, code, exc.message) from None


def _answer(response: requests.Response) -> ProxyResponse:
    if response.status_code == 429:
        now = datetime.now(UTC)
        wait = parse_retry_after(response.headers.get("Retry-After"), now, cap=RETRY_AFTER_CAP)
        raise ProxyRefused(
            429, "upstream_rate_limited", "Factorial's rate limit was reached; retry later.",
            retry_after=max(1, math.ceil(DEFAULT_RETRY_AFTER if wait is None else wait)),
        )  # fmt: skip
    headers = clean_headers(response.headers.items(), _RESPONSE_DROP)
    return ProxyResponse(response.status_code, headers, response.content)


def _client(clients: Callable[[str], FactorialClient], environment: str) -> FactorialClient:
    try:
        return clients(environment)
    except KeyError:
        raise ProxyRefused(
            409, "environment_unavailable", "That Factorial environment is not configured."
        ) from None


def via_connection(
    session: DbSession,
    connection: Connection,
    request: ProxyRequest,
    deps: Deps,
    ctx: ProxyContext,
    *,
    actor: Actor,
) -> ProxyResponse:
    """Forward with the connection's bearer token; after a 401, retry once only with a newer
    stored token (`rejections.after_401` decides whether the 401 leads to a check or refresh)."""
    try:
        token = vend.vend_token(session, connection, deps, actor=actor).access_token
        key = f"connection:{connection.id}"
        with _client(deps.clients, connection.environment) as client:
            response = _send(client, request, {"access_token": token}, ctx, key)
            if response.status_code == 401:
                retry = rejections.after_401(session, connection.id, token, deps, actor=actor)
                if retry is not None:
                    credential = {"access_token": retry.access_token}
                    response = _send(client, request, credential, ctx, key)
            return _answer(response)
    except vend.Unavailable as exc:
        raise ProxyRefused(409, exc.reason, exc.message) from None


def via_api_key(
    session: DbSession,
    key: ApiKey,
    request: ProxyRequest,
    deps: Deps,
    ctx: ProxyContext,
    *,
    actor: Actor,
) -> ProxyResponse:
    """Forward with the API key in `x-api-key` (never Bearer). A key Factorial rejected is
    refused (409) until it verifies again; a 401 starts that verification (once a minute)."""
    if not key.key.readable:
        raise ProxyRefused(409, "undecryptable", "The stored key cannot be decrypted.")
    if key.rejected_since is not None:
        raise ProxyRefused(409, "rejected", REJECTED_MESSAGE)
    with _client(deps.clients, key.environment) as client:
        response = _send(client, request, {"api_key": key.key.reveal()}, ctx, f"api_key:{key.id}")
    rejected = response.status_code == 401 and (
        rejections.after_key_401(session, key.id, deps, actor=actor) == "rejected"
    )
    if rejected:
        raise ProxyRefused(409, "rejected", REJECTED_MESSAGE)
    return _answer(response)
