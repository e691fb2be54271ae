"""Single-flight refresh: one provider call per due token, however many processes ask at once.

1. In a short transaction, take the connection's lease (compare-and-set), re-read the row; if
   the token is no longer due, give it back without calling Factorial. Record the attempt
   (id, start, digest of the refresh token being spent). Commit: no lock is held during HTTP.
   (`decide`)
2. Call the token endpoint once; the client never retries a refresh POST. (`settle`)
3. On success, store the new pair at once, compare-and-set on the attempt id. (`store`)
4. On `invalid_grant`, re-read: a changed refresh token means a sibling won (healthy);
   otherwise the connection needs a reconnect — audited and notified once, never retried.
5. Timeouts, 5xx, 429 keep the old tokens and back off. An attempt left behind by a process
   that died means the outcome was lost: retry once with the stored token, else reconnect.

Callers that need a token, not a refresh, wait for one in `waiting.fresh_token`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from app.models import Connection
from app.refresh import decide
from app.refresh.rules import RefreshOutcome
from app.refresh.settle import call_and_settle
from app.services import DbSession
from app.services.audit import SYSTEM, Actor
from app.services.deps import Deps


def refresh_connection(
    session: DbSession,
    connection_id: int,
    deps: Deps,
    *,
    actor: Actor = SYSTEM,
    force: bool = False,
) -> RefreshOutcome:
    """Refresh one connection if due (or `force`), following the single-flight protocol."""
    now = deps.clock()
    leased = decide.claim(session, connection_id, now, deps, force)
    if isinstance(leased, RefreshOutcome):
        return leased
    return _spend(session, connection_id, leased, deps, actor)


def refresh_leased(
    session: DbSession, connection: Connection, deps: Deps, *, actor: Actor = SYSTEM
) -> RefreshOutcome:
    """Refresh now a refreshable connection whose lease the caller holds and has decided to
    spend (steps 2-5 of the protocol); the lease is given back with the outcome."""
    return _spend(session, connection.id, connection, deps, actor)


def _spend(
    session: DbSession,
    connection_id: int,
    leased: Row[Any] | Connection,
    deps: Deps,
    actor: Actor,
) -> RefreshOutcome:
    """Record the attempt and commit, then call Factorial once and settle."""
    attempt = decide.record(session, connection_id, leased, deps.clock())
    return call_and_settle(session, attempt, deps, actor)
