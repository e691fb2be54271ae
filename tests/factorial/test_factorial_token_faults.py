"""How the token endpoint's bad days map to typed errors, using the sandbox's fault injection."""

from __future__ import annotations

import pytest

from app.factorial import (
    FactorialClient,
    FactorialError,
    InvalidClient,
    InvalidGrant,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)
from sandbox.testing import SandboxServer
from tests.factorial.support import CLIENT_SECRET, connect, environment_at


@pytest.fixture
def refresh_token(sandbox: SandboxServer, factorial: FactorialClient) -> str:
    token = connect(sandbox, factorial).refresh_token
    assert token is not None
    return token


def test_5xx_is_provider_unavailable(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=503)
    with pytest.raises(ProviderUnavailable):
        factorial.refresh(refresh_token)


def test_a_failed_refresh_post_is_sent_exactly_once(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=503, count=5)
    before = sandbox.counts()["token"].get("refresh_token", 0)
    with pytest.raises(ProviderUnavailable):
        factorial.refresh(refresh_token)
    assert sandbox.counts()["token"]["refresh_token"] == before + 1


def test_processed_then_failed_refresh_is_provider_unavailable(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="process_then_fail", status=502)
    with pytest.raises(ProviderUnavailable):
        factorial.refresh(refresh_token)


def test_429_carries_retry_after(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        factorial.refresh(refresh_token)
    assert caught.value.retry_after == 7.0


def test_429_without_retry_after_has_none(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=429)
    with pytest.raises(RateLimited) as caught:
        factorial.refresh(refresh_token)
    assert caught.value.retry_after is None


def test_html_error_page_is_provider_unavailable(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=502, html=True)
    with pytest.raises(ProviderUnavailable):
        factorial.refresh(refresh_token)


def test_html_with_200_is_unexpected(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=200, html=True)
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)


def test_html_with_400_is_unexpected(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=400, html=True)
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)


def test_200_without_access_token_is_unexpected(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=200, body={"token_type": "Bearer"})
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)


def test_unknown_oauth_error_is_unexpected(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=400, body={"error": "invalid_scope"})
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)


def test_delay_beyond_the_read_timeout_is_provider_unavailable(
    sandbox: SandboxServer, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="delay", delay=2.0)
    slow = FactorialClient(environment_at(sandbox.url), read_timeout=0.3)
    with pytest.raises(ProviderUnavailable):
        slow.refresh(refresh_token)


def test_error_description_echoing_secrets_is_redacted(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    description = f"refresh token {refresh_token} rejected for secret {CLIENT_SECRET}"
    body = {"error": "invalid_grant", "error_description": description}
    sandbox.fault("/oauth/token", mode="fail", status=400, body=body)
    with pytest.raises(InvalidGrant) as caught:
        factorial.refresh(refresh_token)
    assert (refresh_token in str(caught.value), CLIENT_SECRET in str(caught.value)) == (
        False,
        False,
    )


def test_long_error_description_is_truncated(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    body = {"error": "invalid_grant", "error_description": "x" * 5000}
    sandbox.fault("/oauth/token", mode="fail", status=400, body=body)
    with pytest.raises(InvalidGrant) as caught:
        factorial.refresh(refresh_token)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, UnexpectedResponse),
        (302, UnexpectedResponse),
        (400, UnexpectedResponse),
        (401, InvalidClient),
        (403, UnexpectedResponse),
        (404, UnexpectedResponse),
        (429, RateLimited),
        (500, ProviderUnavailable),
        (504, ProviderUnavailable),
    ],
)
def test_html_bodies_map_by_status(
    sandbox: SandboxServer,
    factorial: FactorialClient,
    refresh_token: str,
    status: int,
    expected: type[FactorialError],
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=status, html=True)
    with pytest.raises(expected):
        factorial.refresh(refresh_token)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 400},
        {"status": 401},
        {"status": 401, "html": True},
        {"status": 429, "retry_after": 5},
        {"status": 503, "html": True},
        {"status": 200, "body": {"token_type": "Bearer"}},
        {"status": 400, "body": {"error": "weird", "error_description": "x"}},
    ],
)
def test_no_error_mentions_the_refresh_token_or_client_secret(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str, fault: dict[str, object]
) -> None:
    sandbox.fault("/oauth/token", mode="fail", **fault)
    with pytest.raises(FactorialError) as caught:
        factorial.refresh(refresh_token)
    shown = f"{caught.value} {caught.value!r} {caught.value.args}"
    assert (refresh_token in shown, CLIENT_SECRET in shown) == (False, False)


def test_refresh_processed_but_answer_lost_is_provider_unavailable(
    sandbox: SandboxServer, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="process_then_delay", delay=2.0)
    slow = FactorialClient(environment_at(sandbox.url), read_timeout=0.3)
    with pytest.raises(ProviderUnavailable):
        slow.refresh(refresh_token)


def test_after_a_lost_answer_the_old_refresh_token_is_spent(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="process_then_fail", status=502)
    with pytest.raises(ProviderUnavailable):
        factorial.refresh(refresh_token)
    with pytest.raises(InvalidGrant):
        factorial.refresh(refresh_token)


def test_a_json_list_body_is_unexpected(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str
) -> None:
    sandbox.fault("/oauth/token", mode="fail", status=200, body=["access_token"])
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)


@pytest.mark.parametrize(
    "field", [{"expires_in": "²"}, {"expires_in": "9" * 5000}, {"expires_in": 10**30}]
)
def test_an_odd_number_in_a_token_answer_is_an_unexpected_response(
    sandbox: SandboxServer, factorial: FactorialClient, refresh_token: str, field: dict[str, object]
) -> None:
    body = {"access_token": "at", "token_type": "Bearer", **field}
    sandbox.fault("/oauth/token", mode="fail", status=200, body=body)
    with pytest.raises(UnexpectedResponse):
        factorial.refresh(refresh_token)
