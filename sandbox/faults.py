"""Fault injection and request counting, for tests of how clients cope with a bad provider.

Both live in memory behind their own small lock (not the database lock), so a `delay` fault
sleeps without blocking other requests.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from flask import Response, jsonify

FAULT_MODES = ("fail", "delay", "process_then_fail", "process_then_delay")
_DEFAULT_ERRORS = {
    400: "invalid_grant",
    401: "invalid_client",
    403: "access_denied",
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
}
_HTML_BODY = (
    "<!DOCTYPE html><html><head><title>{status} Error</title></head>"
    "<body><h1>{status}</h1><p>The server is temporarily unable to service your "
    "request.</p></body></html>"
)
RECENT_REQUESTS = 200
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})


@dataclass
class Fault:
    """One armed fault; `count` is how many more matching requests it will hit."""

    path: str
    count: int = 1
    mode: str = "fail"
    status: int = 503
    body: Any = None
    html: bool = False
    retry_after: int | None = None
    delay: float = 0.0
    grant_type: str | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}")
        if not self.path.startswith("/") or self.count < 1:
            raise ValueError("path must start with '/' and count must be >= 1")
        if not 100 <= int(self.status) <= 599 or float(self.delay) < 0:
            raise ValueError("status must be an HTTP status and delay >= 0")
        if self.headers is not None and not _plain_headers(self.headers):
            raise ValueError("headers must map header names to one-line string values")

    def matches(self, path: str, grant_type: str | None) -> bool:
        return self.path == path and self.grant_type in (None, grant_type)

    def response(self) -> Response:
        """The answer a `fail` / `process_then_fail` fault gives instead of the real one."""
        if self.html:
            resp = Response(
                _HTML_BODY.format(status=self.status), status=self.status, mimetype="text/html"
            )
        elif isinstance(self.body, str):
            resp = Response(self.body, status=self.status, mimetype="text/plain")
        else:
            body = self.body
            if body is None:
                body = {
                    "error": _DEFAULT_ERRORS.get(
                        self.status, "server_error" if self.status >= 500 else "invalid_request"
                    )
                }
            resp = jsonify(body)
            resp.status_code = self.status
        if self.retry_after is not None:
            resp.headers["Retry-After"] = str(self.retry_after)
        return self.decorate(resp)

    def decorate(self, response: Response) -> Response:
        """Add the fault's extra `headers` (a Set-Cookie, say) to whatever answer is sent."""
        for name, value in (self.headers or {}).items():
            response.headers.add(name, value)
        return response


def _plain_headers(headers: object) -> bool:
    return isinstance(headers, dict) and all(
        isinstance(name, str)
        and isinstance(value, str)
        and name.strip()
        and not any(c in name + value for c in "\r\n\0")
        for name, value in headers.items()
    )


class FaultBook:
    """Armed faults, consumed first-armed-first-used per matching request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str, grant_type: str | None) -> Fault | None:
        """Consume one use of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path, grant_type):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]


class RequestCounts:
    """Requests per concrete path, token-endpoint requests per grant type, and the headers of
    the last RECENT_REQUESTS requests (credential values masked), so tests can see what a
    client sent (a Cookie it should not have, say)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: Counter[str] = Counter()
        self._grants: Counter[str] = Counter()
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def record(
        self,
        path: str,
        grant_type: str | None,
        method: str = "GET",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        seen = {"method": method, "path": path, "headers": _masked(headers)}
        with self._lock:
            self._paths[path] += 1
            if path == "/oauth/token":
                self._grants[grant_type or "(none)"] += 1
            self._recent.append(seen)

    def reset(self) -> None:
        with self._lock:
            self._paths.clear()
            self._grants.clear()
            self._recent.clear()

    def recent(self) -> list[dict[str, Any]]:
        """Oldest first: `{"method", "path", "headers": {name: value}}` (names lower-case)."""
        with self._lock:
            return list(self._recent)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"requests": dict(self._paths), "token": dict(self._grants)}


def _masked(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; repeated ones joined by ", "; credential values hidden."""
    seen: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        value = "(hidden)" if key in _CREDENTIAL_HEADERS else value
        seen[key] = f"{seen[key]}, {value}" if key in seen else value
    return seen
