"""The OAuth2 authorization server, assembled from authlib's server components.

Factorial-specific behaviour layered on top: client_secret_post only (401 on a bad secret),
Doorkeeper-style token JSON with `created_at`, company tokens without expiry or refresh token
by default, strict refresh-token rotation where reusing a spent refresh token revokes the
whole grant, and an optional reuse grace period (within it a spent refresh token is accepted
again and yields a *fresh* pair; the pair issued on its first use stays valid).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidRequestError, grants
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import request as flask_request
from sqlalchemy import select, update

from sandbox import config as cfg
from sandbox.context import db
from sandbox.models import AuthorizationCode, Employee, Grant, Token
from sandbox.store import Sandbox

AUTH_METHODS = ["client_secret_post"]


@dataclass(frozen=True)
class Owner:
    """Who a code/token acts for: `kind` is "user" or "company"."""

    employee_id: int
    company_id: int
    kind: str


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """The single registered OAuth app; its redirect URIs come from the sandbox config."""

    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    scope: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The app's scopes if none asked; the allowed subset; None (invalid_scope) if empty."""
        if not scope:
            return self.scope
        allowed = set(scope_to_list(self.scope))
        kept = [s for s in scope_to_list(scope) if s in allowed]
        return str(list_to_scope(kept)) if kept else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def owner_of(grant: Grant) -> Owner:
    return Owner(grant.employee_id, grant.company_id, grant.kind)


def revoke_grant(grant: Grant, now: int) -> None:
    """Kill a grant and every token issued from it (as an admin revoking the app would)."""
    if grant.revoked_at is None:
        grant.revoked_at = now
    db().execute(update(Token).where(Token.grant_id == grant.id).values(access_revoked=True))


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


class SandboxCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only; optional unless the sandbox is configured to require it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(required=False)
        self.sandbox = sandbox

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if self.sandbox.settings.require_pkce and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


def _sandbox(grant: Any) -> Sandbox:
    sandbox: Sandbox = grant.server.sandbox
    return sandbox


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        owner: Owner = request.user
        data = request.payload.data
        db().add(
            AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                scope=request.scope,
                redirect_uri=request.payload.redirect_uri or request.client.redirect_uris[0],
                employee_id=owner.employee_id,
                kind=owner.kind,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                issued_at=_sandbox(self).clock.now(),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Unused, unexpired (10 minutes by default, on the sandbox clock) codes only."""
        row = db().scalar(
            select(AuthorizationCode).where(
                AuthorizationCode.code == code, AuthorizationCode.client_id == client.client_id
            )
        )
        sandbox = _sandbox(self)
        if row is None or row.used:
            return None
        expired = row.issued_at + sandbox.settings.code_ttl <= sandbox.clock.now()
        return None if expired else row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        authorization_code.used = True

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Owner | None:
        employee = db().get(Employee, authorization_code.employee_id)
        if employee is None:
            return None
        return Owner(employee.id, employee.company_id, authorization_code.kind)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        """A live refresh token; a spent one outside the grace period revokes its grant."""
        token = db().scalar(select(Token).where(Token.refresh_token == refresh_token))
        if token is None:
            return None
        grant = db().get(Grant, token.grant_id)
        now = _sandbox(self).clock.now()
        if grant is None or grant.revoked_at is not None:
            return None
        if token.refresh_expires_at is not None and token.refresh_expires_at <= now:
            return None
        if token.spent_at is not None:
            grace = _sandbox(self).settings.reuse_grace
            if grace > 0 and now - token.spent_at <= grace:
                return token
            revoke_grant(grant, now)
            return None
        return token

    def authenticate_user(self, refresh_token: Token) -> Owner | None:
        grant = db().get(Grant, refresh_token.grant_id)
        return owner_of(grant) if grant is not None else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.access_revoked = True
        if refresh_token.spent_at is None:
            refresh_token.spent_at = _sandbox(self).clock.now()


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. A refresh token kills its whole grant; an access token only itself."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return db().scalar(
            select(Token).where(
                (Token.access_token == token_string) | (Token.refresh_token == token_string)
            )
        )

    def revoke_token(self, token: Token, request: Any) -> None:
        if request.form.get("token") == token.refresh_token:
            grant = db().get(Grant, token.grant_id)
            if grant is not None:
                revoke_grant(grant, self.server.sandbox.clock.now())
        else:
            token.access_revoked = True
