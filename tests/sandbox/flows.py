"""Small client-side helpers the sandbox tests share (what an OAuth client would do)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from sandbox.testing import SandboxServer

CLIENT_ID = "factorial-connect-sandbox"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
ADMIN_ACME, BRUNO_ACME = 1001, 1002
TIMEOUT = 10


def authorize_url(base: str, **extra: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "st-123",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def get_code(server: SandboxServer, employee_id: int = BRUNO_ACME, **extra: str) -> str:
    return query_of(server.approve(authorize_url(server.url, **extra), employee_id))["code"]


def post_token(base: str, **form: str) -> requests.Response:
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
    return requests.post(f"{base}/oauth/token", data=data, timeout=TIMEOUT)


def exchange(base: str, code: str, **form: str) -> requests.Response:
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        **form,
    }
    return post_token(base, **fields)


def refresh(base: str, refresh_token: str) -> requests.Response:
    return post_token(base, grant_type="refresh_token", refresh_token=refresh_token)


def user_tokens(
    server: SandboxServer, employee_id: int = BRUNO_ACME, **extra: str
) -> dict[str, Any]:
    response = exchange(server.url, get_code(server, employee_id, **extra))
    response.raise_for_status()
    return dict(response.json())


def company_tokens(server: SandboxServer) -> dict[str, Any]:
    return user_tokens(server, ADMIN_ACME, resource_owner_type="company")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credentials(
    base: str, headers: dict[str, str], version: str = "2026-10-01"
) -> requests.Response:
    return requests.get(
        f"{base}/api/{version}/resources/api_public/credentials", headers=headers, timeout=TIMEOUT
    )


def api_key(server: SandboxServer, company_id: int = 1) -> str:
    return str(server.mint_api_key(company_id, "test key")["token"])
