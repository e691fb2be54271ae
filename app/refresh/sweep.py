"""The sweep: refresh what is due, keep idle refresh tokens alive, health-check tokens that never
expire, retry pending revokes, deliver webhooks. The caller makes sure only one sweep runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app.models import Connection
from app.refresh import lifecycle, protocol
from app.refresh.policy import RefreshPolicy
from app.services import DbSession, notify
from app.services.deps import Deps

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
KeyVerifier = Callable[[Session], int]


@dataclass
class SweepReport:
    """What one sweep did, for logs, the CLI and metrics."""

    outcomes: dict[str, int] = field(default_factory=dict)
    health_checks: dict[str, int] = field(default_factory=dict)
    revokes: dict[str, int] = field(default_factory=dict)
    keys_verified: int = 0
    webhooks: tuple[int, int] = (0, 0)
    seconds: float = 0.0

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.outcomes.items())]
        parts += [f"health_{k}={v}" for k, v in sorted(self.health_checks.items())]
        parts += [f"revoke_{k}={v}" for k, v in sorted(self.revokes.items())]
        parts.append(f"keys_verified={self.keys_verified}")
        parts.append(f"webhooks_sent={self.webhooks[0]} webhooks_failed={self.webhooks[1]}")
        return " ".join(parts) + f" in {self.seconds:.2f}s"


def _healthy() -> ColumnElement[bool]:
    return and_(
        Connection.needs_reconnect_cause == "",
        Connection.revoked_at.is_(None),
        Connection.revoke_requested_at.is_(None),
    )


def due_for_refresh(session: DbSession, now: datetime, policy: RefreshPolicy) -> list[int]:
    """Expiring within the margin, refresh token older than the keep-alive age, or an attempt
    whose outcome was lost — and not backing off, not leased."""
    query = select(Connection.id).where(
        Connection.refresh_token.is_not(None),
        _healthy(),
        or_(
            Connection.expires_at <= now + policy.margin,
            Connection.refresh_token_issued_at <= now - policy.keepalive_after,
            Connection.attempt_id != "",
        ),
        or_(Connection.next_retry_at.is_(None), Connection.next_retry_at <= now),
        or_(Connection.lease_expires_at.is_(None), Connection.lease_expires_at <= now),
    )
    return list(session.scalars(query.order_by(Connection.expires_at, Connection.id)))


def due_for_health_check(session: DbSession, now: datetime, every: timedelta) -> list[int]:
    query = select(Connection.id).where(
        Connection.expires_at.is_(None),
        Connection.access_token.is_not(None),
        _healthy(),
        or_(
            Connection.last_health_check_at.is_(None),
            Connection.last_health_check_at <= now - every,
        ),
    )
    return list(session.scalars(query))


def pending_revokes(session: DbSession) -> list[int]:
    query = select(Connection.id).where(
        and_(Connection.revoke_requested_at.is_not(None), Connection.revoked_at.is_(None))
    )
    return list(session.scalars(query))


def run_sweep(
    session_factory: SessionFactory,
    deps: Deps,
    *,
    health_every: timedelta,
    concurrency: int = 8,
    verify_keys: KeyVerifier | None = None,
) -> SweepReport:
    """One full sweep; each connection is handled in its own session and transaction."""
    started = time.monotonic()
    report = SweepReport()
    with session_factory() as session:
        now = deps.clock()
        refresh_ids = due_for_refresh(session, now, deps.policy)
        health_ids = due_for_health_check(session, now, health_every)
        revoke_ids = pending_revokes(session)

    def refresh_one(connection_id: int) -> str:
        with session_factory() as own:
            return protocol.refresh_connection(own, connection_id, deps).result

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for result in pool.map(refresh_one, refresh_ids):
            report.count(report.outcomes, result)
    with session_factory() as session:
        _check_and_revoke(session, deps, health_ids, revoke_ids, report)
        if verify_keys is not None:
            report.keys_verified = verify_keys(session)
        report.webhooks = notify.deliver_due(session, deps.notifier, deps.clock())
    report.seconds = time.monotonic() - started
    return report


def _check_and_revoke(
    session: DbSession,
    deps: Deps,
    health_ids: list[int],
    revoke_ids: list[int],
    report: SweepReport,
) -> None:
    for connection_id in health_ids:
        report.count(report.health_checks, lifecycle.health_check(session, connection_id, deps))
    for connection_id in revoke_ids:
        delete_after = _delete_requested(session, connection_id)
        outcome = lifecycle.revoke_connection(
            session, connection_id, deps, delete_after=delete_after
        )
        report.count(report.revokes, outcome.result)


def _delete_requested(session: DbSession, connection_id: int) -> bool:
    flag = session.scalar(select(Connection.delete_requested).where(Connection.id == connection_id))
    return bool(flag)
