"""Who the sandbox's OAuth server deals with: its one registered client, and the owner a code
or token acts for; revoking a whole grant."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from sqlalchemy import update

from sandbox.context import db
from sandbox.models import Grant, Token

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
