"""The OAuth2 authorization server, assembled from authlib's server components.

Factorial-specific behaviour layered on top: client_secret_post only (401 on a bad secret),
Doorkeeper-style token JSON with `created_at`, company tokens without expiry or refresh token
by default, strict refresh-token rotation where reusing a spent refresh token revokes the
whole grant, and an optional reuse grace period (within it a spent refresh token is accepted
again and yields a *fresh* pair; the pair issued on its first use stays valid).
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import request as flask_request

from sandbox import config as cfg
from sandbox.context import db
from sandbox.models import Grant, Token
from sandbox.oauth_clients import Client, Owner
from sandbox.oauth_grants import CodeGrant, RefreshGrant, Revocation, SandboxCodeChallenge
from sandbox.store import Sandbox


class SandboxServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.client = Client(
            cfg.CLIENT_ID,
            cfg.CLIENT_SECRET,
            cfg.CLIENT_NAME,
            sandbox.config.redirect_uris,
            cfg.CLIENT_SCOPES,
        )
        self.register_token_generator("default", self.generate_bearer)
        self.register_grant(CodeGrant, [SandboxCodeChallenge(sandbox)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self.issuer = SandboxIssuer(sandbox)
        self.register_extension(self.issuer)

    def query_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else None

    def authenticate_client(
        self, request: Any, methods: list[str], endpoint: str = "token"
    ) -> Client:
        """As authlib's, but a failed client authentication is always a 401."""
        try:
            return super().authenticate_client(request, methods, endpoint)  # type: ignore[no-any-return]
        except InvalidClientError as error:
            error.status_code = 401
            raise

    def create_oauth2_request(self, request: Any) -> FlaskOAuth2Request:
        """Use the given request if any (the /_sandbox/approve shortcut), else Flask's."""
        return FlaskOAuth2Request(request if request is not None else flask_request)

    def generate_bearer(
        self,
        grant_type: str,
        client: Client,
        user: Owner | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Doorkeeper-shaped token JSON; company tokens follow the company_* settings."""
        settings = self.sandbox.settings
        company = user is not None and user.kind == "company"
        ttl = settings.company_token_ttl if company else settings.access_token_ttl
        refresh = include_refresh_token and (settings.company_refresh if company else True)
        token: dict[str, Any] = {"access_token": secrets.token_urlsafe(32), "token_type": "Bearer"}
        if ttl is not None:
            token["expires_in"] = ttl
        if refresh:
            token["refresh_token"] = secrets.token_urlsafe(32)
        token["scope"] = scope or client.scope  # already narrowed by the grant
        token["created_at"] = self.sandbox.clock.now()
        return token

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the pair; a code exchange starts a new grant, a refresh continues one."""
        if request.payload.grant_type == "refresh_token":
            grant_id = request.refresh_token.grant_id
        else:
            owner: Owner = request.user
            grant = Grant(
                client_id=request.client.client_id,
                company_id=owner.company_id,
                employee_id=owner.employee_id,
                kind=owner.kind,
                scope=token["scope"],
                created_at=token["created_at"],
                revoked_at=None,
            )
            db().add(grant)
            db().flush()
            grant_id = grant.id
        refresh = token.get("refresh_token")
        life = self.sandbox.settings.refresh_token_ttl
        db().add(
            Token(
                grant_id=grant_id,
                client_id=request.client.client_id,
                access_token=token["access_token"],
                refresh_token=refresh,
                scope=token["scope"],
                issued_at=token["created_at"],
                expires_in=token.get("expires_in"),
                spent_at=None,
                refresh_expires_at=token["created_at"] + life if refresh else None,
            )
        )


class SandboxIssuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207's `iss` on authorization responses, errors included, when `issuer` is set."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def get_issuer(self) -> str | None:
        return self.sandbox.settings.issuer
