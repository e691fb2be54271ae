"""Request ids reach the response and JSON log lines; every logger, third-party too, is redacted."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.infra.extensions import db

SECRET = "sk-live-abcdef123456"
THIRD_PARTY = ["authlib", "urllib3", "requests", "werkzeug", "gunicorn.error"]
LEAKY_LINES = [
    ('"GET /oauth/callback?code=%s&state=xyz HTTP/1.1" 302 -', SECRET),
    ("token response %s", {"access_token": SECRET, "refresh_token": SECRET}),
    ("sending headers %s", {"Authorization": f"Bearer {SECRET}"}),
    ("client_secret=%s", SECRET),
]


@pytest.fixture
def json_app(app_settings: dict[str, Any]) -> Iterator[Flask]:
    """An app logging JSON lines, with a view that logs one line per request."""
    application = create_app({**app_settings, "LOG_FORMAT": "json"})

    @application.get("/_log")
    def _log() -> str:
        logging.getLogger("app.test").warning("handled with password=%s", SECRET)
        return "ok"

    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def log_stream(json_app: Flask) -> Iterator[io.StringIO]:
    """What the app's own root handler writes, redirected from stderr into a buffer."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_factorial_connect", 0))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def logged(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_response_carries_a_request_id(client: FlaskClient) -> None:
    ids = [client.get("/healthz").headers["X-Request-ID"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}", rid) for rid in ids)


def request_id_in_a_forked_child() -> str:
    """The first request id a forked child (a preloaded gunicorn worker) makes."""
    from app.infra import request_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, request_id.start_request(None).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    return os.read(read, 64).decode()


def test_forked_workers_make_their_own_request_ids() -> None:
    from app.infra import request_id

    child = request_id_in_a_forked_child()
    assert child[:10] != request_id.start_request(None)[:10]


def test_proxy_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "edge-42.a_b"})
    assert response.headers["X-Request-ID"] == "edge-42.a_b"


def test_malformed_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; drop table"})
    assert "bad" not in response.headers["X-Request-ID"]


def test_error_pages_carry_the_request_id_too(client: FlaskClient) -> None:
    assert "X-Request-ID" in client.get("/no-such-page").headers


def test_json_log_line_carries_the_request_id(json_app: Flask, log_stream: io.StringIO) -> None:
    request_id = json_app.test_client().get("/_log").headers["X-Request-ID"]
    assert [line["request_id"] for line in logged(log_stream)] == [request_id]


def test_json_log_line_is_redacted(json_app: Flask, log_stream: io.StringIO) -> None:
    json_app.test_client().get("/_log")
    assert logged(log_stream)[0]["message"] == "handled with password=[REDACTED]"


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("logger_name", THIRD_PARTY)
@pytest.mark.parametrize(("template", "value"), LEAKY_LINES)
def test_third_party_loggers_are_redacted(
    caplog: pytest.LogCaptureFixture, logger_name: str, template: str, value: object
) -> None:
    with caplog.at_level(logging.DEBUG, logger=logger_name):
        logging.getLogger(logger_name).warning(template, value)
    assert (SECRET not in caplog.text, len(caplog.records)) == (True, 1)
