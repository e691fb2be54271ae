"""A per-request id for log correlation; '-' outside a request."""

from __future__ import annotations

import itertools
import os
import re
import secrets
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


# Made ids are this process's random prefix and a counter: unique across workers and hosts,
# and cheaper than asking the OS for randomness on every request.
_PREFIX = secrets.token_hex(5)
_counter = itertools.count(1)


def _new_prefix() -> None:
    """A forked worker (gunicorn with preload) must not repeat its parent's ids."""
    global _PREFIX, _counter
    _PREFIX, _counter = secrets.token_hex(5), itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)


def start_request(incoming: str | None) -> str:
    """Adopt a well-formed X-Request-ID from the proxy, else make one."""
    rid = incoming if incoming and _VALID.match(incoming) else f"{_PREFIX}{next(_counter):06x}"
    _request_id.set(rid)
    return rid


def end_request() -> None:
    """Back to '-', so log lines after the request (same thread) do not carry its id."""
    _request_id.set("-")
