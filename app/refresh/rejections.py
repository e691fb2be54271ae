"""Factorial answered 401 at use: what that may change, decided from stored facts alone.

Any client can make Factorial answer 401 (a path that takes only API keys, say), so a 401 proves
nothing about the stored credential. It starts a check at the credentials endpoint, at most once
per `RefreshPolicy.rejection_gap` per credential; the rule reads and writes the credential's row,
so it holds across workers and hosts.

- Connection: only while the rejected token is still the stored one, no check ran within the
  gap, and (when refreshable) the token was not issued or refreshed within the gap and no
  backoff runs. A confirmed rejection (credentials also 401) force-refreshes a refreshable
  connection once, single flight (`invalid_grant` then means Needs reconnect); any other
  connection enters Needs reconnect (revoked), announced once.
- API key: verified as the daily check does (`api_key_verification.verify`); a confirmed
  rejection marks it Rejected, announced once.
Otherwise nothing changes and the 401 stands as Factorial's answer to that one call.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update

from app.factorial import FactorialError, Forbidden, Unauthorized
from app.infra import leases
from app.models import ApiKey, Connection
from app.refresh.lifecycle import mark_needs_reconnect, release_attempt, reload
from app.refresh.policy import RefreshPolicy
from app.refresh.protocol import refresh_leased
from app.refresh.rules import refreshable, usable
from app.refresh.waiting import patiently
from app.services import DbSession
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.keys import api_key_verification
from app.services.service_api import vend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What a 401 led to: superseded | unusable | busy | too_soon | accepted | unchecked, or a
    refresh outcome (refreshed, sibling, needs_reconnect, transient, ...). `retry_after` is
    the seconds until a check may run again, with too_soon."""

    result: str
    retry_after: int | None = None


def settle(
    session: DbSession, connection_id: int, rejected: str, deps: Deps, *, actor: Actor
) -> Verdict:
    """`check`, waiting (up to `deps.wait`) while a sibling checks or refreshes the token."""
    return patiently(
        lambda: check(session, connection_id, rejected, deps, actor=actor),
        lambda verdict: verdict.result == "busy",
        deps.wait,
    )


def check(
    session: DbSession, connection_id: int, rejected: str, deps: Deps, *, actor: Actor
) -> Verdict:
    """Read the row; when nothing stands in the way, take the lease, ask the credentials
    endpoint about `rejected` and act on the answer (see the module's rules)."""
    now = deps.clock()
    verdict = _obstacle(reload(session, connection_id), rejected, now, deps.policy)
    session.commit()
    if verdict is not None:
        return verdict
    owner = secrets.token_hex(8)
    if (
        leases.take(session, leases.CONNECTION, connection_id, owner, now, deps.policy.lease)
        is None
    ):
        session.rollback()
        return Verdict("busy")
    row = reload(session, connection_id)
    verdict = _obstacle(row, rejected, now, deps.policy, leased_by=owner)
    if verdict is not None or row is None:
        _give_back(session, row)
        return verdict or Verdict("unusable")
    environment = row.environment
    session.commit()
    answer = _ask(deps, environment, f"connection {connection_id}", access_token=rejected)
    return _act(session, connection_id, owner, answer, now, deps, actor)


def after_401(
    session: DbSession, connection_id: int, rejected: str, deps: Deps, *, actor: Actor
) -> vend.Vended | None:
    """After Factorial answered 401 to `rejected`: the token to retry the call with once (a
    newer one is stored), or None to pass the 401 back; Unavailable when the connection can no
    longer hand out a token."""
    settle(session, connection_id, rejected, deps, actor=actor)
    row = current(session, connection_id, deps)
    return None if is_current(row, rejected) else _vended(row)


def report(
    session: DbSession, connection_id: int, rejected: str, deps: Deps, *, actor: Actor
) -> Verdict:
    """A consumer's report that Factorial answered 401 to `rejected`: `settle`, then replaced
    when a newer token is stored, else what the check found; Unavailable when the connection
    can no longer hand out a token."""
    verdict = settle(session, connection_id, rejected, deps, actor=actor)
    row = current(session, connection_id, deps)
    return verdict if is_current(row, rejected) else Verdict("replaced")


def current(session: DbSession, connection_id: int, deps: Deps) -> Connection:
    """The connection as stored now, if it can hand out a token; Unavailable otherwise."""
    row = reload(session, connection_id)
    session.commit()
    now = deps.clock()
    if row is None:
        raise vend.Unavailable("revoked", "The connection no longer exists.")
    if not usable(row, now):
        raise vend.unavailable(row, now, deps.policy.margin)
    return row


