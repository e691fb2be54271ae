"""Read-only queries on the service API's hot path, run with as little machinery as possible.

The token endpoint answers from one SELECT. Through SQLAlchemy's execution layer (a Connection,
its transaction, the execution context, the result object) that SELECT cost several times what
the database spent on it, and on SQLite its transaction also waited for the write lock that
every other transaction here takes (BEGIN IMMEDIATE, see `app.infra.database`). A
`PreparedRead` keeps SQLAlchemy for what it is good at, building the statement, compiling it
once per engine, and converting each column with the column's own type (dates, decrypted
secrets), and hands the SQL to a pooled DBAPI connection directly:

- the connection is in autocommit mode, so the one statement is its own implicit read
  transaction: on SQLite a consistent snapshot under WAL that never waits for, or blocks, a
  writer; on PostgreSQL one round trip, with nothing to roll back afterwards.

Only single-statement reads belong here; anything that writes, or reads twice and must see one
snapshot, goes through a Session.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, Select, create_engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler

READERS = 4  # pooled connections per process (and as many more at peaks): gunicorn's threads


def reader_engine(engine: Engine, connect_args: Mapping[str, Any]) -> Engine:
    """The engine prepared reads use, with connections in autocommit mode: each SELECT is its
    own snapshot and leaves nothing to roll back when the connection goes back to the pool.

    - A SQLite file: the main engine keeps one connection per process so that writers queue
      without sleeping; readers have no reason to queue behind them and get one per thread.
    - PostgreSQL (psycopg): the main engine pings each connection it hands out and rolls it
      back on return, three round trips around a one-statement read; here the read is the only
      round trip, and a connection found dead is replaced and the read retried (`first`).
    - Anything else (SQLite in memory): `engine` itself.
    """
    url = engine.url
    backend, options = url.get_backend_name(), dict(connect_args)
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        pass  # `app.infra.database.prepare` puts its SQLite connections in autocommit mode
    elif backend == "postgresql" and url.get_driver_name() == "psycopg":
        options["autocommit"] = True
    else:
        return engine
    return create_engine(
        url,
        connect_args=options,
        pool_size=READERS,
        max_overflow=READERS,
        pool_reset_on_return=None,
    )


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order, for qmark/format paramstyles
    compiled: SQLCompiler
    processors: tuple[Callable[[Any], Any] | None, ...]
    record: type


class PreparedRead:
    """One SELECT, compiled once per dialect; `first()` returns its first row or None, each
    column converted by its type, readable by attribute under the column's label."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._keys = tuple(str(column.key) for column in statement.selected_columns)
        # Per engine (each has its dialect): column types convert with what the engine holds,
        # such as the key ring that opens its encrypted columns (`crypto.bind_keyring`).
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            for bind in compiled.binds.values():
                if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                    raise TypeError(f"a prepared read takes plain values, not {bind.type!r}")
            processors = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            )
            positional = tuple(compiled.positiontup or ()) if compiled.positional else None
            record = namedtuple("Record", self._keys)  # type: ignore[misc]
            found = _Compiled(compiled.string, positional, compiled, processors, record)
            self._by_dialect[dialect] = found
        return found

    def first(self, engine: Engine, **values: Any) -> Any:
        prepared = self._compile(engine.dialect)
        params = prepared.compiled.construct_params(values)
        args: Any = (
            params if prepared.positional is None else [params[k] for k in prepared.positional]
        )
        row = self._fetch(engine, prepared.sql, args, retry=True)
        if row is None:
            return None
        return prepared.record(
            *(
                value if p is None else p(value)
                for p, value in zip(prepared.processors, row, strict=True)
            )
        )

    def _fetch(self, engine: Engine, sql: str, args: Any, *, retry: bool) -> Any:
        try:
            connection = engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error as exc:  # the server is away
            raise _as_sqlalchemy_error(engine, sql, args, exc) from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, args)
                return cursor.fetchone()
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            # A pooled connection the server dropped (restart, idle timeout): replace it once.
            dbapi_connection = connection.dbapi_connection
            if not retry or not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise _as_sqlalchemy_error(engine, sql, args, exc) from exc
            connection.invalidate(exc)
            # The server went away (a restart): every idle connection went with it. Drop them
            # all now, or each would fail one more request after the retry below.
            engine.pool.dispose()
        finally:
            connection.close()
        return self._fetch(engine, sql, args, retry=False)


def _as_sqlalchemy_error(engine: Engine, sql: str, args: Any, exc: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it elsewhere (OperationalError when the server
    is away), so callers and error pages see one kind whichever path read; never the values."""
    return DBAPIError.instance(
        sql, args, exc, engine.dialect.loaded_dbapi.Error, hide_parameters=True,
        dialect=engine.dialect,
    )  # fmt: skip
