"""Running the sweep: embedded in each web worker (one leader at a time), as `flask tokens
worker`, or once from cron as `flask tokens refresh-due`. Glue only; the work is in services."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import requests
from flask import Flask
from sqlalchemy.orm import Session

from app import locks, metrics
from app.extensions import db
from app.factorial import FactorialClient, new_http_session
from app.models import utcnow
from app.services import api_keys, notify, sweep, tokens
from app.settings import Settings

log = logging.getLogger(__name__)

LEADER_LEASE = "sweep"


def policy_from(settings: Settings) -> tokens.RefreshPolicy:
    return tokens.RefreshPolicy(
        margin=timedelta(seconds=settings.refresh_margin),
        keepalive_after=timedelta(seconds=settings.keepalive_after),
    )


def notifier_from(settings: Settings) -> notify.Notifier:
    return notify.Notifier(settings.notify_webhook_url, settings.notify_webhook_secret)


def client_factory(settings: Settings) -> tokens.ClientFactory:
    """Build a client per use for a configured environment; KeyError for an unknown one.

    Clients are cheap, but their HTTP connections are not: each thread keeps one pooled
    session per environment, so a sweep reuses keep-alive connections to Factorial."""
    local = threading.local()

    def make(environment: str) -> FactorialClient:
        config = settings.environments[environment]
        sessions: dict[str, requests.Session] = local.__dict__.setdefault("sessions", {})
        if environment not in sessions:
            sessions[environment] = new_http_session()
        return FactorialClient(
            config,
            connect_timeout=settings.factorial_connect_timeout,
            read_timeout=settings.factorial_read_timeout,
            session=sessions[environment],
            observer=metrics.observe_provider,
        )

    return make


def _settings(app: Flask) -> Settings:
    settings: Settings = app.extensions["settings"]
    return settings


def sweep_once(app: Flask, owner: str, concurrency: int = 8) -> sweep.SweepReport | None:
    """Run one sweep if this process holds (or takes) the leadership lease, else None."""
    settings = _settings(app)
    ttl = timedelta(seconds=max(settings.sweep_interval * 5, 300))
    with app.app_context():
        if not locks.try_acquire(db.session, LEADER_LEASE, owner, utcnow(), ttl):
            return None
        engine = db.engine
        report = sweep.run_sweep(
            lambda: Session(engine),
            client_factory(settings),
            clock=utcnow,
            policy=policy_from(settings),
            notifier=notifier_from(settings),
            health_every=timedelta(seconds=settings.health_check_every),
            concurrency=concurrency,
            verify_keys=key_verifier(settings),
        )
        db.session.remove()
    metrics.observe_sweep(report.seconds)
    log.info("sweep: %s", report.summary())
    return report


def key_verifier(settings: Settings) -> sweep.KeyVerifier:
    """The daily API-key verification, run by the sweep."""
    clients, notifier = client_factory(settings), notifier_from(settings)
    every = timedelta(seconds=settings.health_check_every)

    def verify(session: Session, now: datetime) -> int:
        return api_keys.verify_due(session, clients, notifier, now, every)

    return verify


def run_forever(app: Flask, stop: threading.Event) -> None:
    """Sweep every SWEEP_INTERVAL until `stop` is set; a failed sweep is logged, not fatal."""
    owner = locks.owner_id()
    interval = _settings(app).sweep_interval
    while not stop.is_set():
        try:
            sweep_once(app, owner)
        except Exception:
            log.exception("sweep failed; will try again in %s s", interval)
        stop.wait(interval)
    with app.app_context():
        locks.release(db.session, LEADER_LEASE, owner)


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
