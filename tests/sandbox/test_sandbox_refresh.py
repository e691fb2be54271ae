"""Refresh-token rotation, reuse detection, grace period, lifetimes and revocation."""

from __future__ import annotations

import requests

from sandbox.testing import SandboxServer
from tests.sandbox.flows import (
    CLIENT_ID,
    CLIENT_SECRET,
    TIMEOUT,
    bearer,
    company_tokens,
    credentials,
    refresh,
    user_tokens,
)

WEEK = 7 * 24 * 3600


def revoke(base: str, token: str, secret: str = CLIENT_SECRET) -> requests.Response:
    data = {"client_id": CLIENT_ID, "client_secret": secret, "token": token}
    return requests.post(f"{base}/oauth/revoke", data=data, timeout=TIMEOUT)


def test_refresh_rotates_both_tokens(sandbox_server: SandboxServer) -> None:
    first = user_tokens(sandbox_server)

    second = refresh(sandbox_server.url, first["refresh_token"]).json()

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600


def test_spent_refresh_token_is_invalid_grant(sandbox_server: SandboxServer) -> None:
    first = user_tokens(sandbox_server)
    refresh(sandbox_server.url, first["refresh_token"])

    response = refresh(sandbox_server.url, first["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_reusing_spent_refresh_token_kills_the_newer_access_token(
    sandbox_server: SandboxServer,
) -> None:
    first = user_tokens(sandbox_server)
    second = refresh(sandbox_server.url, first["refresh_token"]).json()
    refresh(sandbox_server.url, first["refresh_token"])

    response = credentials(sandbox_server.url, bearer(second["access_token"]))

    assert response.status_code == 401


def test_reusing_spent_refresh_token_kills_the_newer_refresh_token(
    sandbox_server: SandboxServer,
) -> None:
    first = user_tokens(sandbox_server)
    second = refresh(sandbox_server.url, first["refresh_token"]).json()
    refresh(sandbox_server.url, first["refresh_token"])

    response = refresh(sandbox_server.url, second["refresh_token"])

    assert response.json()["error"] == "invalid_grant"


def test_rotation_retires_the_previous_access_token(sandbox_server: SandboxServer) -> None:
    first = user_tokens(sandbox_server)
    refresh(sandbox_server.url, first["refresh_token"])

    response = credentials(sandbox_server.url, bearer(first["access_token"]))

    assert response.status_code == 401


def test_grace_period_accepts_a_spent_token_with_a_fresh_pair(
    sandbox_server: SandboxServer,
) -> None:
    sandbox_server.configure(reuse_grace=30)
    first = user_tokens(sandbox_server)
    second = refresh(sandbox_server.url, first["refresh_token"]).json()

    third = refresh(sandbox_server.url, first["refresh_token"]).json()

    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert credentials(sandbox_server.url, bearer(second["access_token"])).status_code == 200


def test_grace_period_over_means_reuse_is_rejected(sandbox_server: SandboxServer) -> None:
    sandbox_server.configure(reuse_grace=30)
    first = user_tokens(sandbox_server)
    refresh(sandbox_server.url, first["refresh_token"])
    sandbox_server.set_clock(31)

    response = refresh(sandbox_server.url, first["refresh_token"])

    assert response.json()["error"] == "invalid_grant"


def test_refresh_token_dies_a_week_after_its_issue(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.set_clock(WEEK + 1)

    response = refresh(sandbox_server.url, tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"


def test_refreshed_token_gets_a_new_week(sandbox_server: SandboxServer) -> None:
    first = user_tokens(sandbox_server)
    sandbox_server.set_clock(WEEK - 60)
    second = refresh(sandbox_server.url, first["refresh_token"]).json()
    sandbox_server.set_clock(WEEK + 3600)

    response = refresh(sandbox_server.url, second["refresh_token"])

    assert response.status_code == 200


def test_access_token_expires_after_its_ttl(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    sandbox_server.set_clock(3601)

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert response.status_code == 401


def test_access_token_ttl_is_configurable(sandbox_server: SandboxServer) -> None:
    sandbox_server.configure(access_token_ttl=7200)

    tokens = user_tokens(sandbox_server)

    assert tokens["expires_in"] == 7200


def test_company_token_does_not_expire(sandbox_server: SandboxServer) -> None:
    tokens = company_tokens(sandbox_server)
    sandbox_server.set_clock(365 * 24 * 3600)

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert response.status_code == 200


def test_revoking_refresh_token_kills_its_access_token(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    revoked = revoke(sandbox_server.url, tokens["refresh_token"])

    assert revoked.status_code == 200
    assert credentials(sandbox_server.url, bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_access_token_kills_it(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    revoke(sandbox_server.url, tokens["access_token"])

    assert credentials(sandbox_server.url, bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_unknown_token_is_200(base: str) -> None:
    response = revoke(base, "never-issued")

    assert response.status_code == 200


def test_revoke_with_wrong_secret_is_401(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    response = revoke(sandbox_server.url, tokens["refresh_token"], secret="wrong")

    assert response.status_code == 401


def test_admin_revocation_by_token_kills_the_grant(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    sandbox_server.revoke_grant(tokens["refresh_token"])

    assert refresh(sandbox_server.url, tokens["refresh_token"]).status_code == 400


def test_admin_revocation_by_employee_kills_the_grant(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    sandbox_server.revoke_grant(company_id=1, employee_id=1002)

    assert credentials(sandbox_server.url, bearer(tokens["access_token"])).status_code == 401
