"""Failures only real local sockets can produce: refused, silent and HTML-speaking servers."""

from __future__ import annotations

import time

import pytest

from app.factorial import ProviderUnavailable, UnexpectedResponse
from tests.factorial.support import CLIENT_SECRET, fast_client


def test_connection_refused_is_provider_unavailable(closed_port: int) -> None:
    with pytest.raises(ProviderUnavailable):
        fast_client(f"http://127.0.0.1:{closed_port}").refresh("rt-refused")


def test_read_timeout_is_provider_unavailable_and_fast(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        fast_client(silent_server).refresh("rt-silent")
    assert time.monotonic() - started < 3.0


def test_read_timeout_on_a_proxied_call_is_provider_unavailable(silent_server: str) -> None:
    with pytest.raises(ProviderUnavailable):
        fast_client(silent_server).request("GET", "v2/resources/x", access_token="at")


def test_html_with_200_from_the_token_endpoint_is_unexpected(html_server: str) -> None:
    with pytest.raises(UnexpectedResponse):
        fast_client(html_server).exchange_code("code-html", code_verifier=None)


def test_html_with_200_from_credentials_is_unexpected(html_server: str) -> None:
    with pytest.raises(UnexpectedResponse):
        fast_client(html_server).credentials(access_token="at-html")


def test_html_with_200_from_the_keys_api_is_unexpected(html_server: str) -> None:
    with pytest.raises(UnexpectedResponse):
        fast_client(html_server).list_api_keys("key-html")


@pytest.mark.parametrize("secret", ["rt-refused-secret", CLIENT_SECRET])
def test_transport_errors_never_mention_secrets(closed_port: int, secret: str) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        fast_client(f"http://127.0.0.1:{closed_port}").refresh("rt-refused-secret")
    assert secret not in str(caught.value)
