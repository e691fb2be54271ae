"""Prometheus metrics: per-process instruments, and the registry `/metrics` serves.

Fleet-wide facts (connections by status, nearest expiry, refresh outcomes, API keys, pending
webhooks) are read from the shared database at scrape time by `DatabaseCollector`, so every
worker and host answers the same. Only observations of this process (provider latency, sweep
duration, vend and proxy calls) live in memory; with PROMETHEUS_MULTIPROC_DIR set, gunicorn's
workers write them to files there and any worker's scrape sums them all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.services import fleet
from app.services.connections import STATUS_CODES, status_counts
from app.services.keys import api_keys

log = logging.getLogger(__name__)

PREFIX = "factorial_connect"
ENDPOINT_KINDS = ("token", "revoke", "credentials", "keys", "api")
PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

PROVIDER_LATENCY = Histogram(
    f"{PREFIX}_provider_request_duration_seconds",
    "Time of each HTTP call to Factorial, by endpoint kind and outcome class.",
    ["endpoint", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
    registry=None,
)
SWEEP_DURATION = Histogram(
    f"{PREFIX}_sweep_duration_seconds",
    "Wall time of each sweep this process ran as leader.",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=None,
)
VENDS = Counter(
    f"{PREFIX}_vends",
    "Tokens handed to service clients, by outcome.",
    ["outcome"],
    registry=None,
)
PROXY_REQUESTS = Counter(
    f"{PREFIX}_proxy_requests",
    "Calls proxied to Factorial for service clients, by method and response status.",
    ["method", "status"],
    registry=None,
)
_INSTRUMENTS = (PROVIDER_LATENCY, SWEEP_DURATION, VENDS, PROXY_REQUESTS)
_PROCESS = ProcessCollector(registry=None)


def observe_provider(endpoint: str, seconds: float, outcome: str) -> None:
    """The `FactorialClient` observer: one HTTP call to Factorial took `seconds`."""
    PROVIDER_LATENCY.labels(endpoint=endpoint, outcome=outcome).observe(seconds)


def observe_sweep(seconds: float) -> None:
    SWEEP_DURATION.observe(seconds)


# outcome → its child counter: looking it up through `labels()` costs more than `inc()`
_vend_outcomes: dict[str, Any] = {}


def record_vend(outcome: str) -> None:
    """One token vend to a service client; `outcome` is a short fixed word (ok, not_found…)."""
    child = _vend_outcomes.get(outcome)
    if child is None:
        child = _vend_outcomes.setdefault(outcome, VENDS.labels(outcome=outcome))
    child.inc()


def record_proxy(method: str, status: int) -> None:
    """One proxied call and the HTTP status returned to the caller (unusual methods: OTHER)."""
    verb = method.upper() if method.upper() in PROXY_METHODS else "OTHER"
    PROXY_REQUESTS.labels(method=verb, status=str(status)).inc()


class DatabaseCollector(Collector):
    """Fleet-wide gauges and counters, one short read-only session per scrape."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], datetime],
        margin: timedelta,
    ) -> None:
        self._sessions, self._clock, self._margin = sessions, clock, margin

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_metrics_database_up", "1 when this scrape could read the database."
        )
        try:
            with self._sessions() as session:
                families = self._read(session, self._clock())
        except SQLAlchemyError:
            log.exception("metrics: could not read the database")
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _read(self, session: Session, now: datetime) -> list[Metric]:
        return [
            _connections(status_counts(session, now, self._margin)),
            _nearest_expiry(fleet.seconds_to_nearest_expiry(session, now, self._margin)),
            _labelled(
                GaugeMetricFamily(
                    f"{PREFIX}_api_keys",
                    "Stored API keys by their last verification result.",
                    labels=["result"],
                ),
                {k: v for k, v in api_keys.summary(session).items() if k != "total"},
            ),
            _refresh_attempts(fleet.refresh_attempts(session)),
            GaugeMetricFamily(
                f"{PREFIX}_notifications_pending",
                "Webhook notifications waiting for delivery.",
                value=fleet.notifications_pending(session),
            ),
        ]


def _labelled(family: GaugeMetricFamily, counts: dict[str, int]) -> GaugeMetricFamily:
    for label, value in counts.items():
        family.add_metric([label], value)
    return family


def _connections(counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        f"{PREFIX}_connections", "Connections by derived status.", labels=["status"]
    )
    return _labelled(family, {code: counts.get(code, 0) for code in STATUS_CODES})


def _nearest_expiry(seconds: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        f"{PREFIX}_seconds_to_nearest_expiry",
        "Seconds until the soonest access-token expiry among healthy connections; "
        "absent when none expires.",
    )
    if seconds is not None:
        family.add_metric([], seconds)
    return family


def _refresh_attempts(counts: dict[str, int]) -> CounterMetricFamily:
    # Counted from the audit log, so every worker and host reports the same totals; they
    # go down only if audit rows are pruned (Prometheus then sees a counter reset).
    family = CounterMetricFamily(
        f"{PREFIX}_refresh_attempts",
        "Token refresh attempts by outcome, from the audit log.",
        labels=["outcome"],
    )
    for outcome, value in counts.items():
        family.add_metric([outcome], value)
    return family


def multiprocess_dir() -> str:
    """Where gunicorn workers share their observations; empty when each process stands alone."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def registry_for(database: DatabaseCollector) -> CollectorRegistry:
    """A fresh registry per scrape: the database facts plus this process's (or, in multiprocess
    mode, every live and dead worker's) observations."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(database)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return registry
    for collector in (*_INSTRUMENTS, _PROCESS):
        registry.register(collector)
    return registry
