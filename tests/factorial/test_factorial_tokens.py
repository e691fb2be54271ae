"""Code exchange, refresh rotation and revocation against the sandbox's real token endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.factorial import (
    FactorialClient,
    InvalidClient,
    InvalidGrant,
    Unauthorized,
)
from sandbox.testing import SandboxServer
from tests.factorial.support import admin_of, connect, environment_at, query_of, regular_of


def _wrong_secret_client(sandbox: SandboxServer) -> FactorialClient:
    return FactorialClient(environment_at(sandbox.url, client_secret="not-the-secret"))


def test_user_token_has_an_expiry_and_a_refresh_token(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial, kind="user", employee_id=regular_of(sandbox, 1))
    assert (token.token_type.lower(), token.expires_in, bool(token.refresh_token)) == (
        "bearer",
        3600,
        True,
    )


def test_user_token_expiry_is_in_the_future(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    received = datetime.now(UTC)
    token = connect(sandbox, factorial, kind="user")
    expires_at = token.expires_at(received)
    assert expires_at is not None
    assert expires_at > received


def test_company_token_does_not_expire_and_has_no_refresh_token(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial, kind="company", employee_id=admin_of(sandbox, 2))
    assert (token.expires_in, token.refresh_token, token.expires_at(datetime.now(UTC))) == (
        None,
        None,
        None,
    )


def test_state_comes_back_unchanged(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    state = factorial.new_state()
    url = factorial.authorization_url(state=state, kind="user", code_verifier="v" * 43)
    assert query_of(sandbox.approve(url, admin_of(sandbox, 1)))["state"] == state


def test_a_code_is_single_use(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    verifier = factorial.new_code_verifier()
    url = factorial.authorization_url(state="s", kind="user", code_verifier=verifier)
    code = query_of(sandbox.approve(url, admin_of(sandbox, 1)))["code"]
    factorial.exchange_code(code, code_verifier=verifier)
    with pytest.raises(InvalidGrant):
        factorial.exchange_code(code, code_verifier=verifier)


def test_refresh_rotates_the_refresh_token(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    first = connect(sandbox, factorial)
    assert first.refresh_token is not None
    second = factorial.refresh(first.refresh_token)
    assert (second.refresh_token is not None, second.refresh_token != first.refresh_token) == (
        True,
        True,
    )


def test_refreshed_access_token_works(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    first = connect(sandbox, factorial)
    assert first.refresh_token is not None
    second = factorial.refresh(first.refresh_token)
    assert factorial.credentials(access_token=second.access_token).kind == "user"


def test_a_spent_refresh_token_is_an_invalid_grant(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    first = connect(sandbox, factorial)
    assert first.refresh_token is not None
    factorial.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant):
        factorial.refresh(first.refresh_token)


def test_an_unknown_refresh_token_is_an_invalid_grant(factorial: FactorialClient) -> None:
    with pytest.raises(InvalidGrant):
        factorial.refresh("never-issued")


def test_wrong_client_secret_on_refresh_is_invalid_client(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    assert token.refresh_token is not None
    with pytest.raises(InvalidClient):
        _wrong_secret_client(sandbox).refresh(token.refresh_token)


def test_wrong_client_secret_on_exchange_is_invalid_client(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    verifier = factorial.new_code_verifier()
    url = factorial.authorization_url(state="s", kind="user", code_verifier=verifier)
    code = query_of(sandbox.approve(url, admin_of(sandbox, 1)))["code"]
    with pytest.raises(InvalidClient):
        _wrong_secret_client(sandbox).exchange_code(code, code_verifier=verifier)


def test_invalid_client_message_never_contains_the_secret(sandbox: SandboxServer) -> None:
    with pytest.raises(InvalidClient) as caught:
        _wrong_secret_client(sandbox).refresh("rt-whatever")
    assert ("not-the-secret" in str(caught.value), "rt-whatever" in str(caught.value)) == (
        False,
        False,
    )


def test_revoked_access_token_is_unauthorized(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    factorial.revoke(token.access_token, token_type_hint="access_token")
    with pytest.raises(Unauthorized):
        factorial.credentials(access_token=token.access_token)


def test_revoked_refresh_token_cannot_refresh(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    assert token.refresh_token is not None
    factorial.revoke(token.refresh_token, token_type_hint="refresh_token")
    with pytest.raises(InvalidGrant):
        factorial.refresh(token.refresh_token)


def test_revoke_with_a_wrong_secret_is_invalid_client(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    with pytest.raises(InvalidClient):
        _wrong_secret_client(sandbox).revoke(token.access_token)


def test_a_wrong_code_verifier_is_an_invalid_grant(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    url = factorial.authorization_url(
        state="s", kind="user", code_verifier=factorial.new_code_verifier()
    )
    code = query_of(sandbox.approve(url, admin_of(sandbox, 1)))["code"]
    with pytest.raises(InvalidGrant):
        factorial.exchange_code(code, code_verifier=factorial.new_code_verifier())


def test_exchange_without_pkce_works_when_the_environment_has_it_off(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    url = factorial.authorization_url(state="s", kind="user", code_verifier=None)
    code = query_of(sandbox.approve(url, admin_of(sandbox, 1)))["code"]
    assert factorial.exchange_code(code, code_verifier=None).access_token


def test_revoking_an_unknown_token_is_accepted(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    factorial.revoke("never-issued")
    assert sandbox.counts()["requests"]["/oauth/revoke"] == 1
