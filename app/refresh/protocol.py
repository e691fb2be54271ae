"""Single-flight refresh: one provider call per due token, however many processes ask at once.

1. In a short transaction, take the connection's lease (compare-and-set) and record the
   attempt (id, start) in the same statement, which returns the row; if the token is no
   longer due, give both back without calling Factorial. Commit: no lock is held during HTTP.
   While an attempt is recorded, the refresh token it spends is the stored one. (`decide`)
2. Call the token endpoint once; the client never retries a refresh POST. (`settle`)
3. On success, store the new pair at once, compare-and-set on the attempt id. (`store`)
4. On `invalid_grant`, re-read: a changed refresh token means a sibling won (healthy);
   otherwise the connection needs a reconnect — audited and notified once, never retried.
5. Timeouts, 5xx, 429 keep the old tokens and back off. An attempt left behind by a process
   that died means the outcome was lost: retry once with the stored token, else reconnect.

Callers that need a token, not a refresh, wait for one in `waiting.fresh_token`.
"""

from __future__ import annotations

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
    claimed = decide.claim(session, connection_id, deps.clock(), deps, force)
    if isinstance(claimed, RefreshOutcome):
        return claimed
    session.commit()
    return call_and_settle(session, claimed, deps, actor)


def refresh_leased(
    session: DbSession, connection: Connection, deps: Deps, *, actor: Actor = SYSTEM
) -> RefreshOutcome:
    """Refresh now a refreshable connection whose lease the caller holds and has decided to
    spend (steps 2-5 of the protocol); the lease is given back with the outcome."""
    attempt = decide.record(session, connection, deps.clock())
    return call_and_settle(session, attempt, deps, actor)
