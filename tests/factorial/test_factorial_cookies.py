"""Factorial's cookies are never kept nor sent: one pooled session per thread and environment
carries every company's credentials, so a cookie set for one would travel with another's."""

from __future__ import annotations

import pytest
from flask import Flask

from app.factorial import new_http_session
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.factorial.support import api_key_of, connect

CREDENTIALS = "/api/2026-10-01/resources/api_public/credentials"
SET_COOKIE = {"Set-Cookie": "tenant=acme; Path=/"}


def last_headers(sandbox: SandboxServer) -> dict[str, str]:
    headers: dict[str, str] = sandbox.recent_requests()[-1]["headers"]
    return headers


def test_a_cookie_from_one_companys_call_is_not_sent_with_anothers(
    app: Flask, sandbox: SandboxServer
) -> None:
    clients = wiring(app).deps.clients
    sandbox.fault(CREDENTIALS, mode="delay", headers=SET_COOKIE)
    clients("demo").credentials(api_key=api_key_of(sandbox, 1))

    clients("demo").credentials(api_key=api_key_of(sandbox, 2))

    assert "cookie" not in last_headers(sandbox)


def test_a_cookie_from_the_token_endpoint_is_not_sent_with_the_next_call(
    app: Flask, sandbox: SandboxServer
) -> None:
    clients = wiring(app).deps.clients
    sandbox.fault("/oauth/token", mode="delay", headers=SET_COOKIE)
    connect(sandbox, clients("demo"))

    clients("demo").credentials(api_key=api_key_of(sandbox, 2))

    assert "cookie" not in last_headers(sandbox)


def test_the_session_stores_no_cookie(sandbox: SandboxServer) -> None:
    session = new_http_session()
    sandbox.fault(CREDENTIALS, mode="fail", status=401, headers=SET_COOKIE)

    session.get(f"{sandbox.url}{CREDENTIALS}", timeout=5)

    assert list(session.cookies) == []


@pytest.mark.parametrize(
    "extra",
    [{"cookies": {"tenant": "acme"}}, {"headers": {"Cookie": "tenant=acme"}}],
    ids=["per-request cookies", "a Cookie header"],
)
def test_cookies_given_to_one_request_are_not_sent(
    sandbox: SandboxServer, extra: dict[str, dict[str, str]]
) -> None:
    new_http_session().get(f"{sandbox.url}{CREDENTIALS}", timeout=5, **extra)

    assert "cookie" not in last_headers(sandbox)
