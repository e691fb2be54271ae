"""The token endpoint's fast lane (`app.web.api.token_lane`): a remembered, ready token is answered
before Flask, byte for byte as the endpoint would, and counted the same; every other case is
Flask's to decide."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask, request_started
from flask.testing import FlaskClient

from app import create_app
from app.infra.read_cache import MISS
from app.models import Connection, ServiceClient, utcnow
from app.web.api.token_lane import TokenLane
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests import factories, helpers
from tests.factories import make_client
from tests.helpers import audit_rows, bearer, last_used, samples, value

VENDS = "factorial_connect_vends_total"


@pytest.fixture
def flask_calls(app: Flask) -> Iterator[list[str]]:
    """The path of every request Flask itself handled."""
    seen: list[str] = []

    def started(sender: Flask, **_: Any) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(started, app)
    yield seen
    request_started.disconnect(started, app)


def _path(connection_id: int | str) -> str:
    return f"/api/v1/connections/{connection_id}/token"


def _answer(response: Any) -> tuple[int, bytes, dict[str, str]]:
    response.close()  # as a server does once the answer is sent: usage is written then
    headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
    return response.status_code, response.get_data(), headers


def _warm(client: FlaskClient, flask_calls: list[str], path: str, secret: str) -> Any:
    """Call until the row is remembered, and return Flask's last answer (closed). The first
    call reads the row; its usage write (a commit) makes the next one read again; and on
    PostgreSQL nothing is remembered until the change feed listens, nor while the write's
    notice is on its way."""
    answers, deadline = [], time.monotonic() + 15
    while time.monotonic() < deadline:
        calls = len(flask_calls)
        response = client.get(path, headers=bearer(secret))
        response.close()
        if len(flask_calls) == calls:
            return answers[-1]
        answers.append(response)
        time.sleep(0.02)
    raise AssertionError("the token lane never answered")


def _remember(app: Flask, client: FlaskClient, secret: str, connection_id: int) -> None:
    """Call until the client's read of the connection is remembered, whatever the answer."""
    cache, key = wiring(app).read_cache, (int(secret.split("_")[1]), connection_id)
    deadline = time.monotonic() + 15
    while cache.get(key)[0] is MISS:
        assert time.monotonic() < deadline, "the read was never remembered"
        client.get(_path(connection_id), headers=bearer(secret)).close()
        time.sleep(0.02)


def test_a_remembered_ready_token_is_answered_before_flask_with_the_same_bytes(
    app: Flask, client: FlaskClient, flask_calls: list[str], user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    by_flask = _warm(client, flask_calls, _path(user_connection), secret)
    calls = len(flask_calls)
    for _ in range(3):
        again = client.get(_path(user_connection), headers=bearer(secret))
        assert _answer(again) == _answer(by_flask)
    traced = client.get(
        _path(user_connection), headers={**bearer(secret), "X-Request-ID": "trace-1"}
    )
    assert len(flask_calls) == calls  # Flask saw none of these
    status, body, headers = _answer(again)
    assert status == 200 and b'"access_token":' in body
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"  # the security headers still apply
    assert again.headers["X-Request-ID"] != by_flask.headers["X-Request-ID"]
    assert traced.headers["X-Request-ID"] == "trace-1"


def test_the_lane_counts_every_call_as_the_endpoint_does(
    app: Flask, client: FlaskClient, flask_calls: list[str], user_connection: int
) -> None:
    app.config["API_USAGE_INTERVAL"] = 0.5
    secret = make_client(app, connections=(user_connection,))
    client_id = int(secret.split("_")[1])
    before = value(samples(client), VENDS, outcome="ok")
    _warm(client, flask_calls, _path(user_connection), secret)
    warmed, calls = value(samples(client), VENDS, outcome="ok") - before, len(flask_calls)
    for _ in range(6):
        assert _answer(client.get(_path(user_connection), headers=bearer(secret)))[0] == 200
    assert len(flask_calls) == calls  # all six took the lane
    time.sleep(0.6)  # the interval passes: the next call hands back the pending count
    assert _answer(client.get(_path(user_connection), headers=bearer(secret)))[0] == 200
    assert value(samples(client), VENDS, outcome="ok") == before + warmed + 7
    counts = [row["count"] for row in audit_rows(app, "connection.token_vended")]
    assert sum(counts) == warmed + 7
    assert last_used(app, Connection, user_connection) is not None
    assert last_used(app, ServiceClient, client_id) is not None


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "no token:read", "not granted", "due for refresh", "HEAD", "leading zero",
     "trailing slash", "no bearer", "id too large"],
)  # fmt: skip
def test_everything_else_is_flasks_to_decide(
    app: Flask,
    client: FlaskClient,
    sandbox: SandboxServer,
    flask_calls: list[str],
    user_connection: int,
    case: str,
) -> None:
    scopes = ("proxy",) if case == "no token:read" else ("token:read",)
    connections = (user_connection,)
    if case == "not granted":  # the client may use another employee's connection only
        connections = (factories.grant_user_token(app, sandbox, employee_id="1003"),)
    secret = make_client(app, scopes=scopes, connections=connections)
    path, headers = _path(user_connection), bearer(secret)
    _remember(app, client, secret, user_connection)
    method = "HEAD" if case == "HEAD" else "GET"
    if case == "wrong secret":
        headers = bearer(secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb"))
    elif case == "no bearer":
        headers = {"Authorization": f"Token {secret}"}
    elif case == "leading zero":
        path = _path(f"0{user_connection}")
    elif case == "trailing slash":
        path += "/"
    elif case == "id too large":
        path = _path(2**31)
    calls = len(flask_calls)
    with contextlib.ExitStack() as stack:
        if case == "due for refresh":  # the remembered token enters the refresh margin
            expires = helpers.column(app, user_connection, Connection.expires_at)
            stack.enter_context(time_machine.travel(expires - timedelta(seconds=60), tick=True))
            cache, key = wiring(app).read_cache, (int(secret.split("_")[1]), user_connection)
            assert cache.get(key)[0] is not MISS  # still remembered: only readiness can decline
        response = client.open(path, method=method, headers=headers)
        response.close()
    assert len(flask_calls) == calls + 1, "the lane answered what Flask must decide"
    expected = {"wrong secret": 401, "no token:read": 403, "not granted": 403, "HEAD": 200,
                "due for refresh": 200, "no bearer": 401}  # fmt: skip
    if case in expected:
        assert response.status_code == expected[case]


def test_without_a_remembered_read_there_is_no_lane(app_settings: dict[str, Any]) -> None:
    off = create_app({**app_settings, "VEND_CACHE_SECONDS": "0"})
    on = create_app(app_settings)

    def lanes(app: Flask) -> int:
        found, layer = 0, app.wsgi_app
        while layer is not None:
            found += isinstance(layer, TokenLane)
            # each middleware names what it wraps: the lane `wsgi_app`, the others `app`
            layer = layer.wsgi_app if isinstance(layer, TokenLane) else getattr(layer, "app", None)
        return found

    assert (lanes(off), lanes(on)) == (0, 1)


def test_a_revocation_reaches_the_lane_at_once(
    app: Flask, client: FlaskClient, flask_calls: list[str], user_connection: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    _warm(client, flask_calls, _path(user_connection), secret)
    helpers.set_columns(app, user_connection, revoked_at=utcnow())
    assert _answer(client.get(_path(user_connection), headers=bearer(secret)))[0] == 409
