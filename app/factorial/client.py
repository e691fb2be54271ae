"""The only code that speaks HTTP to Factorial: OAuth endpoints, credentials, keys, API calls.

authlib builds the authorize URL and the PKCE values. The token and revoke POSTs go through plain
`requests`: authlib's session raises untyped errors (HTTPError for 5xx or HTML, OAuthError with
no HTTP status, so a 429 loses Retry-After), re-sends scopes on refresh and stores the token on a
shared object. Posting the form ourselves maps every outcome to one typed error and sends the
refresh POST exactly once (the session we create mounts an adapter with `max_retries=0`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, unquote

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from app.factorial.errors import UnexpectedResponse
from app.factorial.http_session import new_http_session
from app.factorial.responses import CreatedApiKey, CredentialInfo, RemoteApiKey, TokenResponse
from app.factorial.transport import (
    Observer,
    json_body,
    json_object,
    raise_for_api_status,
    raise_token_error,
    send,
)
from app.infra.settings import FactorialEnvironment

TokenKind = Literal["user", "company"]
Params = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]] | None
CODE_VERIFIER_LENGTH = 64
_UNFORWARDED_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "host"})


class FactorialClient:
    """One Factorial environment; every call has (connect, read) timeouts and typed failures."""

    def __init__(
        self,
        environment: FactorialEnvironment,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
        observer: Observer | None = None,
    ) -> None:
        """`observer(kind, seconds, outcome)` hears of every HTTP call; kind is one of token,
        revoke, credentials, keys, api (see `transport.outcome_class` for outcomes)."""
        self.environment = environment
        self._observer = observer
        self._base = environment.base_url.rstrip("/")
        self._timeout = (connect_timeout, read_timeout)
        self._owns_session = session is None
        self._session = session if session is not None else new_http_session()

    @property
    def issuer(self) -> str:
        """The issuer this environment's authorization answers may name in `iss` (RFC 9207):
        its base URL, under which the authorize and token endpoints live (as RFC 8414 defines
        an issuer). Factorial does not document sending `iss`."""
        return self._base

    def close(self) -> None:
        """Release pooled connections of a session this client created (not a lent one)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> FactorialClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def new_state() -> str:
        """256 random bits, URL-safe: the CSRF `state` of one authorization."""
        return secrets.token_urlsafe(32)

    @staticmethod
    def new_code_verifier() -> str:
        """An RFC 7636 verifier: 64 unreserved characters from a CSPRNG."""
        return str(generate_token(CODE_VERIFIER_LENGTH))

    def authorization_url(self, *, state: str, kind: TokenKind, code_verifier: str | None) -> str:
        """Where to send the admin's browser; `kind="company"` asks for a company token."""
        if not state:
            raise ValueError("state must be a non-empty random value")
        if kind not in ("user", "company"):
            raise ValueError(f"kind must be 'user' or 'company', got {kind!r}")
        env = self.environment
        extra = {"resource_owner_type": "company"} if kind == "company" else {}
        with OAuth2Session(
            client_id=env.client_id,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            scope=" ".join(env.scopes) or None,
            redirect_uri=env.redirect_uri,
            code_challenge_method="S256",
        ) as oauth:
            url, _ = oauth.create_authorization_url(
                f"{self._base}/oauth/authorize", state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    def exchange_code(self, code: str, *, code_verifier: str | None) -> TokenResponse:
        """Trade a single-use authorization code for tokens."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.environment.redirect_uri,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_request(form, "Code exchange", (code, code_verifier or ""))

    def refresh(self, refresh_token: str) -> TokenResponse:
        """Spend a refresh token once (it rotates); never retried here, whatever happens."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_request(form, "Token refresh", (refresh_token,))

    def revoke(
        self,
        token: str,
        *,
        token_type_hint: Literal["access_token", "refresh_token"] | None = None,
    ) -> None:
        """Revoke an access or refresh token; returns only when Factorial confirms (2xx)."""
        form = self._client_form({"token": token})
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        url = f"{self._base}/oauth/revoke"
        response = self._send("POST", url, "revoke", data=form)
        raise_token_error(response, "Revoke", self._redact(token))

    def credentials(
        self, *, access_token: str | None = None, api_key: str | None = None
    ) -> CredentialInfo:
        """Who owns the credential; the cheapest check that it still works."""
        what = "Credential check"
        path = f"{self.environment.api_version}/resources/api_public/credentials"
        headers = _auth_headers(access_token, api_key)
        response = self._api("GET", path, what, headers, kind="credentials")
        data = json_object(response, what).get("data")
        items = data if isinstance(data, list) else [data]
        if not items or not isinstance(items[0], dict):
            raise UnexpectedResponse(f"{what}: no credential in the answer (wrong environment?)")
        return CredentialInfo.from_payload(items[0], sent_api_key=api_key is not None)

    def list_api_keys(self, api_key: str) -> list[RemoteApiKey]:
        """Keys of the company that owns `api_key` (legacy v1 API; secrets are not listed)."""
        what = "Listing API keys"
        response = self._api("GET", "v1/core/keys", what, _auth_headers(None, api_key), kind="keys")
        body = json_body(response, what)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise UnexpectedResponse(f"{what}: the answer is not a list")
        return [_remote_key(item, what) for item in items]

    def create_api_key(self, api_key: str, name: str) -> CreatedApiKey:
        """A new key; its token is in this answer only, so store it before anything else."""
        what = "Creating an API key"
        headers = _auth_headers(None, api_key)
        payload = {"name": name}
        response = self._api("POST", "v1/core/keys", what, headers, json=payload, kind="keys")
        body = json_object(response, what)
        key_id, token = body.get("id"), body.get("token")
        if key_id is None or not isinstance(token, str) or not token:
            raise UnexpectedResponse(f"{what}: the answer has no id or token")
        return CreatedApiKey(id=str(key_id), name=str(body.get("name") or name), token=token)

    def delete_api_key(self, api_key: str, key_id: str) -> None:
        """Delete one key by id; NotFound when it is already gone."""
        path = f"v1/core/keys/{quote(str(key_id), safe='')}"
        headers = _auth_headers(None, api_key)
        self._api("DELETE", path, "Deleting an API key", headers, kind="keys")

    def request(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        api_key: str | None = None,
        params: Params = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Raw `{base}/api/{path}` call for a proxy: any status comes back, transport errors raise.

        Caller headers carrying credentials (Authorization, x-api-key, Cookie) or Host are dropped:
        only the credential passed here is sent.
        """
        merged = {k: v for k, v in (headers or {}).items() if k.lower() not in _UNFORWARDED_HEADERS}
        merged.update(_auth_headers(access_token, api_key, required=False))
        url = self._api_url(path)
        return self._send(method.upper(), url, "api", params=params, data=data, headers=merged)

    def _token_request(self, form: dict[str, str], what: str, sent: Iterable[str]) -> TokenResponse:
        url = f"{self._base}/oauth/token"
        headers = {"Accept": "application/json"}
        body = self._client_form(form)
        response = self._send("POST", url, "token", data=body, headers=headers)
        raise_token_error(response, what, self._redact(*sent))
        return TokenResponse.from_payload(json_object(response, what))

    def _client_form(self, form: Mapping[str, str]) -> dict[str, str]:
        env = self.environment
        return {**form, "client_id": env.client_id, "client_secret": env.client_secret}

    def _redact(self, *sent: str) -> tuple[str, ...]:
        return (*sent, self.environment.client_secret)

    def _api(
        self,
        method: str,
        path: str,
        what: str,
        headers: Mapping[str, str],
        json: object = None,
        kind: str = "api",
    ) -> requests.Response:
        url = self._api_url(path)
        response = self._send(method, url, kind, headers=headers, json=json)
        raise_for_api_status(response, what)
        return response

    def _send(self, method: str, url: str, kind: str, **kwargs: Any) -> requests.Response:
        return send(
            self._session,
            method,
            url,
            timeout=self._timeout,
            observer=self._observer,
            kind=kind,
            **kwargs,
        )

    def _api_url(self, path: str) -> str:
        clean = path.lstrip("/")
        route = unquote(clean.split("?", 1)[0]).replace("\\", "/")
        if ".." in route.split("/") or ":" in route:
            raise ValueError("API path must stay under /api/")
        return f"{self._base}/api/{clean}"


def _auth_headers(
    access_token: str | None, api_key: str | None, *, required: bool = True
) -> dict[str, str]:
    """Exactly one credential: an API key goes in x-api-key (never Bearer), a token in Bearer."""
    if access_token and api_key:
        raise ValueError("pass an access token or an API key, not both")
    if api_key:
        return {"x-api-key": api_key}
    if access_token:
        return {"Authorization": f"Bearer {access_token}"}
    if required:
        raise ValueError("an access token or an API key is required")
    return {}


def _remote_key(item: object, what: str) -> RemoteApiKey:
    if not isinstance(item, dict) or item.get("id") is None:
        raise UnexpectedResponse(f"{what}: a key in the answer has no id")
    created_at, digest = item.get("created_at"), item.get("token_digest")
    return RemoteApiKey(
        id=str(item["id"]),
        name=str(item.get("name") or ""),
        created_at=None if created_at is None else str(created_at),
        token_digest=digest if isinstance(digest, str) and digest else None,
    )
