"""Typed failures of a sign-in at the identity provider; messages are safe to show."""

from __future__ import annotations


class IdentityError(Exception):
    """`reason` is machine-readable (logs, audit); `message` is for the person signing in."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class IdpUnavailable(IdentityError):
    """The identity provider did not answer usefully (timeout, 5xx, bad discovery or JWKS)."""


class TokenRejected(IdentityError):
    """The provider's answer is not a valid ID token for this sign-in: nobody is signed in."""
