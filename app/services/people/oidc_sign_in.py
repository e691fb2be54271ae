"""Sign in through the identity provider: start (a pending sign-in and the provider's URL),
then turn its answer into the account that proved itself.

A pending sign-in (`pending_states`: keyed by a hash of `state`, single use, 10 minutes) is
bound to the browser that started it (a hash of a random value in its cookie session). The
answer is refused before any token request when its state is unknown, used, expired or another
browser's, when it names another issuer (RFC 9207; when the provider says it sends `iss`, an
answer without one too), or carries no code. Then the code is exchanged once and the ID token
checked (`app.identity`), and the access rules apply (`oidc_access`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.identity import IdentityClient, IdentityError, IdTokenClaims
from app.identity.client import nonce_hash
from app.models import Admin, PendingSignIn
from app.services import DbSession, audit, pending_states
from app.services.audit import Actor
from app.services.people import oidc_access
from app.services.people.oidc_access import AccessRefused

log = logging.getLogger(__name__)

ANONYMOUS = Actor(kind="anonymous", label="identity provider sign-in")


class SignInRefused(Exception):
    """Nobody is signed in; `reason` is machine-readable, `message` safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SignedIn:
    admin: Admin
    next_path: str


def start(
    session: DbSession,
    client: IdentityClient,
    *,
    redirect_uri: str,
    browser: str,
    next_path: str,
    now: datetime,
) -> str:
    """Record a pending sign-in for this browser and commit; the provider's URL to go to."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    url = client.authorization_url(
        redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=verifier
    )
    pending_states.record(
        session, PendingSignIn, state, now, verifier=verifier,
        browser_hash=pending_states.digest(browser), nonce_hash=nonce_hash(nonce),
        next_path=next_path[:512],
    )  # fmt: skip
    return url


_REFUSALS = {
    "missing_state": "This sign-in answer has no state; start again.",
    "unknown_state": "This sign-in was not started here; start again.",
    "other_browser": "This sign-in was started in another browser; start again here.",
    "reused_state": "This sign-in answer was already used; start again.",
    "expired_state": "This sign-in took too long; start again.",
}


def _claim(session: DbSession, state: str, browser: str, now: datetime) -> PendingSignIn:
    """The pending sign-in this answer belongs to, marked used (committed)."""

    def other_browser(found: PendingSignIn) -> str | None:
        same = secrets.compare_digest(found.browser_hash, pending_states.digest(browser))
        return None if browser and same else "other_browser"

    return pending_states.claim(
        session,
        PendingSignIn,
        state,
        now,
        other_owner=other_browser,
        refuse=lambda reason: SignInRefused(reason, _REFUSALS[reason]),
    )


def check_answer(params: Mapping[str, str], client: IdentityClient) -> str:
    """The authorization code of a genuine answer from our provider."""
    issuer = client.settings.issuer
    if "iss" in params and params["iss"] != issuer:
        raise SignInRefused(
            "wrong_issuer", "This answer does not come from our identity provider; start again."
        )
    if (
        "iss" not in params
        and client.metadata().get("authorization_response_iss_parameter_supported") is True
    ):
        raise SignInRefused("missing_issuer", "This answer does not name its issuer; start again.")
    if params.get("error"):
        raise SignInRefused("denied", "The identity provider did not sign you in.")
    code = params.get("code", "")
    if not code or len(code) > 4096:
        raise SignInRefused("missing_code", "The identity provider's answer carried no code.")
    return code


def complete(
    session: DbSession,
    client: IdentityClient,
    *,
    params: Mapping[str, str],
    browser: str,
    redirect_uri: str,
    now: datetime,
    ip: str = "",
) -> SignedIn:
    """The account the provider's answer signs in (committed), else SignInRefused (audited)."""
    try:
        pending = _claim(session, params.get("state", ""), browser, now)
        code = check_answer(params, client)
        id_token = client.exchange(
            code=code, code_verifier=pending.code_verifier.reveal(), redirect_uri=redirect_uri
        )
        claims = client.validate(
            id_token, nonce_digest=pending.nonce_hash, now=int(now.timestamp())
        )
    except (SignInRefused, IdentityError) as exc:
        _record(session, exc.reason, exc.message, now, ip)
        raise SignInRefused(exc.reason, exc.message) from None
    return SignedIn(_admit(session, client, claims, now, ip), pending.next_path)


def _admit(
    session: DbSession, client: IdentityClient, claims: IdTokenClaims, now: datetime, ip: str
) -> Admin:
    """Apply the access rules; a refusal by them deactivates a linked account."""
    try:
        decision = oidc_access.decide(claims, client.settings)
    except AccessRefused as exc:
        oidc_access.refuse(session, claims, exc, now=now, ip=ip)
        raise SignInRefused(exc.reason, exc.message) from None
    try:
        admin = oidc_access.admit(session, claims, decision, now=now)
    except AccessRefused as exc:
        session.rollback()
        oidc_access.refuse(session, claims, exc, now=now, ip=ip, deactivate=False)
        raise SignInRefused(exc.reason, exc.message) from None
    audit.record(
        session,
        "auth.login_succeeded",
        now=now,
        actor=Actor.admin(admin.id, admin.email),
        message="signed in through the identity provider",
        details={"ip": ip, "method": "oidc", "role": admin.role},
    )
    session.commit()
    return admin


def _record(session: DbSession, reason: str, message: str, now: datetime, ip: str) -> None:
    """Audit a refused answer (no account is named: it is not known to be genuine)."""
    log.warning("identity provider sign-in refused: %s", reason)
    session.rollback()
    audit.record(
        session,
        "auth.oidc_refused",
        now=now,
        actor=ANONYMOUS,
        outcome="failed",
        message=message,
        details={"reason": reason, "ip": ip},
    )
    session.commit()
