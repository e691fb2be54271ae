"""The client's optional observer hears (endpoint kind, seconds, outcome class) of each call."""

from __future__ import annotations

import pytest

from app.factorial import FactorialClient, ProviderUnavailable, Unauthorized
from app.factorial.transport import outcome_class
from sandbox.testing import SandboxServer
from tests.factorial.support import api_key_of, connect, environment_at

Heard = list[tuple[str, float, str]]


def listening(base_url: str, heard: Heard, timeout: float = 2.0) -> FactorialClient:
    def observer(kind: str, seconds: float, outcome: str) -> None:
        heard.append((kind, seconds, outcome))

    return FactorialClient(
        environment_at(base_url), connect_timeout=timeout, read_timeout=timeout, observer=observer
    )


def kinds(heard: Heard) -> list[tuple[str, str]]:
    return [(kind, outcome) for kind, _, outcome in heard]


def test_code_exchange_is_a_token_call(sandbox: SandboxServer) -> None:
    heard: Heard = []
    connect(sandbox, listening(sandbox.url, heard))
    assert kinds(heard) == [("token", "2xx")]


def test_seconds_are_measured(sandbox: SandboxServer) -> None:
    heard: Heard = []
    connect(sandbox, listening(sandbox.url, heard))
    assert 0 < heard[0][1] < 2


def test_refresh_and_revoke_are_told_apart(sandbox: SandboxServer) -> None:
    heard: Heard = []
    client = listening(sandbox.url, heard)
    tokens = connect(sandbox, client)
    assert tokens.refresh_token is not None
    client.revoke(client.refresh(tokens.refresh_token).access_token)
    assert kinds(heard)[1:] == [("token", "2xx"), ("revoke", "2xx")]


def test_rejected_credentials_are_a_4xx_credentials_call(sandbox: SandboxServer) -> None:
    heard: Heard = []
    with pytest.raises(Unauthorized):
        listening(sandbox.url, heard).credentials(access_token="not-a-token")
    assert kinds(heard) == [("credentials", "4xx")]


def test_keys_api_calls_are_keys(sandbox: SandboxServer) -> None:
    heard: Heard = []
    listening(sandbox.url, heard).list_api_keys(api_key_of(sandbox, 1))
    assert kinds(heard) == [("keys", "2xx")]


def test_proxied_calls_are_api(sandbox: SandboxServer) -> None:
    heard: Heard = []
    listening(sandbox.url, heard).request("GET", "v2/resources/unknown", access_token="x")
    assert kinds(heard) == [("api", "4xx")]


def test_refused_connection_is_an_error(closed_port: int) -> None:
    heard: Heard = []
    with pytest.raises(ProviderUnavailable):
        listening(f"http://127.0.0.1:{closed_port}", heard).refresh("rt")
    assert kinds(heard) == [("token", "error")]


def test_silence_is_a_timeout(silent_server: str) -> None:
    heard: Heard = []
    with pytest.raises(ProviderUnavailable):
        listening(silent_server, heard, timeout=0.3).refresh("rt")
    assert kinds(heard) == [("token", "timeout")]


def test_a_failing_observer_never_costs_the_answer(sandbox: SandboxServer) -> None:
    def broken(kind: str, seconds: float, outcome: str) -> None:
        raise RuntimeError("observer bug")

    client = FactorialClient(environment_at(sandbox.url), observer=broken)
    assert connect(sandbox, client).access_token


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "2xx"), (204, "2xx"), (302, "3xx"), (401, "4xx"), (429, "429"), (503, "5xx")],
)
def test_outcome_classes(status: int, outcome: str) -> None:
    assert outcome_class(status) == outcome