def is_current(connection: Connection, token: str) -> bool:
    """`token` is the stored access token (compared in constant time)."""
    stored = connection.access_token
    if stored is None or not stored.readable:
        return False
    return hmac.compare_digest(stored.reveal().encode(), token.encode())


def reopens_at(connection: Connection, policy: RefreshPolicy) -> datetime | None:
    """When a 401 may next start a check of this connection: a gap after the last check and,
    when refreshable, after the token was issued or refreshed, and not before a backoff ends."""
    gap = policy.rejection_gap
    times = [_plus(connection.last_health_check_at, gap)]
    if refreshable(connection):
        times += [
            _plus(connection.obtained_at, gap),
            _plus(connection.last_refresh_at, gap),
            connection.next_retry_at,
        ]
    return max((t for t in times if t is not None), default=None)


def _plus(moment: datetime | None, gap: timedelta) -> datetime | None:
    return None if moment is None else moment + gap


def _obstacle(
    row: Connection | None,
    rejected: str,
    now: datetime,
    policy: RefreshPolicy,
    leased_by: str = "",
) -> Verdict | None:
    """Why no check may start now (None: go ahead). `leased_by`: the lease is ours."""
    if row is None or not usable(row, now):
        return Verdict("unusable")
    if not is_current(row, rejected):
        return Verdict("superseded")
    leased = row.lease_expires_at is not None and row.lease_expires_at > now
    if leased and row.lease_owner != leased_by:
        return Verdict("busy")
    opens = reopens_at(row, policy)
    if opens is not None and opens > now:
        return Verdict("too_soon", max(1, math.ceil((opens - now).total_seconds())))
    if row.attempt_id:  # a refresh whose outcome was lost: the sweep settles it first
        return Verdict("too_soon", max(1, math.ceil(policy.rejection_gap.total_seconds())))
    return None


def _give_back(session: DbSession, row: Connection | None) -> None:
    if row is None:
        session.rollback()
    else:
        release_attempt(session, row, clear_attempt=False)


def _ask(deps: Deps, environment: str, what: str, **credential: str) -> str:
    """The credentials endpoint's word on a credential: accepted | rejected | unchecked."""
    try:
        with deps.clients(environment) as client:
            client.credentials(**credential)
    except Unauthorized:
        return "rejected"
    except Forbidden:  # valid, only lacking a scope
        return "accepted"
    except (FactorialError, KeyError) as exc:
        reason = exc.message if isinstance(exc, FactorialError) else "environment not configured"
        log.warning("check of %s after a 401 failed: %s", what, reason)
        return "unchecked"
    return "accepted"


def _act(
    session: DbSession,
    connection_id: int,
    owner: str,
    answer: str,
    now: datetime,
    deps: Deps,
    actor: Actor,
) -> Verdict:
    """Record the check (it counts toward the gap whatever it found) and act on `answer`."""
    row = reload(session, connection_id)
    if row is None or row.lease_owner != owner:
        session.rollback()
        return Verdict("busy")
    row.last_health_check_at = now
    if answer != "rejected":
        release_attempt(session, row, clear_attempt=False)
        return Verdict(answer)
    log.warning("connection %s: Factorial rejects its token; %s", connection_id,
                "refreshing" if refreshable(row) else "it needs a reconnect")  # fmt: skip
    if not refreshable(row):
        mark_needs_reconnect(session, row, "revoked", deps, actor=actor)
        return Verdict("needs_reconnect")
    session.commit()
    outcome = refresh_leased(session, row, deps, actor=actor)
    return Verdict(outcome.result)


def _vended(row: Connection) -> vend.Vended:
    assert row.access_token is not None
    return vend.Vended(row.access_token.reveal(), row.token_type or "Bearer", row.expires_at)


def after_key_401(session: DbSession, key_id: int, deps: Deps, *, actor: Actor) -> str:
    """Verify a key Factorial answered 401 for, at most once per gap (claimed on its
    last_verified_at, so across workers too): ok | rejected | error | too_soon."""
    now = deps.clock()
    claimed = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            ApiKey.rejected_since.is_(None),
            or_(
                ApiKey.last_verified_at.is_(None),
                ApiKey.last_verified_at <= now - deps.policy.rejection_gap,
            ),
        )
        .values(last_verified_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return "too_soon"
    session.commit()
    key = session.get(ApiKey, key_id, populate_existing=True)
    if key is None:
        return "too_soon"
    return api_key_verification.verify(session, key, deps, actor=actor)
