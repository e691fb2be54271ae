"""The per-route decorators of the service API: who calls (`requires`) and what is counted
(`counted`). Only a service client's bearer secret authenticates; an admin's session cookie
never reaches the API (`app.web.security.ApiAwareSessionInterface`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from app.services.service_api.service_clients import Caller
from app.web.api.answers import Refusal, api_error
from app.web.api.runtime import service_api

REALM = 'Bearer realm="factorial-connect"'

GuardedView = Callable[..., Response]


def requires(*scopes: str) -> Callable[[GuardedView], GuardedView]:
    """Authenticate the bearer secret (401 with a WWW-Authenticate challenge otherwise) and
    check `scopes` (403 insufficient_scope); the view receives the caller as its first argument."""

    def decorate(view: GuardedView) -> GuardedView:
        @wraps(view)
        def guarded(**kwargs: Any) -> Response:
            header = request.environ.get("HTTP_AUTHORIZATION", "")
            caller = authenticated(header, kwargs.get("connection_id"))
            for scope in scopes:
                if scope not in caller.scopes:
                    message = f"This client lacks the {scope} scope."
                    raise Refusal(api_error(403, "insufficient_scope", message))
            return view(caller, **kwargs)

        return guarded

    return decorate


def authenticated(header: str, connection_id: int | None) -> Caller:
    """The client an Authorization header authenticates, read together with the connection the
    route names, if any (`vend.ApiReads`); else a Refusal (401)."""
    if not header.strip():
        raise Refusal(api_error(401, "unauthorized", "Send Authorization: Bearer <secret>.",
                                {"WWW-Authenticate": REALM}))  # fmt: skip
    scheme, _, secret = header.strip().partition(" ")
    reads = service_api().reads
    caller = reads.caller(secret.strip(), connection_id) if scheme.lower() == "bearer" else None
    if caller is None:
        challenge = f'{REALM}, error="invalid_token"'
        raise Refusal(api_error(401, "invalid_token", "The bearer secret is not valid.",
                                {"WWW-Authenticate": challenge}))  # fmt: skip
    return caller


def counted(record: Callable[[Response], None]) -> Callable[[GuardedView], GuardedView]:
    """Hand every answer of the view to `record`, refusals and errors included: they are
    answered here (by the blueprint's and app's error handlers) rather than after the view."""

    def decorate(view: GuardedView) -> GuardedView:
        @wraps(view)
        def counting(**kwargs: Any) -> Response:
            try:
                response = view(**kwargs)
            except Exception as exc:  # answered by the blueprint's and app's error handlers
                response = current_app.make_response(current_app.handle_user_exception(exc))
            record(response)
            return response

        return counting

    return decorate


def error_code(response: Response) -> str:
    """ "ok" for a 2xx answer, else its `error` code."""
    if response.status_code < 300:
        return "ok"
    return str((response.get_json(silent=True) or {}).get("error"))
