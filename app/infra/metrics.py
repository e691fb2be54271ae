"""Prometheus metrics: per-process instruments, and the registry `/metrics` serves.

Only observations of this process (provider latency, sweep duration, vend and proxy calls) live
here, in memory; with PROMETHEUS_MULTIPROC_DIR set, gunicorn's workers write them to files there
and any worker's scrape sums them all. Fleet-wide facts are read from the database at scrape
time by a collector the caller passes to `registry_for` (app/web/metrics.py owns it).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

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


def multiprocess_dir() -> str:
    """Where gunicorn workers share their observations; empty when each process stands alone."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def registry_for(database: Collector) -> CollectorRegistry:
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
