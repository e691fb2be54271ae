"""Read-only database work for hot paths: a Core connection whose transaction never takes a lock.

On SQLite every other transaction begins IMMEDIATE (see `bootstrap`), taking the one write lock
so a read-then-write can never act on a stale snapshot, and each process keeps one connection
for that work so its threads queue without sleeping. A request that only reads needs neither:
under WAL a deferred transaction reads a consistent snapshot while writers commit, so read-only
work gets an engine of its own with a connection per thread, and read-only requests in many
threads and workers run side by side. On PostgreSQL reads share the main engine's pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine

READ_ONLY = "fc_read_only"
SQLITE_READERS = 8  # pooled connections per process; gunicorn runs 4 threads per worker


def is_read_only(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(READ_ONLY))


def reader_engine(engine: Engine, connect_args: dict[str, Any]) -> Engine:
    """The engine read-only work uses: `engine` itself, except for a SQLite file."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    return create_engine(
        url, connect_args=connect_args, pool_size=SQLITE_READERS, max_overflow=SQLITE_READERS
    )


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection whose transaction (begun by its first statement) is deferred on SQLite and
    rolled back when the block ends: there is nothing to keep. Never write through it."""
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        yield connection
