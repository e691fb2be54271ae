"""Prometheus metrics at /metrics: a bearer token when METRICS_TOKEN is set, else (in
production) internal addresses only. Fleet-wide facts (connections by status, nearest expiry,
refresh outcomes, API keys, pending webhooks) are read from the shared database at scrape time
by `DatabaseCollector`, so every worker and host answers the same."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from flask import Blueprint, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.infra.metrics import PREFIX, registry_for
from app.infra.settings import Settings
from app.models import utcnow
from app.services import fleet
from app.services.connections import STATUS_CODES, status_counts
from app.services.keys import api_keys
from app.wiring import wiring

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )
)


@bp.get("/metrics")
def metrics() -> Response:
    """The exposition, or 401/403 in plain text when the caller may not scrape."""
    s = wiring().settings
    refusal = _refusal(s)
    if refusal is not None:
        return refusal
    engine = db.engine
    collector = DatabaseCollector(
        lambda: Session(engine), utcnow, timedelta(seconds=s.refresh_margin)
    )
    body = generate_latest(registry_for(collector))
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _refusal(s: Settings) -> Response | None:
    if s.metrics_token:
        header = request.headers.get("Authorization", "")
        expected = f"Bearer {s.metrics_token}"
        if hmac.compare_digest(header.encode(), expected.encode()):
            return None
        return Response(
            "A valid bearer token is required.\n",
            401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if not s.is_production or is_internal(request.remote_addr):
        return None
    return Response("Metrics are served to internal addresses only.\n", 403, mimetype="text/plain")


def is_internal(address: str | None) -> bool:
    """Loopback or a private network (RFC 1918, IPv6 unique local), IPv4-mapped included."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return any(ip in network for network in INTERNAL_NETWORKS)


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
