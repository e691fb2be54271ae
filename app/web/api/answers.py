"""How the service API answers: `{error, message}` refusals (one handler per typed error), the
token's JSON, and usage counts written once the answer is sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import cast

from flask import Blueprint, Flask, Response, current_app, jsonify

from app.infra.extensions import db
from app.services.service_api import proxy, vend
from app.services.service_api.usage import Usage, UsageRecorder

# A token must not be kept by any cache on its way (HTTP/1.0 ones read Pragma).
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
_COMPACT = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # built once, not per answer


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


class Refusal(Exception):
    """A view's or the guard's ready-made refusal (`api_error`)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _unavailable(exc: vend.Unavailable) -> Response:
    extra = {"cause": exc.cause} if exc.cause else {}
    return api_error(409, exc.reason, exc.message, extra=extra)


def _proxy_refused(exc: proxy.ProxyRefused) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return api_error(exc.status, exc.code, exc.message, headers)


_REFUSALS: dict[type[Exception], Callable[[Exception], Response]] = {
    Refusal: lambda exc: cast(Refusal, exc).response,
    vend.NotFound: lambda exc: api_error(404, "not_found", str(exc)),
    vend.NotGranted: lambda exc: api_error(403, "forbidden", str(exc)),
    vend.Unavailable: lambda exc: _unavailable(cast(vend.Unavailable, exc)),
    proxy.ProxyRefused: lambda exc: _proxy_refused(cast(proxy.ProxyRefused, exc)),
}


def install_refusals(bp: Blueprint) -> None:
    """Answer each typed refusal the services raise, after a rollback."""
    for kind, answer in _REFUSALS.items():
        bp.register_error_handler(kind, _after_rollback(answer))


def _after_rollback(answer: Callable[[Exception], Response]) -> Callable[[Exception], Response]:
    def refuse(exc: Exception) -> Response:
        db.session.rollback()
        return answer(exc)

    return refuse


def token_answer(vended: vend.Vended, recorder: UsageRecorder, due: Usage | None) -> Response:
    """The token endpoint's answer: the same bytes jsonify would give (sorted keys, compact),
    encoded here as it is the hottest answer the app gives; never stored by a cache."""
    expires = vended.expires_at.isoformat() if vended.expires_at else None
    body = _COMPACT.encode(
        {"access_token": vended.access_token, "expires_at": expires,
         "token_type": vended.token_type}
    )  # fmt: skip
    response = Response(body + "\n", mimetype="application/json", headers=NO_STORE)
    return with_usage(response, recorder, due)


def with_usage(response: Response, recorder: UsageRecorder, due: Usage | None) -> Response:
    """Write a due usage count once the answer is sent (the server closes the response), so
    the caller never waits for it, even when other writers hold SQLite's lock."""
    if due is not None:
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]

        def write() -> None:
            with app.app_context():
                recorder.write(db.session, due)

        response.call_on_close(write)
    return response
