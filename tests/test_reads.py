"""Prepared reads (`app.infra.reads`): the same values a Session would load, on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import bindparam, select, text

from app.infra.extensions import db
from app.infra.reads import PreparedRead
from app.models import Connection
from app.wiring import wiring
from tests.helpers import only_on

c = Connection.__table__.c
BY_ID = PreparedRead(
    select(c.id, c.access_token, c.expires_at, c.employee_id).where(c.id == bindparam("id"))
)


def test_columns_load_as_their_types_do(app: Flask, user_connection: int) -> None:
    with app.app_context():
        stored = db.session.get(Connection, user_connection)
        assert stored is not None
        row = BY_ID.first(wiring().service_api.reads.engine, id=user_connection)
        assert (row.id, row.access_token, row.expires_at, row.employee_id) == (
            stored.id, stored.access_token, stored.expires_at, stored.employee_id,
        )  # fmt: skip
        assert row.access_token.reveal() == stored.access_token.reveal()
        assert row.expires_at.tzinfo is not None


def test_no_row_is_none(app: Flask) -> None:
    with app.app_context():
        assert BY_ID.first(wiring().service_api.reads.engine, id=999) is None


def test_a_parameter_needing_conversion_is_refused(app: Flask) -> None:
    by_expiry = PreparedRead(
        select(c.id).where(c.expires_at < bindparam("when", type_=c.expires_at.type))
    )
    with app.app_context(), pytest.raises(TypeError, match="plain values"):
        by_expiry.first(wiring().service_api.reads.engine, when=None)


def test_a_connection_the_server_dropped_is_replaced(
    app: Flask, user_connection: int, database_url: str
) -> None:
    """No ping before each read: a dead pooled connection is found by the read itself, which
    is retried once on a new connection."""
    only_on(database_url, "postgresql", "SQLite connections are files: no server drops them")
    with app.app_context():
        engine = wiring().service_api.reads.engine
        assert BY_ID.first(engine, id=user_connection) is not None
        pooled = engine.raw_connection()
        pid = pooled.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        pooled.close()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert BY_ID.first(engine, id=user_connection).id == user_connection
