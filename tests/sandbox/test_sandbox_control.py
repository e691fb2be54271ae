"""The /_sandbox/ control API itself, and its absence in strict mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from sandbox.testing import SandboxError, SandboxServer
from tests.sandbox.flows import TIMEOUT, bearer, credentials, user_tokens


@pytest.fixture(scope="module")
def strict_server() -> Iterator[SandboxServer]:
    with SandboxServer(mode="strict") as server:
        yield server


@pytest.fixture(scope="module")
def tuned_server() -> Iterator[SandboxServer]:
    with SandboxServer(
        access_token_ttl=120,
        reuse_grace=15,
        company_token_ttl=86400,
        company_refresh=True,
        require_pkce=True,
    ) as server:
        yield server


def test_startup_flags_become_the_runtime_settings(tuned_server: SandboxServer) -> None:
    settings = tuned_server.configure()

    assert settings == {
        "access_token_ttl": 120,
        "refresh_token_ttl": 604800,
        "reuse_grace": 15,
        "company_token_ttl": 86400,
        "company_refresh": True,
        "require_pkce": True,
        "code_ttl": 600,
        "issuer": None,
    }


def test_control_api_is_absent_in_strict_mode(strict_server: SandboxServer) -> None:
    response = requests.get(f"{strict_server.url}/_sandbox/seed", timeout=TIMEOUT)

    assert response.status_code == 404


def test_strict_mode_still_serves_oauth(strict_server: SandboxServer) -> None:
    response = requests.get(f"{strict_server.url}/oauth/authorize", timeout=TIMEOUT)

    assert response.status_code == 400


def test_seed_lists_companies_employees_client_and_keys(sandbox_server: SandboxServer) -> None:
    seed = sandbox_server.seed()

    assert [c["legal_name"] for c in seed["companies"]] == [
        "Acme Robotics S.L.",
        "Nimbus Foods GmbH",
    ]
    assert sum(e["is_admin"] for e in seed["employees"]) == 2
    assert seed["client"]["id"] == "factorial-connect-sandbox"
    assert len(seed["api_keys"]) == 2


def test_clock_reports_its_offset(sandbox_server: SandboxServer) -> None:
    sandbox_server.set_clock(120)

    clock = requests.get(f"{sandbox_server.url}/_sandbox/clock", timeout=TIMEOUT).json()

    assert clock["offset"] == 120
    assert abs(clock["now"] - (time.time() + 120)) < 5


def test_config_rejects_unknown_settings(sandbox_server: SandboxServer) -> None:
    with pytest.raises(SandboxError):
        sandbox_server.configure(nonsense=1)


def test_config_round_trips(sandbox_server: SandboxServer) -> None:
    settings = sandbox_server.configure(reuse_grace=5, company_token_ttl=None)

    assert settings["reuse_grace"] == 5
    assert settings["company_token_ttl"] is None


def test_reset_restores_startup_config_and_clock(sandbox_server: SandboxServer) -> None:
    sandbox_server.configure(access_token_ttl=10)
    sandbox_server.set_clock(99)

    sandbox_server.reset()

    assert sandbox_server.configure()["access_token_ttl"] == 3600
    assert sandbox_server.set_clock(0) > 0


def test_reset_wipes_issued_tokens(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    sandbox_server.reset()

    assert credentials(sandbox_server.url, bearer(tokens["access_token"])).status_code == 401


def test_revoke_grant_of_nothing_returns_no_ids(sandbox_server: SandboxServer) -> None:
    assert sandbox_server.revoke_grant("unknown-token") == []


def test_mint_api_key_for_unknown_company_fails(sandbox_server: SandboxServer) -> None:
    with pytest.raises(SandboxError):
        sandbox_server.mint_api_key(99, "nope")


def test_approve_with_query_params_instead_of_url(sandbox_server: SandboxServer) -> None:
    body = {
        "client_id": "factorial-connect-sandbox",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:5000/oauth/callback",
        "employee_id": 1002,
    }

    response = requests.post(f"{sandbox_server.url}/_sandbox/approve", json=body, timeout=TIMEOUT)

    assert "code=" in response.json()["location"]


def test_a_delayed_request_does_not_block_others(sandbox_server: SandboxServer) -> None:
    sandbox_server.fault("/oauth/revoke", mode="delay", delay=1.5)
    slow = threading.Thread(
        target=requests.post,
        args=(f"{sandbox_server.url}/oauth/revoke",),
        kwargs={"timeout": TIMEOUT},
    )
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()

    user_tokens(sandbox_server)

    assert time.monotonic() - started < 1.0
    slow.join()
