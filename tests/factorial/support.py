"""Helpers shared by the factorial tests: environments and clients with short timeouts."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from app.factorial import FactorialClient, TokenKind, TokenResponse
from app.infra.settings import FactorialEnvironment

if TYPE_CHECKING:
    from sandbox.testing import SandboxServer

REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
CLIENT_ID = "factorial-connect-sandbox"
CLIENT_SECRET = "sandbox-client-secret"


def environment_at(base_url: str, **overrides: object) -> FactorialEnvironment:
    values: dict[str, object] = {
        "name": "demo",
        "label": "Sandbox",
        "base_url": base_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        "scopes": (),
        "pkce": True,
    }
    values.update(overrides)
    return FactorialEnvironment(**values)  # type: ignore[arg-type]


def fast_client(base_url: str, **overrides: object) -> FactorialClient:
    return FactorialClient(
        environment_at(base_url, **overrides), connect_timeout=0.5, read_timeout=0.5
    )


def query_of(url: str) -> dict[str, str]:
    """The query string of `url` as a flat dict (each parameter must appear once)."""
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert len(pairs) == len({k for k, _ in pairs})
    return dict(pairs)


def admin_of(sandbox: SandboxServer, company_id: int) -> int:
    """The id of a seeded admin of `company_id`."""
    return _employee_of(sandbox, company_id, is_admin=True)


def regular_of(sandbox: SandboxServer, company_id: int) -> int:
    """The id of a seeded non-admin employee of `company_id`."""
    return _employee_of(sandbox, company_id, is_admin=False)


def _employee_of(sandbox: SandboxServer, company_id: int, *, is_admin: bool) -> int:
    employees = sandbox.seed()["employees"]
    match = (e for e in employees if e["company_id"] == company_id and e["is_admin"] == is_admin)
    return int(next(match)["id"])


def connect(
    sandbox: SandboxServer,
    client: FactorialClient,
    *,
    kind: TokenKind = "user",
    employee_id: int | None = None,
) -> TokenResponse:
    """Run the whole authorization-code flow with PKCE, consenting as `employee_id`."""
    verifier = client.new_code_verifier()
    url = client.authorization_url(state=client.new_state(), kind=kind, code_verifier=verifier)
    location = sandbox.approve(url, employee_id or admin_of(sandbox, 1))
    return client.exchange_code(query_of(location)["code"], code_verifier=verifier)


def api_key_of(sandbox: SandboxServer, company_id: int) -> str:
    """A fresh API key of `company_id`."""
    token: str = sandbox.mint_api_key(company_id, "test key")["token"]
    return token
