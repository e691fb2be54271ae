"""/readyz: 200 when database, schema and keys are all usable; 503 naming each failing check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade

from app import create_app
from app.infra import crypto
from app.infra.crypto import KeyRing, Undecryptable
from app.infra.extensions import db
from tests.processes import free_port

PG_PASSWORD = "pg-password-never-shown"


class BrokenKeyRing(KeyRing):
    """A ring whose keys load but cannot open what they seal (a corrupted key, say)."""

    def decrypt(self, ciphertext: str) -> str:
        raise Undecryptable("cannot decrypt")


def unbind_keys(app: Flask) -> None:
    with app.app_context():
        crypto.bind_keyring(db.engine, None)


def ready(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.get_json()


@pytest.fixture
def unmigrated_app(app_settings: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app on the test's DATABASE_URL parameter (default: the test database), not migrated."""
    url = getattr(request, "param", app_settings["DATABASE_URL"])
    application = create_app({**app_settings, "DATABASE_URL": url})
    yield application
    with application.app_context():
        db.engine.dispose()


def missing_directory_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'no' / 'such' / 'dir' / 'db.sqlite3'}"


def closed_port_url() -> str:
    return f"postgresql+psycopg://app:{PG_PASSWORD}@127.0.0.1:{free_port()}/app?connect_timeout=2"


def test_ready_when_everything_is_usable(client: FlaskClient) -> None:
    assert ready(client) == (
        200,
        {
            "status": "ready",
            "checks": {
                "database": {"status": "ok"},
                "migrations": {"status": "ok"},
                "keys": {"status": "ok"},
            },
        },
    )


@pytest.mark.parametrize(
    "unmigrated_app",
    [missing_directory_url(Path("/nonexistent-readyz")), closed_port_url()],
    indirect=True,
    ids=["sqlite-missing-directory", "postgres-closed-port"],
)
def test_unreachable_database_is_not_ready(unmigrated_app: Flask) -> None:
    status, body = ready(unmigrated_app.test_client())
    assert (status, body["failing"]) == (503, ["database", "migrations"])


@pytest.mark.parametrize("unmigrated_app", [closed_port_url()], indirect=True)
def test_unreachable_database_reason_reveals_no_connection_string(unmigrated_app: Flask) -> None:
    text = unmigrated_app.test_client().get("/readyz").get_data(as_text=True)
    assert PG_PASSWORD not in text and "127.0.0.1" not in text and "postgresql" not in text


@pytest.mark.parametrize("unmigrated_app", [closed_port_url()], indirect=True)
def test_unreachable_database_gives_a_short_reason(unmigrated_app: Flask) -> None:
    _, body = ready(unmigrated_app.test_client())
    assert body["checks"]["database"] == {
        "status": "failed",
        "reason": "cannot connect (OperationalError)",
    }


def test_schema_behind_head_is_not_ready(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        downgrade(revision="-1")
    status, body = ready(client)
    assert (status, body["failing"]) == (503, ["migrations"])


def test_schema_behind_head_names_both_revisions(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        downgrade(revision="-1")
    reason = ready(client)[1]["checks"]["migrations"]["reason"]
    assert reason.startswith("database at ") and ", code expects " in reason


def test_empty_database_is_not_ready(unmigrated_app: Flask) -> None:
    status, body = ready(unmigrated_app.test_client())
    reason = body["checks"]["migrations"]["reason"]
    assert (status, reason.startswith("database at none, code expects ")) == (503, True)


def test_missing_keys_are_not_ready(app: Flask, client: FlaskClient) -> None:
    unbind_keys(app)
    status, body = ready(client)
    assert (status, body["failing"], body["checks"]["keys"]["reason"]) == (
        503,
        ["keys"],
        "encryption keys are not loaded",
    )


def test_broken_keys_are_not_ready(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        crypto.bind_keyring(db.engine, BrokenKeyRing([crypto.generate_key()]))
    status, body = ready(client)
    assert (status, body["failing"], body["checks"]["keys"]["reason"]) == (
        503,
        ["keys"],
        "encryption keys do not round-trip",
    )


def test_not_ready_is_never_cached(app: Flask, client: FlaskClient) -> None:
    unbind_keys(app)
    assert client.get("/readyz").headers["Cache-Control"] == "no-store"
