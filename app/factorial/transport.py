"""Turning one `requests` call and its response into a value or exactly one typed error."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from app.factorial.errors import (
    FactorialError,
    Forbidden,
    InvalidClient,
    InvalidGrant,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
    UnexpectedResponse,
    parse_retry_after,
    sanitize,
)

Timeout = tuple[float, float]
Observer = Callable[[str, float, str], None]
"""Told (endpoint kind, seconds, outcome class) after each HTTP call; must be quick."""

log = logging.getLogger(__name__)

_API_STATUS_ERRORS: Mapping[int, type[FactorialError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}
_OAUTH_ERRORS: Mapping[str, type[FactorialError]] = {
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "unauthorized_client": InvalidClient,
}


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: Timeout,
    observer: Observer | None = None,
    kind: str = "api",
    **kwargs: Any,
) -> requests.Response:
    """One attempt, no redirects followed; any transport failure becomes ProviderUnavailable.
    `observer` hears how long it took and its outcome class (`outcome_class`)."""
    started, outcome = time.perf_counter(), "error"
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        outcome = outcome_class(response.status_code)
        return response
    except requests.Timeout as exc:
        outcome = "timeout"
        raise ProviderUnavailable(
            f"Factorial did not answer in time ({type(exc).__name__})"
        ) from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"Could not reach Factorial ({type(exc).__name__})") from None
    finally:
        if observer is not None:
            _tell(observer, kind, time.perf_counter() - started, outcome)


def outcome_class(status: int) -> str:
    """`2xx`…`5xx`, with 429 on its own (rate limited); `timeout`/`error` mean no answer."""
    return "429" if status == 429 else f"{min(max(status // 100, 1), 5)}xx"


def _tell(observer: Observer, kind: str, seconds: float, outcome: str) -> None:
    """A failing observer must never cost a response: a refresh's new tokens are in it."""
    try:
        observer(kind, seconds, outcome)
    except Exception:
        log.exception("the Factorial call observer failed; the call itself is unaffected")


def raise_transient(response: requests.Response) -> None:
    """429 and 5xx mean "try later", whatever endpoint answered them."""
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        raise RateLimited("Factorial rate limit reached (HTTP 429)", retry_after=retry_after)
    if status >= 500:
        raise ProviderUnavailable(f"Factorial is unavailable (HTTP {status})", status=status)


def raise_for_api_status(response: requests.Response, what: str) -> None:
    """Map a non-2xx API answer to its typed error; `what` names the call for the message."""
    raise_transient(response)
    status = response.status_code
    if 200 <= status < 300:
        return
    error_class = _API_STATUS_ERRORS.get(status, UnexpectedResponse)
    raise error_class(f"{what}: Factorial answered HTTP {status}", status=status)


def json_body(response: requests.Response, what: str) -> object:
    """The decoded JSON body, or UnexpectedResponse for HTML, garbage or an empty body."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        raise UnexpectedResponse(
            f"{what}: Factorial's answer is not JSON (HTTP {response.status_code})",
            status=response.status_code,
        ) from None


def json_object(response: requests.Response, what: str) -> dict[str, object]:
    """The body as a JSON object, or UnexpectedResponse."""
    body = json_body(response, what)
    if not isinstance(body, dict):
        raise UnexpectedResponse(
            f"{what}: Factorial's answer is not a JSON object", status=response.status_code
        )
    return body


def raise_token_error(response: requests.Response, what: str, secrets: Iterable[str]) -> None:
    """Map a token/revoke endpoint failure by its RFC 6749 `error`; return only on 2xx success."""
    raise_transient(response)
    status = response.status_code
    body = _maybe_object(response)
    error = body.get("error")
    if 200 <= status < 300 and error is None:
        return
    code = sanitize(error, redact=secrets) or None
    detail = sanitize(body.get("error_description"), redact=secrets)
    error_class = _OAUTH_ERRORS.get(code or "", UnexpectedResponse)
    if status == 401 and code is None:
        error_class = InvalidClient
    message = f"{what}: Factorial answered HTTP {status}"
    if code:
        message += f" ({code}{': ' + detail if detail else ''})"
    raise error_class(message, status=status, error=code)


def _maybe_object(response: requests.Response) -> dict[str, object]:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}
