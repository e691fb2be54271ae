"""/metrics: the Prometheus exposition, what it counts, and who may read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app import create_app
from app.infra import metrics
from app.infra.extensions import db
from app.models import utcnow
from app.refresh.scheduler import sweep_once, sweeper_for
from app.web.metrics import DatabaseCollector, is_internal
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.factories import make_client
from tests.flows import ACME_ADMIN, connect_account, connection_id_from
from tests.helpers import (
    CREDENTIALS,
    bearer,
    exposition,
    occurring,
    samples,
    set_columns,
    value,
)
from tests.lifecycle import access_token, connect_user, make_due, refresh, refresh_token

METRICS_TOKEN = "metrics-token-" + "m" * 32
PUBLIC = {"REMOTE_ADDR": "203.0.113.5"}
FAMILIES = (
    "factorial_connect_connections",
    "factorial_connect_seconds_to_nearest_expiry",
    "factorial_connect_api_keys",
    "factorial_connect_refresh_attempts",
    "factorial_connect_notifications_pending",
    "factorial_connect_provider_request_duration_seconds",
    "factorial_connect_sweep_duration_seconds",
    "factorial_connect_vends",
    "factorial_connect_proxy_requests",
    "factorial_connect_metrics_database_up",
)


def token_calls(client: FlaskClient) -> float:
    found = samples(client)
    name = "factorial_connect_provider_request_duration_seconds_count"
    return sum(
        v for (n, labels), v in found.items() if n == name and ("endpoint", "token") in labels
    )


@pytest.fixture
def connected(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer, admin_id: int) -> int:
    auth.login()
    return connect_user(client, auth, sandbox)


@pytest.mark.parametrize("family", FAMILIES)
def test_exposition_parses_and_has_each_family(client: FlaskClient, family: str) -> None:
    names = {f.name for f in text_string_to_metric_families(exposition(client))}
    assert family in names


def test_content_type_is_prometheus_text(client: FlaskClient) -> None:
    assert client.get("/metrics").headers["Content-Type"].startswith("text/plain; version=")


def test_refresh_counts_one_ok_attempt(app: Flask, client: FlaskClient, connected: int) -> None:
    before = value(samples(client), "factorial_connect_refresh_attempts_total", outcome="ok")
    make_due(app, connected)
    refresh(app, connected)
    after = value(samples(client), "factorial_connect_refresh_attempts_total", outcome="ok")
    assert after - before == 1


def test_refresh_is_timed_as_a_token_call(app: Flask, client: FlaskClient, connected: int) -> None:
    before = token_calls(client)
    make_due(app, connected)
    refresh(app, connected)
    assert token_calls(client) > before


def test_connections_are_counted_by_status(
    app: Flask, client: FlaskClient, auth: AuthActions, sandbox: SandboxServer, connected: int
) -> None:
    connection_id_from(connect_account(client, auth, sandbox, "company", ACME_ADMIN))
    make_due(app, connected)
    found = samples(client)
    counts = {
        status: value(found, "factorial_connect_connections", status=status)
        for status in ("active", "expires_soon", "does_not_expire", "needs_reconnect")
    }
    assert counts == {
        "active": 0,
        "expires_soon": 1,
        "does_not_expire": 1,
        "needs_reconnect": 0,
    }


def test_nearest_expiry_is_the_soonest_healthy_one(
    app: Flask, client: FlaskClient, connected: int
) -> None:
    make_due(app, connected)
    seconds = value(samples(client), "factorial_connect_seconds_to_nearest_expiry")
    assert 0 < seconds <= 60


def test_nearest_expiry_is_absent_without_expiring_connections(client: FlaskClient) -> None:
    assert ("factorial_connect_seconds_to_nearest_expiry", frozenset()) not in samples(client)


def test_sweep_duration_is_observed(app: Flask, client: FlaskClient) -> None:
    before = value(samples(client), "factorial_connect_sweep_duration_seconds_count")
    with app.app_context():
        sweeper = sweeper_for(db.engine, wiring(app).deps, wiring(app).settings)
    sweep_once(sweeper, "test-owner")
    assert value(samples(client), "factorial_connect_sweep_duration_seconds_count") == before + 1


def test_vends_are_counted_by_outcome(app: Flask, client: FlaskClient, connected: int) -> None:
    name, path = "factorial_connect_vends_total", f"/api/v1/connections/{connected}/token"
    secret = make_client(app, connections=(connected,))
    found = samples(client)
    before = {outcome: value(found, name, outcome=outcome) for outcome in ("ok", "needs_reconnect")}
    client.get(path, headers=bearer(secret)).close()
    set_columns(app, connected, needs_reconnect_cause="revoked")
    client.get(path, headers=bearer(secret)).close()
    found = samples(client)
    counted = {outcome: value(found, name, outcome=outcome) - n for outcome, n in before.items()}
    assert counted == {"ok": 1, "needs_reconnect": 1}


def test_proxy_calls_are_counted_by_method_and_status(
    app: Flask, client: FlaskClient, connected: int
) -> None:
    name = "factorial_connect_proxy_requests_total"
    path = f"/api/v1/connections/{connected}/proxy/{CREDENTIALS}"
    before = value(samples(client), name, method="GET", status="200")
    client.get(path, headers=bearer(make_client(app, connections=(connected,)))).close()
    assert value(samples(client), name, method="GET", status="200") == before + 1


def test_unusual_proxy_methods_share_one_label(client: FlaskClient) -> None:
    name = "factorial_connect_proxy_requests_total"
    before = value(samples(client), name, method="OTHER", status="405")
    metrics.record_proxy("BREW", 405)
    assert value(samples(client), name, method="OTHER", status="405") == before + 1


def test_no_secret_appears_in_the_exposition(
    app: Flask, client: FlaskClient, connected: int
) -> None:
    make_due(app, connected)
    refresh(app, connected)
    settings = wiring(app).settings
    secrets = [
        access_token(app, connected),
        refresh_token(app, connected),
        settings.secret_key,
        *settings.token_encryption_keys,
        *(e.client_secret for e in settings.environments.values()),
    ]
    body = exposition(client)
    assert occurring(secrets, body) == []


def test_unreadable_database_is_reported_not_raised(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    families = list(
        DatabaseCollector(lambda: Session(engine), utcnow, timedelta(minutes=10)).collect()
    )
    assert [(f.name, [s.value for s in f.samples]) for f in families] == [
        ("factorial_connect_metrics_database_up", [0.0])
    ]


# Protection -------------------------------------------------------------------------------


@pytest.fixture
def token_client(app_settings: dict[str, Any]) -> Iterator[FlaskClient]:
    app = create_app({**app_settings, "METRICS_TOKEN": METRICS_TOKEN})
    with app.app_context():
        upgrade()
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}],
    ids=["none", "wrong", "no-scheme"],
)
def test_token_is_required_when_configured(
    token_client: FlaskClient, headers: dict[str, str]
) -> None:
    response = token_client.get("/metrics", headers=headers)
    assert (response.status_code, response.mimetype) == (401, "text/plain")


def test_right_token_is_served(token_client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert token_client.get("/metrics", headers=headers).status_code == 200


def test_right_token_is_served_to_a_public_address(token_client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    response = token_client.get("/metrics", headers=headers, environ_base=PUBLIC)
    assert response.status_code == 200


def test_token_never_appears_in_the_exposition(token_client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert METRICS_TOKEN not in token_client.get("/metrics", headers=headers).get_data(as_text=True)


@pytest.fixture
def production_client(tmp_path: Path) -> Iterator[FlaskClient]:
    app = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "Vh3-Tq8LxZ0pN6cWbK2yRj9dMf4sUe7aGo1iYnPk5ErJ",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "FACTORIAL_CLIENT_ID": "client",
            "FACTORIAL_CLIENT_SECRET": "client-secret-value",
            "FACTORIAL_REDIRECT_URI": "https://connect.example.com/oauth/callback",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SCHEDULER": "off",
        }
    )
    with app.app_context():
        upgrade()
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_production_refuses_a_public_address(production_client: FlaskClient) -> None:
    response = production_client.get("/metrics", environ_base=PUBLIC)
    assert (response.status_code, response.mimetype) == (403, "text/plain")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "::1"])
def test_production_serves_internal_addresses(production_client: FlaskClient, address: str) -> None:
    response = production_client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "address",
    ["172.16.0.1", "172.31.255.255", "fd00::1", "::ffff:10.0.0.1", "127.0.0.2"],
)
def test_internal_addresses(address: str) -> None:
    assert is_internal(address)


@pytest.mark.parametrize(
    "address",
    ["203.0.113.5", "172.32.0.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8", "", None, "x"],
)
def test_public_or_unparseable_addresses(address: str | None) -> None:
    assert not is_internal(address)
