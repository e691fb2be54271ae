"""Failure states and their transitions: leases, needs-reconnect, revoke, delete, health checks.

Each transition is audited and announced (webhook outbox) in the same commit, and only when
the state actually changes, so a sweep that runs every minute never repeats a notification.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from app.factorial import FactorialError, Unauthorized
from app.infra import leases
from app.models import Connection
from app.refresh.policy import ClientFactory
from app.services import DbSession, audit, notify
from app.services.audit import SYSTEM, Actor
from app.services.deps import Deps

log = logging.getLogger(__name__)

REFRESH_TOKEN_LIFE = timedelta(days=7)
REVOKE_LEASE = timedelta(seconds=60)  # two calls to Factorial, each well under 30 s
CAUSES = {
    "revoked": "revoked in Factorial",
    "refresh_expired": "refresh token expired",
    "lost": "refresh outcome lost",
    "undecryptable": "stored token cannot be decrypted",
}


def connection_identity(connection: Connection) -> dict[str, Any]:
    """Who a connection is, as webhooks and the service API show it: never a token."""
    return {
        "id": connection.id,
        "environment": connection.environment,
        "kind": connection.kind,
        "company_id": connection.company_id,
        "company_name": connection.company_name,
        "employee_id": connection.employee_id or None,
        "owner": connection.owner_label,
    }


def connection_payload(connection: Connection) -> dict[str, Any]:
    """What a webhook says about a connection."""
    return {"connection": connection_identity(connection)}


def announce(
    session: DbSession,
    notifier: notify.Notifier,
    event: str,
    connection: Connection,
    now: datetime,
    extra: dict[str, Any],
) -> None:
    notify.enqueue(
        session,
        notifier,
        event,
        target_type="connection",
        target_id=connection.id,
        payload={**connection_payload(connection), **extra},
        now=now,
    )


def reload(session: DbSession, connection_id: int) -> Connection | None:
    query = select(Connection).where(Connection.id == connection_id)
    row: Connection | None = session.scalar(query.execution_options(populate_existing=True))
    return row


def release_attempt(
    session: DbSession, connection: Connection, *, clear_attempt: bool, commit: bool = True
) -> None:
    """Give back the lease of a row this session loaded (with the attempt, if `clear_attempt`)."""
    for column, value in leases.CONNECTION.vacated().items():
        setattr(connection, column, value)
    if clear_attempt:
        connection.attempt_id = ""
        connection.attempt_started_at = None
        connection.attempt_fingerprint = ""
    if commit:
        session.commit()


def reconnect_cause(connection: Connection, now: datetime) -> str:
    """Why Factorial refused the refresh token, as far as the facts tell."""
    issued = connection.refresh_token_issued_at
    if issued is not None and now - issued >= REFRESH_TOKEN_LIFE:
        return "refresh_expired"
    if connection.outcome_unknown:
        return "lost"
    return "revoked"


def mark_needs_reconnect(
    session: DbSession,
    connection: Connection,
    cause: str,
    deps: Deps,
    *,
    actor: Actor = SYSTEM,
) -> None:
    """Enter Needs reconnect (once): audit, notify, stop refreshing. Commits."""
    now = deps.clock()
    release_attempt(session, connection, clear_attempt=True, commit=False)
    connection.outcome_unknown = False
    if not connection.needs_reconnect_cause:
        connection.needs_reconnect_cause = cause
        connection.needs_reconnect_since = now
        message = f"Needs reconnect: {CAUSES.get(cause, cause)}."
        connection.last_error, connection.last_error_at = message, now
        audit.record(
            session,
            "connection.needs_reconnect",
            now=now,
            actor=actor,
            target=connection,
            outcome="failed",
            message=message,
            details={"cause": cause},
        )
        event = "connection.needs_reconnect"
        announce(session, deps.notifier, event, connection, now, {"cause": cause})
    session.commit()


@dataclass(frozen=True)
class RevokeOutcome:
    result: str  # revoked | deleted | pending | busy | missing
    message: str = ""


def revoke_connection(
    session: DbSession,
    connection_id: int,
    deps: Deps,
    *,
    actor: Actor = SYSTEM,
    delete_after: bool = False,
) -> RevokeOutcome:
    """Revoke at Factorial (refresh token, then access token); wipe local tokens only after
    Factorial confirms. If Factorial is unavailable the revoke stays pending for the sweep."""
    now, owner = deps.clock(), secrets.token_hex(8)
    connection = reload(session, connection_id)
    if connection is None:
        session.rollback()
        return RevokeOutcome("missing", "No such connection.")
    first_request = connection.revoke_requested_at is None and not connection.delete_requested
    connection.revoke_requested_at = connection.revoke_requested_at or now
    connection.delete_requested = connection.delete_requested or delete_after
    if first_request:
        action = "connection.delete_requested" if delete_after else "connection.revoke_requested"
        audit.record(session, action, now=now, actor=actor, target=connection)
    if leases.take(session, leases.CONNECTION, connection_id, owner, now, REVOKE_LEASE) is None:
        session.commit()
        return RevokeOutcome("busy", "A refresh is in progress; the revoke will follow.")
    session.commit()
    connection = reload(session, connection_id)
    assert connection is not None
    try:
        _revoke_at_factorial(deps.clients, connection)
    except (FactorialError, KeyError) as exc:
        return _revoke_pending(session, connection, now, actor, exc)
    return _revoked(session, connection, now, deps.notifier, actor)


def _revoke_at_factorial(clients: ClientFactory, connection: Connection) -> None:
    tokens = [
        (connection.refresh_token, "refresh_token"),
        (connection.access_token, "access_token"),
    ]
    with clients(connection.environment) as client:
        for token, hint in tokens:
            if token is not None and token.readable:
                client.revoke(token.reveal(), token_type_hint=hint)  # type: ignore[arg-type]


def _revoke_pending(
    session: DbSession, connection: Connection, now: datetime, actor: Actor, exc: Exception
) -> RevokeOutcome:
    message = getattr(exc, "message", "") or "That Factorial environment is not configured."
    release_attempt(session, connection, clear_attempt=False, commit=False)
    connection.last_error, connection.last_error_at = f"Revoke pending: {message}"[:500], now
    audit.record(
        session,
        "connection.revoke_failed",
        now=now,
        actor=actor,
        target=connection,
        outcome="failed",
        message=message,
    )
    session.commit()
    return RevokeOutcome("pending", "Factorial did not confirm; the revoke will be retried.")


def _revoked(
    session: DbSession,
    connection: Connection,
    now: datetime,
    notifier: notify.Notifier,
    actor: Actor,
) -> RevokeOutcome:
    connection.access_token = None
    connection.refresh_token = None
    connection.token_fingerprint = ""
    connection.revoked_at = now
    release_attempt(session, connection, clear_attempt=True, commit=False)
    audit.record(session, "connection.revoked", now=now, actor=actor, target=connection)
    announce(session, notifier, "connection.revoked", connection, now, {})
    if connection.delete_requested:
        audit.record(session, "connection.deleted", now=now, actor=actor, target=connection)
        session.execute(delete(Connection).where(Connection.id == connection.id))
        session.commit()
        return RevokeOutcome("deleted")
    session.commit()
    return RevokeOutcome("revoked")


def health_check(session: DbSession, connection_id: int, deps: Deps) -> str:
    """Ask the credentials endpoint whether a non-expiring token still works: ok | revoked |
    error. A rejected token enters Needs reconnect (revoked in Factorial)."""
    now = deps.clock()
    connection = reload(session, connection_id)
    if connection is None or connection.access_token is None:
        session.rollback()
        return "error"
    if not connection.access_token.readable:
        mark_needs_reconnect(session, connection, "undecryptable", deps)
        return "revoked"
    token = connection.access_token.reveal()
    session.commit()
    try:
        with deps.clients(connection.environment) as client:
            client.credentials(access_token=token)
    except Unauthorized:
        connection = reload(session, connection_id)
        if connection is not None:
            connection.last_health_check_at = now
            mark_needs_reconnect(session, connection, "revoked", deps)
        return "revoked"
    except (FactorialError, KeyError) as exc:
        log.warning(
            "health check of connection %s failed: %s",
            connection_id,
            getattr(exc, "message", "environment not configured"),
        )
        return "error"
    session.execute(
        update(Connection).where(Connection.id == connection_id).values(last_health_check_at=now)
    )
    session.commit()
    return "ok"
