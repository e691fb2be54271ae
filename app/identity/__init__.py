"""The only code that speaks HTTP to the company's OpenID Connect identity provider."""

from app.identity.client import IdentityClient, IdTokenClaims
from app.identity.errors import IdentityError, IdpUnavailable, TokenRejected

__all__ = ["IdTokenClaims", "IdentityClient", "IdentityError", "IdpUnavailable", "TokenRejected"]
