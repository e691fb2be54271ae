"""The redaction backstop: no secret-looking value survives into a log line."""

from __future__ import annotations

import json
import logging

import pytest

from app.infra.logging import JsonFormatter, install_record_factory, redact

CASES = [
    ("GET /oauth/callback?code=abc123def456&state=xyz789uvw", "abc123def456"),
    ("GET /oauth/callback?code=abc123def456&state=xyz789uvw", "xyz789uvw"),
    ("refresh_token=rt_secretvalue_1234", "rt_secretvalue_1234"),
    ('{"access_token": "at-secretvalue-1234", "token_type": "Bearer"}', "at-secretvalue-1234"),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("x-api-key: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz", "eyJzdWIiOiIxIn0"),
    ("key eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz", "eyJzdWIiOiIxIn0"),
    ("client_secret=verysecretclientvalue", "verysecretclientvalue"),
    ("password: hunter2hunter2", "hunter2hunter2"),
    ("cipher gAAAAABmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZm", "gAAAAABmZmZm"),
]


@pytest.mark.parametrize(("line", "secret"), CASES)
def test_redact_masks(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_redact_keeps_ordinary_text() -> None:
    assert redact("refreshed connection 42 in 120 ms, status_code=200") == (
        "refreshed connection 42 in 120 ms, status_code=200"
    )


def test_records_are_redacted_for_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    install_record_factory()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("authlib").debug("token response %s", {"access_token": "leakme1234567"})
    assert "leakme1234567" not in caplog.text


def test_exception_text_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_record_factory()
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("refresh_token=leaked-in-exception-99")
        except ValueError:
            logging.getLogger("x").exception("failed")
    assert "leaked-in-exception-99" not in caplog.text


def test_json_formatter_emits_one_parseable_line() -> None:
    install_record_factory()
    record = logging.getLogRecordFactory()(
        "n", logging.INFO, "f", 1, "token=abcdefgh1234", (), None
    )
    assert json.loads(JsonFormatter().format(record))["message"] == "token=[REDACTED]"
