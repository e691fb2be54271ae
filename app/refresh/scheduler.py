"""Running the sweep: embedded in each web worker (one leader at a time), as `flask tokens
worker`, or once from cron as `flask tokens refresh-due`. Glue only, and no Flask: the app and
the CLI hand over a `Sweeper` (sessions, Deps, timing); the work is in `sweep`."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.infra import leases, metrics
from app.infra.settings import Settings
from app.refresh import sweep
from app.services.deps import Deps
from app.services.keys import api_key_verification

log = logging.getLogger(__name__)

LEADER_LEASE = "sweep"


@dataclass(frozen=True)
class Sweeper:
    """What sweeping needs from the running app."""

    sessions: sweep.SessionFactory
    deps: Deps
    interval: float  # SWEEP_INTERVAL, seconds
    health_every: timedelta
    concurrency: int = 8

    def verify_keys(self, session: Session) -> int:
        """The daily API-key verification, run by the sweep."""
        return api_key_verification.verify_due(session, self.deps, self.health_every)


def sweeper_for(engine: Engine, deps: Deps, settings: Settings, concurrency: int = 8) -> Sweeper:
    return Sweeper(
        sessions=lambda: Session(engine),
        deps=deps,
        interval=settings.sweep_interval,
        health_every=timedelta(seconds=settings.health_check_every),
        concurrency=concurrency,
    )


class LeaderLease:
    """The sweep's leadership lease, held by one process at a time across workers and hosts.

    It lasts one SWEEP_INTERVAL and, once taken, a heartbeat renews it every third of that
    for as long as it is held, however long a sweep takes. A leader that dies stops renewing:
    its lease runs out within one interval and a follower, trying every half interval, takes
    it within 1.5 intervals. `release` gives it back at once (a one-shot sweep, a clean stop)."""

    def __init__(self, sweeper: Sweeper, owner: str | None = None) -> None:
        self.sweeper = sweeper
        self.owner = owner or leases.owner_id()
        self.ttl = timedelta(seconds=max(sweeper.interval, 1))
        self._held = threading.Event()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._held.is_set()

    def acquire(self) -> bool:
        """Take the lease (or keep it); True while this process leads."""
        if self.held:
            return True
        if not self._try():
            return False
        self._held.set()
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="sweep-lease", daemon=True)
        self._heartbeat.start()
        return True

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        self._held.clear()
        try:
            with self.sweeper.sessions() as session:
                leases.let_go(session, LEADER_LEASE, self.owner)
        except Exception:  # the database is away: the lease lapses within one interval
            log.warning("could not give the sweep lease back", exc_info=True)

    def _try(self) -> bool:
        with self.sweeper.sessions() as session:
            now = self.sweeper.deps.clock()
            return leases.hold(session, LEADER_LEASE, self.owner, now, self.ttl)

    def _beat(self) -> None:
        """Renew until released, or until another process took over (then we follow)."""
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                renewed = self._try()
            except Exception:  # the database is away: keep trying while the lease lasts
                log.warning("could not renew the sweep lease; retrying", exc_info=True)
                continue
            if not renewed:
                log.warning("the sweep lease passed to another process; following")
                self._held.clear()
                return


def sweep_once(sweeper: Sweeper, owner: str | None = None) -> sweep.SweepReport | None:
    """One sweep for cron: take the lease, sweep, give the lease back; None when another
    process leads."""
    lease = LeaderLease(sweeper, owner)
    if not lease.acquire():
        return None
    try:
        return _sweep(sweeper)
    finally:
        lease.release()


def _sweep(sweeper: Sweeper) -> sweep.SweepReport:
    """One sweep by the process holding the lease."""
    report = sweep.run_sweep(
        sweeper.sessions,
        sweeper.deps,
        health_every=sweeper.health_every,
        concurrency=sweeper.concurrency,
        verify_keys=sweeper.verify_keys,
    )
    metrics.observe_sweep(report.seconds)
    log.info("sweep: %s", report.summary())
    return report


def run_forever(sweeper: Sweeper, stop: threading.Event) -> None:
    """Sweep every SWEEP_INTERVAL while this process leads, try to lead every half interval
    otherwise, until `stop` is set; then give the lease back. A failed sweep is logged."""
    lease, interval = LeaderLease(sweeper), sweeper.interval
    try:
        while not stop.is_set():
            leading = False
            try:
                leading = lease.acquire()
                if leading:
                    _sweep(sweeper)
            except Exception:
                log.exception("sweep failed; will try again in %s s", interval)
            stop.wait(interval if leading else interval / 2)
    finally:
        lease.release()


class Embedded:
    """The sweep thread of one app in a web worker, started once, with the first request."""

    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> bool:
        """Start the thread unless it runs already; True when this call started it."""
        with self._lock:
            if self._started:
                return False
            self._started = True
        thread = threading.Thread(
            target=run_forever, args=(self.sweeper, threading.Event()), name="sweep", daemon=True
        )
        thread.start()
        log.info(
            "embedded sweep started (every %s s; one leader across workers)",
            self.sweeper.interval,
        )
        return True
