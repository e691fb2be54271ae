"""Signing in through the sandbox's identity provider, as a browser would, over real HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer

IDP_CLIENT_ID = "factorial-connect-sso"
IDP_CLIENT_SECRET = "sandbox-sso-secret"


def oidc_settings(sandbox: SandboxServer, **extra: str) -> dict[str, str]:
    """The sandbox IdP with the demo's access rules."""
    return {
        "OIDC_ISSUER": f"{sandbox.url}/oidc",
        "OIDC_CLIENT_ID": IDP_CLIENT_ID,
        "OIDC_CLIENT_SECRET": IDP_CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": "Sandbox IdP",
        "OIDC_ALLOWED_DOMAINS": "acme.example",
        "OIDC_GROUPS_CLAIM": "groups",
        "OIDC_ADMIN_GROUPS": "connect-admins",
        "OIDC_VIEWER_GROUPS": "connect-viewers",
        **extra,
    }


def answer_url(client: FlaskClient, sub: str, start: str = "/auth/oidc/start") -> str:
    """Start a sign-in and pick `sub` on the provider's page: the callback URL (path + query)
    the provider sends the browser back to."""
    started = client.get(start)
    assert started.status_code == 303, started.get_data(as_text=True)
    authorize = started.headers["Location"]
    page = requests.get(authorize, timeout=10)
    assert page.status_code == 200, page.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    chosen = requests.post(
        authorize.split("?")[0], data={**params, "sub": sub}, allow_redirects=False, timeout=10
    )
    assert chosen.status_code == 302, chosen.text
    back = urlsplit(chosen.headers["Location"])
    return f"{back.path}?{back.query}"


def without(url: str, name: str) -> str:
    path, _, query = url.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items() if k != name}
    return f"{path}?{urlencode(params)}"


def sign_in(client: FlaskClient, sub: str) -> Any:
    """The callback's answer after picking `sub`."""
    return client.get(answer_url(client, sub))


def page_after(client: FlaskClient, response: Any) -> str:
    """The page the browser lands on after a redirect."""
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))
