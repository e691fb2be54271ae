"""Steps 2, 4 and 5 of the refresh: call the token endpoint once, then settle what it said.

Success goes straight to `store`. `invalid_grant` is re-read: a changed refresh token means a
sibling won, otherwise the connection needs a reconnect. Anything else is transient: the old
tokens stay and the next try backs off."""

from __future__ import annotations

from app.factorial import FactorialError, InvalidGrant, RateLimited
from app.refresh.decide import Attempt
from app.refresh.lifecycle import mark_needs_reconnect, reconnect_cause, release_attempt, reload
from app.refresh.rules import RefreshOutcome, backoff_delay, digest
from app.refresh.store import store
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps


def call_and_settle(
    session: DbSession, attempt: Attempt, deps: Deps, actor: Actor
) -> RefreshOutcome:
    """One refresh POST (the client never retries it), then its outcome in the database."""
    try:
        with deps.clients(attempt.environment) as client:
            token = client.refresh(attempt.refresh_token)
    except KeyError:
        error = FactorialError("That Factorial environment is no longer configured.")
        return _transient(session, attempt, deps, actor, error)
    except InvalidGrant:
        return _invalid_grant(session, attempt, deps, actor)
    except FactorialError as exc:
        return _transient(session, attempt, deps, actor, exc)
    patience = deps.policy.lease / 2
    return store(session, attempt, token, deps.clock(), actor, patience=patience)


def _invalid_grant(
    session: DbSession, attempt: Attempt, deps: Deps, actor: Actor
) -> RefreshOutcome:
    """A changed refresh token means a sibling stored the winner; otherwise reconnect."""
    cid = attempt.connection_id
    connection = reload(session, cid)
    if connection is None:
        session.rollback()
        return RefreshOutcome("not_refreshable", cid, "No such connection.")
    current = connection.refresh_token
    spent = digest(attempt.refresh_token)
    if current is not None and current.readable and digest(current.reveal()) != spent:
        if connection.attempt_id == attempt.id:
            release_attempt(session, connection, clear_attempt=True)
        else:
            session.commit()
        return RefreshOutcome("sibling", cid)
    cause = reconnect_cause(connection, deps.clock())
    mark_needs_reconnect(session, connection, cause, deps, actor=actor)
    return RefreshOutcome("needs_reconnect", cid, f"Needs reconnect ({cause}).")


def _transient(
    session: DbSession, attempt: Attempt, deps: Deps, actor: Actor, exc: FactorialError
) -> RefreshOutcome:
    """Keep the old tokens, back off. A timeout may have been processed: outcome unknown."""
    cid, now = attempt.connection_id, deps.clock()
    connection = reload(session, cid)
    if connection is None or connection.attempt_id != attempt.id:
        session.rollback()
        return RefreshOutcome("transient", cid, exc.message)
    connection.failure_count += 1
    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
    delay = backoff_delay(connection.failure_count, deps.policy, retry_after)
    connection.next_retry_at = now + delay
    connection.last_error = exc.message[:500]
    connection.last_error_at = now
    connection.outcome_unknown = connection.outcome_unknown or not isinstance(exc, RateLimited)
    release_attempt(session, connection, clear_attempt=True, commit=False)
    audit.record(
        session,
        "connection.refresh_failed",
        now=now,
        actor=actor,
        target=connection,
        outcome="failed",
        message=exc.message,
        details={
            "failures": connection.failure_count,
            "next_retry_at": connection.next_retry_at.isoformat(),
        },
    )
    session.commit()
    return RefreshOutcome("transient", cid, exc.message)
