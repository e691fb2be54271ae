"""How the token endpoint's bad days map to typed errors, using the sandbox's fault injection."""

from __future__ import annotations

import pytest

from app.factorial import (
    FactorialClient,
    InvalidGrant,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)
from sandbox.testing import SandboxServer
from tests.factorial.support import CLIENT_SECRET, connect, environment_at


@pytest.fixture
def refresh_token(sandbox: SandboxServer, client: FactorialClient) -> str:
    token = connect(sandbox, client).refresh_token
    assert token is not None
    return token


def test_5xx_is_provider_unavailable(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=503)
    with pytest.raises(ProviderUnavailable):
        client.refresh(refresh_token)


def test_a_failed_refresh_post_is_sent_exactly_once(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=503, count=5)
    before = sandbox.counts()["token"].get("refresh_token", 0)
    with pytest.raises(ProviderUnavailable):
        client.refresh(refresh_token)
    assert sandbox.counts()["token"]["refresh_token"] == before + 1


def test_processed_then_failed_refresh_is_provider_unavailable(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="process_then_fail", status=502)
    with pytest.raises(ProviderUnavailable):
        client.refresh(refresh_token)


def test_429_carries_retry_after(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        client.refresh(refresh_token)
    assert caught.value.retry_after == 7.0


def test_429_without_retry_after_has_none(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=429)
    with pytest.raises(RateLimited) as caught:
        client.refresh(refresh_token)
    assert caught.value.retry_after is None


def test_html_error_page_is_provider_unavailable(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=502, html=True)
    with pytest.raises(ProviderUnavailable):
        client.refresh(refresh_token)


def test_html_with_200_is_unexpected(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=200, html=True)
    with pytest.raises(UnexpectedResponse):
        client.refresh(refresh_token)


def test_html_with_400_is_unexpected(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=400, html=True)
    with pytest.raises(UnexpectedResponse):
        client.refresh(refresh_token)


def test_200_without_access_token_is_unexpected(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=200, body={"token_type": "Bearer"})
    with pytest.raises(UnexpectedResponse):
        client.refresh(refresh_token)


def test_unknown_oauth_error_is_unexpected(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=400, body={"error": "invalid_scope"})
    with pytest.raises(UnexpectedResponse):
        client.refresh(refresh_token)


def test_delay_beyond_the_read_timeout_is_provider_unavailable(
    sandbox: SandboxServer, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="delay", delay=2.0)
    slow = FactorialClient(environment_at(sandbox.url), read_timeout=0.3)
    with pytest.raises(ProviderUnavailable):
        slow.refresh(refresh_token)


def test_error_description_echoing_secrets_is_redacted(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    description = f"refresh token {refresh_token} rejected for secret {CLIENT_SECRET}"
    body = {"error": "invalid_grant", "error_description": description}
    sandbox.fault("/oauth/token", mode="fail", status=400, body=body)
    with pytest.raises(InvalidGrant) as caught:
        client.refresh(refresh_token)
    assert (refresh_token in str(caught.value), CLIENT_SECRET in str(caught.value)) == (
        False,
        False,
    )


def test_long_error_description_is_truncated(
    sandbox: SandboxServer, client: FactorialClient, refresh_token: str
) -> None:
    body = {"error": "invalid_grant", "error_description": "x" * 5000}
    sandbox.fault("/oauth/token", mode="fail", status=400, body=body)
    with pytest.raises(InvalidGrant) as caught:
        client.refresh(refresh_token)
    assert len(str(caught.value)) < 300
