"""Running the sweep: embedded in each web worker (one leader at a time), as `flask tokens
worker`, or once from cron as `flask tokens refresh-due`. Glue only; the work is in services."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from app.infra import leases as locks
from app.infra import metrics
from app.infra.extensions import db
from app.infra.settings import Settings
from app.models import utcnow
from app.refresh import sweep
from app.services.deps import Deps
from app.services.keys import api_keys
from app.wiring import wiring

log = logging.getLogger(__name__)

LEADER_LEASE = "sweep"


def _settings(app: Flask) -> Settings:
    settings: Settings = app.extensions["settings"]
    return settings


class LeaderLease:
    """The sweep's leadership lease, held by one process at a time across workers and hosts.

    It lasts one SWEEP_INTERVAL and, once taken, a heartbeat renews it every third of that
    for as long as it is held, however long a sweep takes. A leader that dies stops renewing:
    its lease runs out within one interval and a follower, trying every half interval, takes
    it within 1.5 intervals. `release` gives it back at once (a one-shot sweep, a clean stop)."""

    def __init__(self, app: Flask, owner: str | None = None) -> None:
        self.app = app
        self.owner = owner or locks.owner_id()
        self.ttl = timedelta(seconds=max(_settings(app).sweep_interval, 1))
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
        with self.app.app_context():
            try:
                locks.release(db.session, LEADER_LEASE, self.owner)
            except Exception:  # the database is away: the lease lapses within one interval
                log.warning("could not give the sweep lease back", exc_info=True)
            finally:
                db.session.remove()

    def _try(self) -> bool:
        with self.app.app_context():
            try:
                return locks.try_acquire(db.session, LEADER_LEASE, self.owner, utcnow(), self.ttl)
            finally:
                db.session.remove()

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


def sweep_once(app: Flask, owner: str, concurrency: int = 8) -> sweep.SweepReport | None:
    """One sweep for cron: take the lease, sweep, give the lease back; None when another
    process leads."""
    lease = LeaderLease(app, owner)
    if not lease.acquire():
        return None
    try:
        return _sweep(app, concurrency)
    finally:
        lease.release()


def _sweep(app: Flask, concurrency: int = 8) -> sweep.SweepReport:
    """One sweep by the process holding the lease."""
    settings = _settings(app)
    with app.app_context():
        engine = db.engine
        deps = wiring(app).deps
        report = sweep.run_sweep(
            lambda: Session(engine),
            deps.clients,
            clock=deps.clock,
            policy=deps.policy,
            notifier=deps.notifier,
            health_every=timedelta(seconds=settings.health_check_every),
            concurrency=concurrency,
            verify_keys=key_verifier(deps, settings),
        )
        db.session.remove()
    metrics.observe_sweep(report.seconds)
    log.info("sweep: %s", report.summary())
    return report


def key_verifier(deps: Deps, settings: Settings) -> sweep.KeyVerifier:
    """The daily API-key verification, run by the sweep."""
    clients, notifier = deps.clients, deps.notifier
    every = timedelta(seconds=settings.health_check_every)

    def verify(session: Session, now: datetime) -> int:
        return api_keys.verify_due(session, clients, notifier, now, every)

    return verify


def run_forever(app: Flask, stop: threading.Event) -> None:
    """Sweep every SWEEP_INTERVAL while this process leads, try to lead every half interval
    otherwise, until `stop` is set; then give the lease back. A failed sweep is logged."""
    lease = LeaderLease(app)
    interval = _settings(app).sweep_interval
    try:
        while not stop.is_set():
            leading = False
            try:
                leading = lease.acquire()
                if leading:
                    _sweep(app)
            except Exception:
                log.exception("sweep failed; will try again in %s s", interval)
            stop.wait(interval if leading else interval / 2)
    finally:
        lease.release()


_started: set[int] = set()
_lock = threading.Lock()


def start_embedded(app: Flask) -> bool:
    """Start the sweep thread once per process and app when SCHEDULER=embedded."""
    settings = _settings(app)
    if settings.scheduler != "embedded" or settings.app_env == "test":
        return False
    with _lock:
        if id(app) in _started:
            return False
        _started.add(id(app))
    thread = threading.Thread(
        target=run_forever, args=(app, threading.Event()), name="sweep", daemon=True
    )
    thread.start()
    log.info(
        "embedded sweep started (every %s s; one leader across workers)", settings.sweep_interval
    )
    return True
