"""What the running app is made of, built once in `create_app` and handed to everything.

Pages, the service API, the CLI and the scheduler take what they need from `wiring(app)`;
use cases receive `Deps` (`app.services.deps`). Nothing is built lazily on first use, and
nothing lives in a module global.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, cast

import requests
from flask import Flask, current_app

from app.factorial import FactorialClient, new_http_session
from app.infra import metrics
from app.infra.crypto import KeyRing
from app.infra.settings import Settings
from app.infra.throttle import SignInWindow
from app.models import utcnow
from app.refresh.policy import ClientFactory, RefreshPolicy
from app.services.deps import Deps
from app.services.notify import Notifier

if TYPE_CHECKING:
    from app.web.api.runtime import ServiceApi


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    deps: Deps
    keyring: KeyRing  # also bound to the app's engines: EncryptedText columns use it
    service_api: ServiceApi  # the service API's reads, limiter, usage counter, document
    login_throttle: SignInWindow


def wiring(app: Flask | None = None) -> Wiring:
    """The app's wiring (the current app's by default)."""
    target = app if app is not None else current_app
    return cast(Wiring, target.extensions["wiring"])


def deps_from(settings: Settings) -> Deps:
    return Deps(
        clients=client_factory(settings),
        clock=utcnow,
        policy=policy_from(settings),
        notifier=Notifier(settings.notify_webhook_url, settings.notify_webhook_secret),
    )


def policy_from(settings: Settings) -> RefreshPolicy:
    return RefreshPolicy(
        margin=timedelta(seconds=settings.refresh_margin),
        keepalive_after=timedelta(seconds=settings.keepalive_after),
        lease=refresh_lease(settings),
    )


def refresh_lease(settings: Settings) -> timedelta:
    """How long a refresh holds its connection: twice the longest its one call to Factorial
    can take (connect + read timeout), at least 10 s. A holder killed mid-call is noticed when
    it runs out, and the sweep settles the refresh within this plus one SWEEP_INTERVAL."""
    budget = settings.factorial_connect_timeout + settings.factorial_read_timeout
    return timedelta(seconds=max(10.0, 2 * budget))


def client_factory(settings: Settings) -> ClientFactory:
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
