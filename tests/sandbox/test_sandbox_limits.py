"""Factorial's documented POST rate limits, per credential."""

from __future__ import annotations

import requests

from sandbox.testing import SandboxServer
from tests.sandbox.flows import TIMEOUT, api_key

LEAVES = "/api/2026-10-01/resources/time_off/leaves"


def post_many(url: str, headers: dict[str, str], count: int) -> list[requests.Response]:
    with requests.Session() as session:
        return [
            session.post(
                url, json={"name": "x", "employee_id": 1002}, headers=headers, timeout=TIMEOUT
            )
            for _ in range(count)
        ]


def test_201st_post_on_versioned_api_is_429(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    responses = post_many(sandbox_server.url + LEAVES, headers, 201)

    assert [r.status_code for r in responses[:200]] == [201] * 200
    assert responses[200].status_code == 429
    assert 1 <= int(responses[200].headers["Retry-After"]) <= 60
    assert responses[200].json()["error"] == "too_many_requests"


def test_101st_post_on_v1_is_429(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    responses = post_many(f"{sandbox_server.url}/api/v1/core/keys", headers, 101)

    assert responses[99].status_code == 201
    assert responses[100].status_code == 429
    assert "Retry-After" in responses[100].headers


def test_limit_is_per_credential(sandbox_server: SandboxServer) -> None:
    post_many(sandbox_server.url + LEAVES, {"x-api-key": api_key(sandbox_server)}, 200)

    other = post_many(sandbox_server.url + LEAVES, {"x-api-key": api_key(sandbox_server)}, 1)

    assert other[0].status_code == 201


def test_window_slides_with_the_clock(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}
    post_many(f"{sandbox_server.url}/api/v1/core/keys", headers, 100)
    sandbox_server.set_clock(61)

    later = post_many(f"{sandbox_server.url}/api/v1/core/keys", headers, 1)

    assert later[0].status_code == 201


def test_gets_are_not_limited(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}
    url = f"{sandbox_server.url}/api/v1/core/keys"

    with requests.Session() as session:
        statuses = {
            session.get(url, headers=headers, timeout=TIMEOUT).status_code for _ in range(110)
        }

    assert statuses == {200}
