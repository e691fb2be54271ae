"""Discovery, the authorization URL, the code exchange and ID token validation.

authlib's `OAuth2Session` builds the authorization URL (with PKCE S256) and exchanges the
code; `joserfc` (what authlib's own OpenID Connect code uses) checks the ID token's RS256 or
ES256 signature against the issuer's JWKS. `iss`, `aud` (and `azp` when several audiences),
`exp`, `iat` and `nonce` are checked here, each with its own reason. Every call has a timeout;
nothing secret (code, tokens, client secret) goes into an error message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.identity.config import OidcSettings
from app.identity.errors import IdpUnavailable, TokenRejected

log = logging.getLogger(__name__)

Timeout = tuple[float, float]
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]
LEEWAY = 60  # seconds of clock skew allowed on exp / iat
MAX_BODY = 512 * 1024


@dataclass(frozen=True)
class IdTokenClaims:
    """The validated claims of one ID token."""

    issuer: str
    subject: str
    claims: dict[str, Any]

    @property
    def email(self) -> str:
        value = self.claims.get("email")
        return value.strip().lower() if isinstance(value, str) else ""

    @property
    def email_verified(self) -> bool:
        """Only a JSON true counts (a few providers send the string "true")."""
        value = self.claims.get("email_verified")
        return value is True or value == "true"

    def groups(self, claim: str) -> frozenset[str]:
        value = self.claims.get(claim)
        if isinstance(value, str):
            return frozenset({value})
        if isinstance(value, list):
            return frozenset(g for g in value if isinstance(g, str))
        return frozenset()


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class IdentityClient:
    """One sign-in's conversation with the provider; use as a context manager."""

    def __init__(self, settings: OidcSettings, timeout: Timeout) -> None:
        self.settings = settings
        self.timeout = timeout
        self.http = requests.Session()
        self._metadata: dict[str, Any] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.http.close()

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            log.warning("identity provider %s unreachable: %s", what, type(exc).__name__)
            raise IdpUnavailable("unreachable", _UNREACHABLE) from None
        if response.status_code != 200 or len(response.content) > MAX_BODY:
            log.warning("identity provider %s answered %s", what, response.status_code)
            raise IdpUnavailable("bad_metadata", _UNREACHABLE)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise IdpUnavailable("bad_metadata", _UNREACHABLE)
        return body

    def metadata(self) -> dict[str, Any]:
        """The discovery document, checked to name our issuer (OpenID Connect Discovery 4.3)."""
        if self._metadata is None:
            found = self._get_json(self.settings.discovery_url, "discovery")
            if found.get("issuer") != self.settings.issuer:
                log.warning("identity provider discovery names another issuer")
                raise IdpUnavailable("issuer_mismatch", _MISCONFIGURED)
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(key), str) or not found[key].startswith("http"):
                    raise IdpUnavailable("bad_metadata", _MISCONFIGURED)
            self._metadata = found
        return self._metadata

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            scope=" ".join(self.settings.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        with self._session(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    def exchange(self, *, code: str, code_verifier: str, redirect_uri: str) -> str:
        """The ID token for this code (sent once, never retried)."""
        with self._session(redirect_uri) as oauth:
            try:
                token = oauth.fetch_token(
                    self.metadata()["token_endpoint"],
                    code=code,
                    code_verifier=code_verifier,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except OAuthError as exc:
                log.warning("identity provider refused the code: %s", str(exc.error)[:60])
                raise TokenRejected("code_refused", _CODE_REFUSED) from None
            except (requests.RequestException, ValueError) as exc:
                log.warning("identity provider token call failed: %s", type(exc).__name__)
                raise IdpUnavailable("unreachable", _UNREACHABLE) from None
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise TokenRejected("no_id_token", "The identity provider sent no ID token.")
        return id_token

    def keys(self) -> KeySet:
        found = self._get_json(self.metadata()["jwks_uri"], "JWKS")
        try:
            return KeySet.import_key_set(found)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise IdpUnavailable("bad_jwks", _MISCONFIGURED) from None

    def validate(self, id_token: str, *, nonce_digest: str, now: int) -> IdTokenClaims:
        """The claims of a genuine ID token for this client and this sign-in, else
        TokenRejected with the first reason found."""
        try:
            decoded = jwt.decode(id_token, self.keys(), algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            log.warning("ID token refused: %s", type(exc).__name__)
            raise TokenRejected("bad_signature", _UNVERIFIED) from None
        claims = dict(decoded.claims)
        check_claims(claims, self.settings, nonce_digest=nonce_digest, now=now)
        return IdTokenClaims(self.settings.issuer, str(claims["sub"]), claims)


def check_claims(
    claims: dict[str, Any], settings: OidcSettings, *, nonce_digest: str, now: int
) -> None:
    """OpenID Connect Core 3.1.3.7: issuer, audience, authorized party, expiry, nonce."""
    if claims.get("iss") != settings.issuer:
        raise TokenRejected("wrong_issuer", _UNVERIFIED)
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or settings.client_id not in audiences:
        raise TokenRejected("wrong_audience", _UNVERIFIED)
    if len(audiences) > 1 and claims.get("azp") != settings.client_id:
        raise TokenRejected("wrong_audience", _UNVERIFIED)
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int) or isinstance(expires, bool) or expires + LEEWAY <= now:
        raise TokenRejected("expired", _EXPIRED)
    if not isinstance(issued, int) or isinstance(issued, bool) or issued - LEEWAY > now:
        raise TokenRejected("bad_iat", _UNVERIFIED)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce_hash(nonce), nonce_digest):
        raise TokenRejected("wrong_nonce", _UNVERIFIED)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise TokenRejected("no_subject", _UNVERIFIED)


_UNREACHABLE = "The identity provider did not answer properly; try again in a moment."
_MISCONFIGURED = (
    "The identity provider's configuration does not match this app's settings; "
    "ask an administrator to check OIDC_ISSUER."
)
_CODE_REFUSED = "The identity provider refused this sign-in (expired or already used); try again."
_UNVERIFIED = (
    "The identity provider's answer could not be verified, so nobody was signed in. Try again; "
    "if it keeps happening, ask an administrator."
)
_EXPIRED = "The identity provider's answer had already expired; try again."
