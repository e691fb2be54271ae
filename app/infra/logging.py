"""Log setup and the redacting filter: a backstop so no secret ever reaches a log line."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # key=value / key: value / "key": "value" for secret-ish names (query strings, forms, JSON)
    re.compile(
        r"(?i)((?<![\w-])[\"']?(?:access_token|refresh_token|id_token|token|code|state|code_verifier|client_secret"
        r"|secret|password|passwd|api[_-]?key|x-api-key|authorization|session|csrf_token)[\"']?"
        r"\s*[=:]\s*[\"']?)(Bearer\s+|Basic\s+)?[^\s\"'&,;}]+"
    ),
    re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # JWT-shaped values (Factorial API keys look like JWTs)
    re.compile(r"()eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    # Fernet ciphertexts
    re.compile(r"()gAAAAA[A-Za-z0-9_=-]{20,}"),
)


def redact(text: str) -> str:
    """Mask anything that looks like a token, key, secret or password."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (args included) and exception text through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            payload["request_id"] = request_id
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Attach the current request's id (set by the app) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from app.infra.request_id import current_request_id

        record.request_id = current_request_id()
        return True


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    RedactingFilter().filter(record)
    return record


def install_record_factory() -> None:
    """Redact every record at creation, so every handler (third-party, pytest's) sees it masked."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once: one stderr handler, redaction on every record and handler."""
    install_record_factory()
    root = logging.getLogger()
    root.setLevel(level)
    handler = next((h for h in root.handlers if getattr(h, "_factorial_connect", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._factorial_connect = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    install_redaction(root)


def install_redaction(logger: logging.Logger) -> None:
    """Put the redacting and request-id filters on every handler of the logger (idempotent)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
            handler.addFilter(RedactingFilter())
