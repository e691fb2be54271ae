"""The only package that speaks HTTP to Factorial; it imports nothing of ours but settings types."""

from app.factorial.client import FactorialClient, TokenKind
from app.factorial.errors import (
    FactorialError,
    Forbidden,
    InvalidClient,
    InvalidGrant,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
    UnexpectedResponse,
    parse_retry_after,
)
from app.factorial.http_session import new_http_session
from app.factorial.ratelimit import PostLimiter, limit_for
from app.factorial.responses import (
    CreatedApiKey,
    CredentialInfo,
    CredentialKind,
    RemoteApiKey,
    TokenResponse,
)

__all__ = [
    "CreatedApiKey",
    "CredentialInfo",
    "CredentialKind",
    "FactorialClient",
    "FactorialError",
    "Forbidden",
    "InvalidClient",
    "InvalidGrant",
    "NotFound",
    "PostLimiter",
    "ProviderUnavailable",
    "RateLimited",
    "RemoteApiKey",
    "TokenKind",
    "TokenResponse",
    "Unauthorized",
    "UnexpectedResponse",
    "limit_for",
    "new_http_session",
    "parse_retry_after",
]
