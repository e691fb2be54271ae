"""End-to-end smoke: a user token from the consent shortcut works on the API."""

from __future__ import annotations

from sandbox.testing import SandboxServer
from tests.sandbox.flows import bearer, credentials, user_tokens


def test_user_token_reads_credentials(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    response = credentials(sandbox_server.url, bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.json()["data"][0]["employee_id"] == 1002
