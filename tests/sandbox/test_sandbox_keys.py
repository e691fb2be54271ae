"""The legacy v1 keys API (API-key authenticated only)."""

from __future__ import annotations

import requests

from sandbox.testing import SandboxServer
from tests.sandbox.flows import TIMEOUT, api_key, bearer, credentials, user_tokens


def keys_url(server: SandboxServer) -> str:
    return f"{server.url}/api/v1/core/keys"


def test_list_shows_digests_not_tokens(sandbox_server: SandboxServer) -> None:
    key = api_key(sandbox_server)

    listed = requests.get(
        keys_url(sandbox_server), headers={"x-api-key": key}, timeout=TIMEOUT
    ).json()

    assert {"id", "name", "token_digest", "created_at"} == set(listed[0])
    assert all(key not in str(item) for item in listed)


def test_create_returns_the_token_once(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    created = requests.post(
        keys_url(sandbox_server), json={"name": "ETL"}, headers=headers, timeout=TIMEOUT
    )

    assert created.status_code == 201
    assert credentials(sandbox_server.url, {"x-api-key": created.json()["token"]}).ok


def test_create_accepts_form_bodies(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    created = requests.post(
        keys_url(sandbox_server), data={"name": "Form"}, headers=headers, timeout=TIMEOUT
    )

    assert created.json()["name"] == "Form"


def test_delete_kills_the_key(sandbox_server: SandboxServer) -> None:
    admin_key = api_key(sandbox_server)
    victim = sandbox_server.mint_api_key(1, "victim")

    deleted = requests.delete(
        f"{keys_url(sandbox_server)}/{victim['id']}",
        headers={"x-api-key": admin_key},
        timeout=TIMEOUT,
    )

    assert deleted.status_code == 204
    assert credentials(sandbox_server.url, {"x-api-key": victim["token"]}).status_code == 401


def test_a_key_may_delete_itself(sandbox_server: SandboxServer) -> None:
    me = sandbox_server.mint_api_key(1, "me")

    deleted = requests.delete(
        f"{keys_url(sandbox_server)}/{me['id']}",
        headers={"x-api-key": me["token"]},
        timeout=TIMEOUT,
    )

    assert deleted.status_code == 204


def test_delete_unknown_key_is_404(sandbox_server: SandboxServer) -> None:
    response = requests.delete(
        f"{keys_url(sandbox_server)}/9999",
        headers={"x-api-key": api_key(sandbox_server)},
        timeout=TIMEOUT,
    )

    assert response.status_code == 404


def test_bearer_tokens_cannot_use_the_keys_api(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    response = requests.get(
        keys_url(sandbox_server), headers=bearer(tokens["access_token"]), timeout=TIMEOUT
    )

    assert response.status_code == 401
