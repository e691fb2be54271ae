"""Who is calling the API: an API key (`x-api-key`, wins over a bearer) or an access token
checked by authlib's ResourceProtector. Failures become Factorial-like JSON: 401 for a
missing/unknown/expired/revoked credential, 403 for a valid token lacking the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from flask import abort, jsonify, request
from sqlalchemy import select

from sandbox.context import current, db
from sandbox.models import ApiKey, Grant, Token
from sandbox.store import Sandbox, digest


@dataclass(frozen=True)
class Credential:
    """The authenticated caller. `ref` is the opaque id shown by the credentials endpoint."""

    kind: str  # "user_token" | "company_token" | "api_key"
    ref: int
    company_id: int
    employee_id: int | None = None

    @property
    def public_id(self) -> str:
        return f"{self.kind}_{self.ref}"


class SandboxBearerValidator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def authenticate_token(self, token_string: str) -> Token | None:
        return db().scalar(select(Token).where(Token.access_token == token_string))

    def validate_token(
        self, token: Token | None, scopes: list[str] | None, request: Any, **kwargs: Any
    ) -> None:
        """Expiry uses the sandbox clock; a revoked grant kills all of its tokens."""
        if token is None or token.access_revoked:
            raise InvalidTokenError(realm=self.realm)
        grant = db().get(Grant, token.grant_id)
        if grant is None or grant.revoked_at is not None:
            raise InvalidTokenError(realm=self.realm)
        now = self.sandbox.clock.now()
        if token.expires_in is not None and token.issued_at + token.expires_in <= now:
            raise InvalidTokenError(realm=self.realm)
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


def build_protector(sandbox: Sandbox) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(SandboxBearerValidator(sandbox))
    return protector


def _deny(status: int, error: str, description: str) -> NoReturn:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{error}"'
    abort(response)


def api_key_credential() -> Credential | None:
    """The API key of this request, if it sent one; 401 if it is unknown."""
    key = request.headers.get("x-api-key")
    if key is None:
        return None
    row = db().scalar(select(ApiKey).where(ApiKey.token_digest == digest(key.strip())))
    if row is None:
        _deny(401, "invalid_token", "The API key is invalid or has been deleted.")
    return Credential("api_key", row.id, row.company_id)


def authenticate(scope: str | None, *, api_key_only: bool = False) -> Credential:
    """The caller's credential or an aborted 401/403. API keys have every scope."""
    credential = api_key_credential()
    if credential is not None:
        return credential
    if api_key_only:
        _deny(401, "invalid_token", "This endpoint requires an API key (x-api-key).")
    protector: ResourceProtector = current().protector
    try:
        token: Token = protector.acquire_token([scope] if scope else None)
    except InsufficientScopeError:
        _deny(403, "insufficient_scope", f"The access token lacks the '{scope}' scope.")
    except OAuth2Error as error:
        _deny(401, "invalid_token", error.description or "Missing or invalid access token.")
    grant = db().get(Grant, token.grant_id)
    if grant is None:
        _deny(401, "invalid_token", "Unknown grant.")
    kind = "company_token" if grant.kind == "company" else "user_token"
    employee = grant.employee_id if kind == "user_token" else None
    return Credential(kind, grant.id, grant.company_id, employee)
