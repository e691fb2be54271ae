"""The grants and endpoints the sandbox's OAuth server registers: authorization code with PKCE,
refresh token with strict rotation (and the optional reuse grace period), revocation."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select

from sandbox.context import db
from sandbox.models import AuthorizationCode, Employee, Grant, Token
from sandbox.oauth_clients import AUTH_METHODS, Client, Owner, owner_of, revoke_grant
from sandbox.store import Sandbox


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
