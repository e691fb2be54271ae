"""An OpenID Connect identity provider for the demo and the tests (`/oidc/...`).

Authorization code flow only, PKCE (S256) required, confidential client (secret by HTTP Basic
or in the form), ID tokens signed RS256 by authlib's `generate_id_token` with an RSA key made
at first start and kept in the database (a restart on a file signs with the same key). The
authorization answer carries `iss` (RFC 9207). The consent page lists `idp_people`.

Test controls (`sandbox.idp_control`, not in strict mode) change a person's groups or email,
and arm a one-shot tamper of the next answer: an ID token signed with another key, for
another audience or issuer, with another nonce, already expired; or an authorization answer
naming another issuer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oidc.core.grants.util import generate_id_token
from flask import Blueprint, Response, jsonify, redirect, render_template, request
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect

from sandbox.context import current, db
from sandbox.idp_people import (
    IDP_CLIENT_ID,
    IDP_CLIENT_SECRET,
    IDP_REDIRECT_URIS,
    Person,
    directory,
)
from sandbox.models import IdpKey

bp = Blueprint("idp", __name__, url_prefix="/oidc")

CODE_TTL = 600
ID_TOKEN_TTL = 300
TOKEN_TAMPERS = ("signature", "aud", "iss", "nonce", "expired")
ANSWER_TAMPERS = ("response_iss",)
FOREIGN_ISSUER = "http://idp.attacker.invalid"


@dataclass
class IdentityProvider:
    """In-memory state: the signing key, issued codes, the directory and armed tampers."""

    key: RSAKey | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=directory)
    tampers: set[str] = field(default_factory=set)

    def reset(self) -> None:
        """Back to the seed; the signing key stays (tokens it signed remain verifiable)."""
        self.codes.clear()
        self.people = directory()
        self.tampers.clear()

    def signing_key(self, session: Session) -> RSAKey:
        """The key saved in the database; the one in memory (or a new one) saved if none is."""
        row = session.get(IdpKey, 1)
        if row is not None:
            if self.key is None or self.key.as_pem(private=True).decode() != row.pem:
                self.key = RSAKey.import_key(row.pem, {"use": "sig", "alg": "RS256"})
            return self.key
        if self.key is None:
            self.key = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"})
        session.add(IdpKey(id=1, pem=self.key.as_pem(private=True).decode()))
        session.flush()
        return self.key

    def take(self, name: str) -> bool:
        """True once if the tamper `name` is armed."""
        armed = name in self.tampers
        self.tampers.discard(name)
        return armed


def provider() -> IdentityProvider:
    idp: IdentityProvider = current().idp
    return idp


def issuer() -> str:
    return request.host_url.rstrip("/") + "/oidc"


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    base = issuer()
    return jsonify(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
            "authorization_response_iss_parameter_supported": True,
        }
    )


@bp.get("/jwks")
def jwks() -> Response:
    key = provider().signing_key(db())
    return jsonify({"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]})


def error_page(description: str, status: int = 400) -> tuple[str, int]:
    return render_template("error.html", error="invalid_request", description=description), status


def redirect_uris() -> set[str]:
    """The defaults, and `/auth/oidc/callback` at each origin the Factorial client's redirect
    URIs name (so `make run` on other ports works)."""
    origins = {
        urlsplit(uri)._replace(path="", query="", fragment="").geturl()
        for uri in current().config.redirect_uris
    }
    return {*IDP_REDIRECT_URIS, *(f"{origin}/auth/oidc/callback" for origin in origins)}


def _checked(params: dict[str, str]) -> str | None:
    """Why these authorize parameters cannot be answered by a redirect, or None."""
    if params.get("client_id") != IDP_CLIENT_ID:
        return "Unknown client_id."
    if params.get("redirect_uri") not in redirect_uris():
        return "This redirect_uri is not registered for the client."
    return None


def _answer(params: dict[str, str], **values: str) -> Redirect:
    """Redirect back to the client with `values`, its state and our issuer (RFC 9207)."""
    iss = FOREIGN_ISSUER if provider().take("response_iss") else issuer()
    query = {**values, "state": params.get("state", ""), "iss": iss}
    return redirect(f"{params['redirect_uri']}?{urlencode(query)}", code=302)


def _request_error(params: dict[str, str]) -> str | None:
    """An OAuth error code for a request the client must hear about, or None."""
    if params.get("response_type") != "code":
        return "unsupported_response_type"
    if "openid" not in params.get("scope", "").split():
        return "invalid_scope"
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return "invalid_request"
    return None


@bp.get("/authorize")
def authorize_page() -> Redirect | tuple[str, int] | str:
    params = request.args.to_dict()
    problem = _checked(params)
    if problem:
        return error_page(problem)
    error = _request_error(params)
    if error:
        return _answer(params, error=error)
    return render_template(
        "idp_consent.html",
        people=list(provider().people.values()),
        params=params,
        redirect_uri=params["redirect_uri"],
    )


@bp.post("/authorize")
def authorize_submit() -> Redirect | tuple[str, int]:
    params = {k: v for k, v in request.form.items() if k not in ("sub", "decision")}
    problem = _checked(params)
    if problem:
        return error_page(problem)
    error = _request_error(params)
    if error:
        return _answer(params, error=error)
    if request.form.get("decision") == "deny":
        return _answer(params, error="access_denied", error_description="The person declined.")
    person = provider().people.get(request.form.get("sub", ""))
    if person is None:
        return error_page("Pick one of the people listed.")
    code = secrets.token_urlsafe(32)
    provider().codes[code] = {
        "sub": person.sub,
        "redirect_uri": params["redirect_uri"],
        "nonce": params.get("nonce", ""),
        "challenge": params["code_challenge"],
        "expires": time.time() + CODE_TTL,
    }
    return _answer(params, code=code)


def _token_error(error: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": error}), status


def _client_authenticated() -> bool:
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        given_id, given_secret = auth.username or "", auth.password or ""
    else:
        given_id = request.form.get("client_id", "")
        given_secret = request.form.get("client_secret", "")
    return given_id == IDP_CLIENT_ID and secrets.compare_digest(given_secret, IDP_CLIENT_SECRET)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@bp.post("/token")
def token() -> Response | tuple[Response, int]:
    if not _client_authenticated():
        return _token_error("invalid_client", 401)
    if request.form.get("grant_type") != "authorization_code":
        return _token_error("unsupported_grant_type")
    issued = provider().codes.pop(request.form.get("code", ""), None)
    if issued is None or issued["expires"] < time.time():
        return _token_error("invalid_grant")
    if issued["redirect_uri"] != request.form.get("redirect_uri"):
        return _token_error("invalid_grant")
    if _s256(request.form.get("code_verifier", "")) != issued["challenge"]:
        return _token_error("invalid_grant")
    person = provider().people.get(issued["sub"])
    if person is None:
        return _token_error("invalid_grant")
    access_token = secrets.token_urlsafe(32)
    id_token = _id_token(person, issued["nonce"], access_token)
    return jsonify(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
            "id_token": id_token,
        }
    )


def _id_token(person: Person, nonce: str, access_token: str) -> str:
    idp = provider()
    key = idp.signing_key(db())
    kid = key.thumbprint()
    claims: dict[str, Any] = person.claims()
    exp = ID_TOKEN_TTL
    if idp.take("signature"):
        key = RSAKey.generate_key(2048)
    if idp.take("aud"):
        claims["aud"] = "another-client"
    if idp.take("iss"):
        claims["iss"] = FOREIGN_ISSUER
    if idp.take("nonce"):
        claims["nonce"] = "not-the-nonce-that-was-sent"
    if idp.take("expired"):
        exp = -600
    token: bytes | str = generate_id_token(
        {"access_token": access_token},
        claims,
        key,
        iss=issuer(),
        aud=IDP_CLIENT_ID,
        exp=exp,
        nonce=nonce,
        kid=kid,
    )
    return token.decode() if isinstance(token, bytes) else token
