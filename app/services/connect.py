"""Connect Factorial: start an authorization, then turn Factorial's callback into a connection."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from app.factorial import (
    CredentialInfo,
    FactorialClient,
    FactorialError,
    InvalidClient,
    InvalidGrant,
    ProviderUnavailable,
    RateLimited,
    TokenResponse,
)
from app.models import KINDS, PendingAuthorization
from app.services import DbSession, audit, pending_states
from app.services.audit import Actor
from app.services.connection_store import ConnectConflict, ConnectResult, store_connection
from app.services.deps import Deps

log = logging.getLogger(__name__)


class ConnectError(Exception):
    """The connect flow stopped; `reason` is machine-readable, the message safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class CallbackRejected(ConnectError):
    """The callback is not a genuine answer to an authorization we started: no token request."""


class ExchangeFailed(ConnectError):
    """Factorial did not give us a usable, identifiable token."""


_REFUSALS = {
    "missing_state": "This sign-in link is missing its state.",
    "unknown_state": "This authorization was not started here.",
    "other_admin": "This authorization was started by another admin.",
    "reused_state": "This authorization was already used.",
    "expired_state": "This authorization expired; start again.",
}


def start_authorization(
    session: DbSession,
    deps: Deps,
    *,
    environment: str,
    kind: str,
    admin_id: int,
    connection_id: int | None = None,
) -> str:
    """Record a pending authorization (single use, 10 minutes) and return Factorial's URL."""
    if kind not in KINDS:
        raise ConnectError("bad_kind", "Choose a company token or a user token.")
    with _client(deps, environment, ConnectError) as client:
        state = client.new_state()
        verifier = client.new_code_verifier() if client.environment.pkce else None
        pending_states.record(
            session, PendingAuthorization, state, deps.clock(), verifier=verifier,
            environment=environment, kind=kind, admin_id=admin_id, connection_id=connection_id,
        )  # fmt: skip
        return client.authorization_url(state=state, kind=kind, code_verifier=verifier)  # type: ignore[arg-type]


def _client(deps: Deps, environment: str, error: type[ConnectError]) -> FactorialClient:
    try:
        return deps.clients(environment)
    except KeyError:
        raise error(
            "unknown_environment", "That Factorial environment is not configured."
        ) from None


def claim_pending(
    session: DbSession, params: Mapping[str, str], admin_id: int, now: datetime
) -> PendingAuthorization:
    """The pending authorization this callback answers, marked used; else CallbackRejected."""
    return pending_states.claim(
        session,
        PendingAuthorization,
        params.get("state", ""),
        now,
        other_owner=lambda pending: "other_admin" if pending.admin_id != admin_id else None,
        refuse=lambda reason: CallbackRejected(reason, _REFUSALS[reason]),
    )


def complete_authorization(
    session: DbSession, deps: Deps, *, actor: Actor, params: Mapping[str, str]
) -> ConnectResult:
    """Exchange the code once, identify the owner, create or update the connection in place."""
    if actor.id is None:
        raise CallbackRejected("other_admin", "Sign in to finish connecting.")
    now = deps.clock()
    pending = claim_pending(session, params, actor.id, now)
    with _client(deps, pending.environment, CallbackRejected) as client:
        try:
            check_issuer(params, client.issuer)
        except CallbackRejected as exc:
            details = {"expected_issuer": client.issuer, "issuer": params["iss"][:200]}
            _record_failure(session, exc, actor, pending.environment, now, details)
            raise
        code = _code_of(params)
        try:
            token, info = _exchange_and_identify(client, pending, code)
        except ExchangeFailed as exc:
            _record_failure(session, exc, actor, pending.environment, now)
            raise
    try:
        return store_connection(session, pending, deps, token=token, info=info, actor=actor)
    except ConnectConflict:
        raise ExchangeFailed(
            "conflict", "Another connect for this account is in progress."
        ) from None


def check_issuer(params: Mapping[str, str], issuer: str) -> None:
    """RFC 9207's mix-up defence: an answer naming another issuer came from (or was steered
    through) another authorization server, so its code must go nowhere. An answer without
    `iss` is accepted: Factorial does not document sending one."""
    if "iss" in params and params["iss"] != issuer:
        raise CallbackRejected(
            "wrong_issuer",
            f"This answer does not come from the Factorial it was sent to ({issuer}); "
            "nothing was exchanged. Start again.",
        )


def _code_of(params: Mapping[str, str]) -> str:
    """The authorization code of a genuine answer; Factorial's refusal or none at all stops."""
    if params.get("error"):
        description = (params.get("error_description") or params["error"])[:200]
        raise CallbackRejected(
            "denied", f"Factorial did not authorize the connection: {description}"
        )
    code = params.get("code", "")
    if not code or len(code) > 2048:
        raise CallbackRejected("missing_code", "Factorial's answer carried no authorization code.")
    return code


def _exchange_and_identify(
    client: FactorialClient, pending: PendingAuthorization, code: str
) -> tuple[TokenResponse, CredentialInfo]:
    verifier = pending.code_verifier.reveal() if pending.code_verifier else None
    try:
        token = client.exchange_code(code, code_verifier=verifier)
    except FactorialError as exc:
        raise ExchangeFailed(*_explain(exc, "exchange")) from None
    try:
        info = client.credentials(access_token=token.access_token)
    except FactorialError as exc:
        _revoke_quietly(client, token)
        raise ExchangeFailed(*_explain(exc, "identify")) from None
    return token, info


def _revoke_quietly(client: FactorialClient, token: TokenResponse) -> None:
    """Do not leave an orphan grant behind when we cannot use the token we were given."""
    try:
        client.revoke(token.refresh_token or token.access_token)
    except FactorialError:
        log.warning("could not revoke an unidentified token after a failed connect")


def _explain(exc: FactorialError, step: str) -> tuple[str, str]:
    if isinstance(exc, InvalidClient):
        return (
            "invalid_client",
            "Factorial rejected this app's client id or secret; check settings.",
        )
    if isinstance(exc, InvalidGrant):
        return "invalid_grant", "Factorial refused the authorization code (expired or used); retry."
    if isinstance(exc, RateLimited):
        return "rate_limited", "Factorial is rate limiting us; wait a minute and retry."
    if isinstance(exc, ProviderUnavailable):
        return "unavailable", "Factorial did not answer in time; retry in a moment."
    what = "the token" if step == "exchange" else "who owns the token"
    return "unexpected", f"Factorial answered unexpectedly while we asked for {what}: {exc.message}"


def _record_failure(
    session: DbSession,
    error: ConnectError,
    actor: Actor,
    environment: str,
    now: datetime,
    details: Mapping[str, str] | None = None,
) -> None:
    """Audit a failed exchange, or an answer from the wrong issuer (a possible attack). Other
    rejected callbacks are only logged: they change nothing and prove nothing."""
    audit.record_now(
        session,
        "connection.connect_failed",
        now=now,
        actor=actor,
        outcome="failed",
        message=error.message,
        details={"reason": error.reason, "environment": environment, **(details or {})},
    )
