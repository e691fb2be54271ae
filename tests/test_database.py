"""The app's SQLite settings (WAL, busy timeout, foreign keys, BEGIN IMMEDIATE) apply to the
app's own engines, the prepared-read engine included, and to no other engine in the process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine

from app import create_app
from app.infra.extensions import db
from app.wiring import wiring


@pytest.fixture
def sqlite_app(app_settings: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    application = create_app({**app_settings, "DATABASE_URL": url})
    yield application
    with application.app_context():
        db.engine.dispose()


def pragmas(engine: Engine) -> tuple[str, int, int, object]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        found = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
        cursor.close()
        return (*found, raw.dbapi_connection.isolation_level)  # type: ignore[union-attr,return-value]
    finally:
        raw.close()


PRAGMAS = ("journal_mode", "busy_timeout", "foreign_keys")
OURS = ("wal", 30000, 1, None)


def test_the_app_engine_has_the_settings(sqlite_app: Flask) -> None:
    with sqlite_app.app_context():
        assert pragmas(db.engine) == OURS


def test_the_prepared_read_engine_has_them_too(sqlite_app: Flask) -> None:
    assert pragmas(wiring(sqlite_app).service_api.reads.engine) == OURS


def test_another_engine_in_the_process_keeps_sqlites_defaults(
    sqlite_app: Flask, tmp_path: Path
) -> None:
    other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert pragmas(other) == ("delete", 5000, 0, "")
    other.dispose()
