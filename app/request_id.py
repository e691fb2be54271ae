"""A per-request id for log correlation; '-' outside a request."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


def start_request(incoming: str | None) -> str:
    """Adopt a well-formed X-Request-ID from the proxy, else make one."""
    rid = incoming if incoming and _VALID.match(incoming) else secrets.token_hex(8)
    _request_id.set(rid)
    return rid


def end_request() -> None:
    """Back to '-', so log lines after the request (same thread) do not carry its id."""
    _request_id.set("-")
