"""Prometheus metrics at /metrics: a bearer token when METRICS_TOKEN is set, else (in
production) internal addresses only."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from flask import Blueprint, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.infra.metrics import DatabaseCollector, registry_for
from app.infra.settings import Settings
from app.models import utcnow
from app.web.security import settings

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
    s = settings()
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
