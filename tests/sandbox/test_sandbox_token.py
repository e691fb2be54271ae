"""The token endpoint's authorization_code grant: shapes, PKCE, client auth, code rules."""

from __future__ import annotations

from sandbox.testing import SandboxServer
from tests.sandbox.flows import (
    company_tokens,
    exchange,
    get_code,
    pkce_pair,
    post_token,
    user_tokens,
)

DOORKEEPER_KEYS = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "created_at",
]


def test_user_token_has_doorkeeper_shape(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    assert sorted(tokens) == sorted(DOORKEEPER_KEYS)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "read write"
    assert isinstance(tokens["created_at"], int)


def test_tokens_are_long_url_safe_strings(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    assert len(tokens["access_token"]) >= 32
    assert tokens["refresh_token"].replace("-", "").replace("_", "").isalnum()


def test_company_token_has_no_expiry_and_no_refresh_token(sandbox_server: SandboxServer) -> None:
    tokens = company_tokens(sandbox_server)

    assert "expires_in" not in tokens
    assert "refresh_token" not in tokens


def test_company_token_options_add_expiry_and_refresh(sandbox_server: SandboxServer) -> None:
    sandbox_server.configure(company_token_ttl=900, company_refresh=True)

    tokens = company_tokens(sandbox_server)

    assert tokens["expires_in"] == 900
    assert "refresh_token" in tokens


def test_pkce_with_right_verifier_succeeds(sandbox_server: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(sandbox_server, code_challenge=challenge, code_challenge_method="S256")

    response = exchange(sandbox_server.url, code, code_verifier=verifier)

    assert response.status_code == 200


def test_pkce_with_wrong_verifier_is_invalid_grant(sandbox_server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    code = get_code(sandbox_server, code_challenge=challenge, code_challenge_method="S256")

    response = exchange(sandbox_server.url, code, code_verifier=pkce_pair()[0])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_pkce_with_missing_verifier_is_rejected(sandbox_server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    code = get_code(sandbox_server, code_challenge=challenge, code_challenge_method="S256")

    response = exchange(sandbox_server.url, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_wrong_client_secret_is_401_invalid_client(sandbox_server: SandboxServer) -> None:
    code = get_code(sandbox_server)

    response = exchange(sandbox_server.url, code, client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_code_replay_is_invalid_grant(sandbox_server: SandboxServer) -> None:
    code = get_code(sandbox_server)
    exchange(sandbox_server.url, code)

    response = exchange(sandbox_server.url, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_expires_after_ten_minutes(sandbox_server: SandboxServer) -> None:
    code = get_code(sandbox_server)
    sandbox_server.set_clock(601)

    response = exchange(sandbox_server.url, code)

    assert response.json()["error"] == "invalid_grant"


def test_code_is_still_good_just_before_ten_minutes(sandbox_server: SandboxServer) -> None:
    code = get_code(sandbox_server)
    sandbox_server.set_clock(590)

    response = exchange(sandbox_server.url, code)

    assert response.status_code == 200


def test_redirect_uri_must_match_exactly(sandbox_server: SandboxServer) -> None:
    code = get_code(sandbox_server)

    response = exchange(
        sandbox_server.url, code, redirect_uri="http://127.0.0.1:5000/oauth/callback/"
    )

    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type_is_rejected(base: str) -> None:
    response = post_token(base, grant_type="client_credentials")

    assert response.json()["error"] == "unsupported_grant_type"


def test_requested_scope_subset_is_granted(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server, scope="read")

    assert tokens["scope"] == "read"
