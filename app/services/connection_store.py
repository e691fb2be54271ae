"""Store what Connect brings back: the connection (created, or updated in place when the same
account connects again), who owns it, and its tokens (`token_values` serves refreshes too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.factorial import CredentialInfo, TokenResponse
from app.infra.crypto import Secret
from app.models import KINDS, Connection, PendingAuthorization
from app.refresh.lifecycle import announce
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps


class ConnectConflict(Exception):
    """The same account was connected concurrently twice over; nothing was stored."""


@dataclass(frozen=True)
class ConnectResult:
    connection: Connection
    created: bool
    other_account: bool


def store_connection(
    session: DbSession,
    pending: PendingAuthorization,
    deps: Deps,
    *,
    token: TokenResponse,
    info: CredentialInfo,
    actor: Actor,
) -> ConnectResult:
    """Create or update the account's connection with the fresh pair; audited, committed. A
    connection that was broken (needs reconnect, revoked) is announced as recovered."""
    now = deps.clock()
    identity = account_of(pending, info)
    try:
        connection, created, was_broken = _upsert(session, identity, token, info, actor, now)
    except IntegrityError:  # the same account connected concurrently: update that row instead
        session.rollback()
        try:
            connection, created, was_broken = _upsert(session, identity, token, info, actor, now)
        except IntegrityError:
            session.rollback()
            raise ConnectConflict from None
    action = "connection.connected" if created else "connection.reconnected"
    audit.record(
        session, action, now=now, actor=actor, target=connection,
        details={**identity, "scopes": connection.scopes, "credential_id": info.id},
    )  # fmt: skip
    if was_broken:
        announce(session, deps.notifier, "connection.recovered", connection, now, {})
    session.commit()
    other = pending.connection_id is not None and pending.connection_id != connection.id
    return ConnectResult(connection, created, other)


def account_of(pending: PendingAuthorization, info: CredentialInfo) -> dict[str, str]:
    """The columns that make a connection unique: the account Factorial says the token is for."""
    kind = info.kind if info.kind in KINDS else pending.kind
    return {
        "environment": pending.environment,
        "company_id": info.company_id,
        "kind": kind,
        "employee_id": (info.employee_id or "") if kind == "user" else "",
    }


def _upsert(
    session: DbSession,
    identity: dict[str, str],
    token: TokenResponse,
    info: CredentialInfo,
    actor: Actor,
    now: datetime,
) -> tuple[Connection, bool, bool]:
    """The account's connection with the new facts applied and flushed; (row, created, was
    broken). IntegrityError when another request created the same account meanwhile."""
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
    session.flush()
    return connection, created, was_broken


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
