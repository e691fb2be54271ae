"""Fault injection on the control API, and the request counters that observe it."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.testing import SandboxError, SandboxServer
from tests.sandbox.flows import bearer, credentials, refresh, user_tokens

TOKEN = "/oauth/token"


def test_fail_answers_the_given_status_body_and_retry_after(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503, body={"error": "down"}, retry_after=30)

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.status_code == 503
    assert response.json() == {"error": "down"}
    assert response.headers["Retry-After"] == "30"


def test_fail_default_body_is_an_rfc6749_error(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=400)

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.json() == {"error": "invalid_grant"}


def test_fail_can_answer_html(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503, html=True)

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.headers["Content-Type"].startswith("text/html")


def test_fail_does_not_process_the_request(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503)
    refresh(sandbox_server.url, tokens["refresh_token"])

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.status_code == 200


def test_fail_with_a_delay_hangs_then_fails_having_done_nothing(
    sandbox_server: SandboxServer,
) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503, delay=0.5)
    started = time.monotonic()
    failed = refresh(sandbox_server.url, tokens["refresh_token"]).status_code
    waited = time.monotonic() - started

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert (failed, waited >= 0.5, response.status_code) == (503, True, 200)


def test_fault_is_used_up_after_count_requests(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503, count=2)
    statuses = [refresh(sandbox_server.url, tokens["refresh_token"]).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_fault_can_target_one_grant_type(sandbox_server: SandboxServer) -> None:
    sandbox_server.fault(TOKEN, mode="fail", status=503, grant_type="refresh_token")

    tokens = user_tokens(sandbox_server)

    assert "access_token" in tokens


def test_delay_then_processes_normally(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="delay", delay=0.3)
    started = time.monotonic()

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_process_then_fail_rotates_but_loses_the_answer(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="process_then_fail", status=503)
    lost = refresh(sandbox_server.url, tokens["refresh_token"])

    retry = refresh(sandbox_server.url, tokens["refresh_token"])

    assert lost.status_code == 503
    assert retry.json()["error"] == "invalid_grant"


def test_process_then_delay_answers_late_but_right(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="process_then_delay", delay=0.3)
    started = time.monotonic()

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert time.monotonic() - started >= 0.3
    assert "refresh_token" in response.json()


def test_faults_apply_to_api_paths(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault("/api/2026-10-01/resources/api_public/credentials", status=500)

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert response.status_code == 500


def test_clear_faults_disarms_them(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503)
    sandbox_server.clear_faults()

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.status_code == 200


def test_counts_include_faulted_requests_by_grant_type(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=503)
    refresh(sandbox_server.url, tokens["refresh_token"])
    refresh(sandbox_server.url, tokens["refresh_token"])

    counts = sandbox_server.counts()

    assert counts["requests"][TOKEN] == 3
    assert counts["token"] == {"authorization_code": 1, "refresh_token": 2}


def test_reset_counts_zeroes_them(sandbox_server: SandboxServer) -> None:
    user_tokens(sandbox_server)

    sandbox_server.reset_counts()

    assert sandbox_server.counts() == {"requests": {}, "token": {}}


def test_fail_can_answer_a_raw_text_body(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(TOKEN, mode="fail", status=502, body="Bad Gateway")

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.text == "Bad Gateway"


CREDENTIALS = "/api/2026-10-01/resources/api_public/credentials"
SET_COOKIE = "tenant=acme; Path=/"


@pytest.mark.parametrize("mode", ["delay", "process_then_delay"])
def test_fault_headers_are_added_to_the_real_answer(
    sandbox_server: SandboxServer, mode: str
) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(CREDENTIALS, mode=mode, headers={"Set-Cookie": SET_COOKIE})

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert (response.status_code, response.headers["Set-Cookie"]) == (200, SET_COOKIE)


@pytest.mark.parametrize("mode", ["fail", "process_then_fail"])
def test_fault_headers_are_added_to_the_failure(sandbox_server: SandboxServer, mode: str) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.fault(CREDENTIALS, mode=mode, status=500, headers={"Set-Cookie": SET_COOKIE})

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert (response.status_code, response.headers["Set-Cookie"]) == (500, SET_COOKIE)


@pytest.mark.parametrize(
    "headers", [{"Set-Cookie": "a=1\r\nX-Injected: 1"}, {"": "1"}, {"X-Count": 1}, ["Set-Cookie"]]
)
def test_fault_headers_must_be_one_line_strings(
    sandbox_server: SandboxServer, headers: object
) -> None:
    with pytest.raises(SandboxError):
        sandbox_server.fault(CREDENTIALS, headers=headers)


def test_recent_requests_show_what_the_client_sent(sandbox_server: SandboxServer) -> None:
    requests.get(f"{sandbox_server.url}{CREDENTIALS}", headers={"Cookie": "a=1"}, timeout=10)

    seen = sandbox_server.recent_requests()[-1]

    assert (seen["method"], seen["path"], seen["headers"]["cookie"]) == ("GET", CREDENTIALS, "a=1")


@pytest.mark.parametrize("name", ["Authorization", "x-api-key"])
def test_recent_requests_hide_credentials(sandbox_server: SandboxServer, name: str) -> None:
    requests.get(f"{sandbox_server.url}{CREDENTIALS}", headers={name: "secret"}, timeout=10)

    assert sandbox_server.recent_requests()[-1]["headers"][name.lower()] == "(hidden)"


def test_reset_counts_forgets_recent_requests(sandbox_server: SandboxServer) -> None:
    user_tokens(sandbox_server)

    sandbox_server.reset_counts()

    assert sandbox_server.recent_requests() == []
