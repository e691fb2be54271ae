"""What the service API holds for the app's life, built once in `create_app` (`app.wiring`):
its reads, the shared POST limiter, the usage counter and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limits import parse as parse_limit
from sqlalchemy import Engine

from app.factorial.ratelimit import V1_POSTS, Classifier, PostLimiter, limit_for
from app.infra.read_cache import ReadCache
from app.infra.settings import Settings
from app.infra.throttle import SharedWindow
from app.services.service_api import proxy
from app.services.service_api.usage import UsageRecorder
from app.services.service_api.vend import ApiReads
from app.wiring import wiring

OPENAPI = Path(__file__).resolve().parent / "openapi.json"


@dataclass(frozen=True)
class ServiceApi:
    reads: ApiReads
    proxy: proxy.ProxyContext
    usage: UsageRecorder
    openapi: bytes


def build_service_api(
    settings: Settings, config: Mapping[str, Any], engine: Engine, cache: ReadCache | None
) -> ServiceApi:
    """`config` may set API_PROXY_POST_LIMITS, API_PROXY_MAX_WAIT and API_USAGE_INTERVAL (tests:
    smaller windows and intervals)."""
    window = SharedWindow(settings.ratelimit_storage_uri, counting="proxy POSTs")
    limiter = PostLimiter(window, classify=_classifier(config.get("API_PROXY_POST_LIMITS")))
    return ServiceApi(
        reads=ApiReads(engine, cache),
        proxy=proxy.ProxyContext(limiter, float(config.get("API_PROXY_MAX_WAIT", 2.0))),
        usage=UsageRecorder(float(config.get("API_USAGE_INTERVAL", 60.0))),
        openapi=OPENAPI.read_bytes(),
    )


def _classifier(limits: Mapping[str, str] | None) -> Classifier:
    """Factorial's limits, or (tests, smaller windows) `{"v1"|"v2": "N per S seconds"}`."""
    if not limits:
        return limit_for
    items = {family: parse_limit(spec) for family, spec in limits.items()}

    def classify(method: str, path: str) -> Any:
        item = limit_for(method, path)
        family = "v1" if item is V1_POSTS else "v2"
        return None if item is None else items.get(family, item)

    return classify


def service_api() -> ServiceApi:
    """The running app's service API objects."""
    return wiring().service_api
