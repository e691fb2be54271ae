"""The app's database engines: their options, SQLite's connection settings, and the key ring
their encrypted columns use. Applied to each engine the app creates, never to all engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from app.infra.crypto import KeyRing, bind_keyring


def engine_options(url: str) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS for the main engine."""
    if url.startswith("sqlite"):
        # SQLite has one writer at a time and every transaction takes the write lock (BEGIN
        # IMMEDIATE, below). One pooled connection per process makes threads queue for it
        # without delay, instead of polling SQLite's busy handler in growing sleeps; other
        # processes still wait through the busy timeout. Sessions give the connection back at
        # commit or rollback, and no transaction is held while Factorial is called.
        return {
            "connect_args": {"timeout": 30, "check_same_thread": False},
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 30,
        }
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def prepare(engine: Engine, ring: KeyRing) -> None:
    """Make `engine` one of the app's: its encrypted columns use `ring`, and a SQLite engine
    gets the settings below on every connection. Call before it first connects; repeatable."""
    bind_keyring(engine, ring)
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _pragmas):
        event.listen(engine, "connect", _pragmas)
        event.listen(engine, "begin", _begin_immediate)


def _pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL and a busy timeout let many workers share one SQLite file."""
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: commits survive an application crash; only an OS crash or power loss can
    # drop the last transactions. PostgreSQL is the production database.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN: a read-then-write transaction can then never fail
    with a stale snapshot when another worker wrote in between (it waits instead). The service
    API's single-statement reads (`app.infra.reads`) run outside such transactions."""
    # Straight to the driver: SQLAlchemy's own execute path would add its overhead to every
    # transaction, and this statement needs none of it.
    connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
