"""Helpers shared by the factorial tests: environments and clients with short timeouts."""

from __future__ import annotations

from app.factorial import FactorialClient
from app.settings import FactorialEnvironment

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
