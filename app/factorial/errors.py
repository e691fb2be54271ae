"""Typed failures of talking to Factorial; every message is safe to log and show to an admin."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DETAIL_LIMIT = 200
REDACTED = "[redacted]"


def sanitize(text: object, *, redact: Iterable[str] = (), limit: int = DETAIL_LIMIT) -> str:
    """Printable, single-line, at most `limit` chars, with every `redact` value masked."""
    value = text if isinstance(text, str) else ""
    for secret in redact:
        if secret:
            value = value.replace(secret, REDACTED)
    value = "".join(ch if ch.isprintable() else " " for ch in value)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


class FactorialError(Exception):
    """Base of every failure; `message` never holds a token, secret, code or raw body."""

    default_message = "Factorial request failed"

    def __init__(
        self, message: str | None = None, *, status: int | None = None, error: str | None = None
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.error = error
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidGrant(FactorialError):
    """The code or refresh token is spent, expired or revoked: the account must reconnect."""

    default_message = "Factorial rejected the grant (invalid_grant)"


class InvalidClient(FactorialError):
    """Factorial does not accept this app's client id/secret: a configuration problem."""

    default_message = "Factorial rejected the client credentials"


class Unauthorized(FactorialError):
    """The API answered 401: the token or key is rejected (expired, revoked, wrong environment)."""

    default_message = "Factorial rejected the credential (HTTP 401)"


class Forbidden(FactorialError):
    """The API answered 403: the credential is valid but lacks a scope or permission."""

    default_message = "Factorial refused access (HTTP 403)"


class NotFound(FactorialError):
    """The API answered 404, e.g. the app is not installed for that company."""

    default_message = "Factorial found nothing there (HTTP 404)"


class RateLimited(FactorialError):
    """Too many requests; wait `retry_after` seconds when known, else back off."""

    default_message = "Factorial rate limit reached"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        error: str | None = None,
    ) -> None:
        super().__init__(message, status=status, error=error)
        self.retry_after = retry_after


class ProviderUnavailable(FactorialError):
    """Transient: timeout, connection failure or 5xx. The request may or may not have run."""

    default_message = "Factorial is unavailable"


class UnexpectedResponse(FactorialError):
    """An answer we cannot parse or did not expect (HTML, non-JSON, missing fields, odd status)."""

    default_message = "Factorial sent an unexpected response"


def parse_retry_after(value: str | None, now: datetime, cap: float = 300.0) -> float | None:
    """Seconds to wait from Retry-After (delta-seconds or HTTP-date), capped; None if unusable."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    seconds = _delta_seconds(raw)
    if seconds is None:
        seconds = _seconds_until_http_date(raw, now)
    if seconds is None:
        return None
    return min(seconds, cap)


def _delta_seconds(raw: str) -> float | None:
    try:
        seconds = float(raw)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(raw: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
