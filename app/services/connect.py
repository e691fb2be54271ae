"""Connect Factorial: start an authorization, then turn Factorial's callback into a connection."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

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
from app.infra.crypto import Secret
from app.models import KINDS, Connection, PendingAuthorization
from app.refresh.lifecycle import announce
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.notify import Notifier

log = logging.getLogger(__name__)

PENDING_LIFETIME = timedelta(minutes=10)
ClientFactory = Callable[[str], FactorialClient]


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


@dataclass(frozen=True)
class ConnectResult:
    connection: Connection
    created: bool
    other_account: bool


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def start_authorization(
    session: DbSession,
    client: FactorialClient,
    *,
    kind: str,
    admin_id: int,
    now: datetime,
    connection_id: int | None = None,
) -> str:
    """Record a pending authorization (single use, 10 minutes) and return Factorial's URL."""
    if kind not in KINDS:
        raise ConnectError("bad_kind", "Choose a company token or a user token.")
    session.execute(delete(PendingAuthorization).where(PendingAuthorization.expires_at < now))
    state = client.new_state()
    verifier = client.new_code_verifier() if client.environment.pkce else None
    session.add(
        PendingAuthorization(
            state_hash=hash_state(state),
            environment=client.environment.name,
            kind=kind,
            admin_id=admin_id,
            connection_id=connection_id,
            code_verifier=Secret(verifier) if verifier else None,
            created_at=now,
            expires_at=now + PENDING_LIFETIME,
        )
    )
    session.commit()
    return client.authorization_url(state=state, kind=kind, code_verifier=verifier)  # type: ignore[arg-type]


def claim_pending(
    session: DbSession, params: Mapping[str, str], admin_id: int, now: datetime
) -> PendingAuthorization:
    """The pending authorization this callback answers, marked used; else CallbackRejected."""
    state = params.get("state", "")
    if not state or len(state) > 512:
        raise CallbackRejected("missing_state", "This sign-in link is missing its state.")
    query = select(PendingAuthorization).where(PendingAuthorization.state_hash == hash_state(state))
    pending: PendingAuthorization | None = session.scalar(query)
    if pending is None:
        raise CallbackRejected("unknown_state", "This authorization was not started here.")
    if pending.admin_id != admin_id:
        raise CallbackRejected("other_admin", "This authorization was started by another admin.")
    if pending.used_at is not None:
        raise CallbackRejected("reused_state", "This authorization was already used.")
    if pending.expires_at <= now:
        raise CallbackRejected("expired_state", "This authorization expired; start again.")
    claimed = session.execute(
        update(PendingAuthorization)
        .where(PendingAuthorization.id == pending.id, PendingAuthorization.used_at.is_(None))
        .values(used_at=now)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise CallbackRejected("reused_state", "This authorization was already used.")
    return pending


def complete_authorization(
    session: DbSession,
    clients: ClientFactory,
    *,
    actor: Actor,
    params: Mapping[str, str],
    now: datetime,
    notifier: Notifier | None = None,
) -> ConnectResult:
    """Exchange the code once, identify the owner, create or update the connection in place."""
    if actor.id is None:
        raise CallbackRejected("other_admin", "Sign in to finish connecting.")
    pending = claim_pending(session, params, actor.id, now)
    try:
        client = clients(pending.environment)
    except KeyError:
        raise CallbackRejected(
            "unknown_environment", "That Factorial environment is gone."
        ) from None
    with client:
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
    return _store(session, pending, token, info, actor, now, notifier or Notifier())


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


def _store(
    session: DbSession,
    pending: PendingAuthorization,
    token: TokenResponse,
    info: CredentialInfo,
    actor: Actor,
    now: datetime,
    notifier: Notifier,
    retry: bool = True,
) -> ConnectResult:
    kind = info.kind if info.kind in KINDS else pending.kind
    identity = {
        "environment": pending.environment,
        "company_id": info.company_id,
        "kind": kind,
        "employee_id": (info.employee_id or "") if kind == "user" else "",
    }
    connection: Connection | None = session.scalar(select(Connection).filter_by(**identity))
    created = connection is None
    if connection is None:
        connection = Connection(**identity, created_at=now)
        session.add(connection)
    was_broken = bool(connection.needs_reconnect_cause or connection.revoked_at)
    apply_identity(connection, info)
    share_company_name(session, connection)
    apply_tokens(connection, token, now)
    connection.last_health_check_at = now  # the credentials call just proved the token works
    connection.connected_by_id = actor.id
    try:
        session.flush()
    except IntegrityError:  # the same account connected concurrently: update that row instead
        session.rollback()
        if not retry:
            raise ExchangeFailed(
                "conflict", "Another connect for this account is in progress."
            ) from None
        return _store(session, pending, token, info, actor, now, notifier, retry=False)
    action = "connection.connected" if created else "connection.reconnected"
    audit.record(
        session,
        action,
        now=now,
        actor=actor,
        target=connection,
        details={**identity, "scopes": connection.scopes, "credential_id": info.id},
    )
    if was_broken:
        announce(session, notifier, "connection.recovered", connection, now, {})
    session.commit()
    other = pending.connection_id is not None and pending.connection_id != connection.id
    return ConnectResult(connection, created, other)


def apply_identity(connection: Connection, info: CredentialInfo) -> None:
    connection.credential_id = info.id
    connection.company_name = info.company_name or connection.company_name or ""
    if connection.kind == "user":
        connection.employee_name = info.full_name or ""
        connection.employee_email = info.email or ""


def share_company_name(session: DbSession, connection: Connection) -> None:
    """User tokens do not learn the company's name from Factorial; company tokens do. Give each
    connection of a company the name any of them knows."""
    same_company = (
        Connection.environment == connection.environment,
        Connection.company_id == connection.company_id,
    )
    if connection.company_name:
        session.execute(
            update(Connection)
            .where(*same_company, Connection.company_name == "")
            .values(company_name=connection.company_name)
        )
        return
    known = session.scalar(
        select(Connection.company_name).where(*same_company, Connection.company_name != "").limit(1)
    )
    connection.company_name = known or ""


def token_values(token: TokenResponse, now: datetime) -> dict[str, Any]:
    """Column values for a freshly obtained pair; a response without a refresh token keeps none."""
    access = Secret(token.access_token)
    return {
        "access_token": access,
        "token_fingerprint": access.fingerprint,
        "refresh_token": Secret(token.refresh_token) if token.refresh_token else None,
        "refresh_token_issued_at": now if token.refresh_token else None,
        "token_type": token.token_type,
        "scopes": " ".join(token.scope)[:500],
        "obtained_at": now,
        "expires_at": token.expires_at(now),
        "last_error": "",
        "last_error_at": None,
    }


RESET_ON_RECONNECT: dict[str, Any] = {
    "needs_reconnect_cause": "",
    "needs_reconnect_since": None,
    "revoke_requested_at": None,
    "revoked_at": None,
    "delete_requested": False,
    "failure_count": 0,
    "next_retry_at": None,
    "attempt_id": "",
    "attempt_started_at": None,
    "attempt_fingerprint": "",
    "outcome_unknown": False,
    "last_health_check_at": None,
}


def apply_tokens(connection: Connection, token: TokenResponse, now: datetime) -> None:
    """Store a fresh pair and forget every failure state: the account is connected again."""
    for name, value in {**token_values(token, now), **RESET_ON_RECONNECT}.items():
        setattr(connection, name, value)


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
