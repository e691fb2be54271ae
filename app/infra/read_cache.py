"""The service API's reads, remembered for a moment while the database proves that nothing
they hold has changed.

Each call to the service API reads the calling client and, on a connection's routes, its grant
and the stored token (`vend.ApiReads`): rows that change a few times an hour. A process keeps
the rows of authenticated reads, for at most `VEND_CACHE_SECONDS` (2 s by default; 0 turns this
off), and serves them again only while a ticket taken before the read is still current:

- PostgreSQL (`ChangeFeed`): triggers (migration 0007) notify the channel
  `factorial_connect_changes` whenever a statement writes `connections`, `service_clients` or
  `service_client_grants`, from any process or host, even psql. PostgreSQL delivers the notice
  at commit, asynchronously: the writer's commit may return a moment before the notice reaches
  a listener, and until it does, that listener's process may still serve what it remembers.
  One listener thread per process holds its own connection, LISTENs, and bumps the generation
  on every notice. This process's own commits bump it at once (an engine `commit` event), so a
  caller that revoked a client and then asks for a token never waits for its own notice. The
  ticket is the generation, and there is none (nothing is served or kept) while the listener
  is not connected, is busy (its keepalive query in flight), or has a notice waiting unread on
  its socket. The age bound caps what a late notice, or a listener that silently stopped
  hearing, could cost: for example behind a pooler in transaction mode, which does not carry
  LISTEN.
- SQLite (`DataVersion`): `PRAGMA data_version` on a connection that never writes changes
  whenever any other connection, in any process, commits to the file. It is read on every
  call, so SQLite's answer is exact; it costs a read of the WAL index in shared memory.

Readiness (expiry, refresh margin, an attempt in flight) is decided again on every call from the
remembered row; anything but a ready, granted token goes down the full path (`vend.token_for`).
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

CHANNEL = "factorial_connect_changes"
APPLICATION_NAME = "factorial-connect change feed"  # how the listener shows in pg_stat_activity
KEEPALIVE = 5.0  # seconds of silence before the listener checks its connection
MAX_ENTRIES = 4096  # reads remembered per process; all forgotten when full
MISS: Any = object()  # what `ReadCache.get` answers when nothing usable is remembered


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(timeout * 1000))


class ChangeFeed:
    """A thread holding one LISTEN connection; `generation` grows with every change heard (or
    made by this process), and `quiet()` says whether remembered rows may be served now."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self.generation = 0
        self.live = False  # connected and LISTENing
        self._busy = True  # the listener is reading or querying: treat as changing
        self._fd = -1
        self._pid = 0  # the process whose thread listens: a forked child starts its own
        self._lock = threading.Lock()
        self._bump_lock = threading.Lock()
        self._warned = False
        self._heard = False  # the last connection got as far as LISTEN

    def bump(self, *_: Any) -> None:
        with self._bump_lock:  # `+=` alone could lose a change made by another thread
            self.generation += 1

    def start(self) -> None:
        """Start listening in this process, unless a thread here already does."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self.live, self._busy = False, True  # state copied from a parent means nothing
            self.bump()
            self._pid = os.getpid()
        threading.Thread(target=self._run, name="change-feed", daemon=True).start()

    def ticket(self) -> int | None:
        """The generation while `quiet()`, else None: nothing may be served or kept. The
        first call in a process starts the listener."""
        self.start()
        generation = self.generation
        return generation if self.quiet() else None

    def quiet(self) -> bool:
        """Listening, not busy, and no notice waiting unread on the socket."""
        if not self.live or self._busy:
            return False
        try:
            return not _readable(self._fd, 0)
        except (OSError, ValueError):
            return False

    def _run(self) -> None:
        delay = 0.5
        while True:
            self._heard = False
            try:
                self._listen()
            except Exception as exc:  # any failure: stop serving from memory, then reconnect
                if not self._warned:
                    # The class only: a driver's message can name the host and user.
                    log.warning(
                        "change feed lost (%s): token reads go to the database until it is back",
                        type(exc).__name__,
                    )
                    self._warned = True
            self.live, self._busy = False, True
            self.bump()
            delay = 0.5 if self._heard else min(delay * 2, 30.0)
            time.sleep(delay)

    def _listen(self) -> None:
        from psycopg.pq import ConnStatus

        connection = self._connect()
        try:
            connection.add_notify_handler(self.bump)  # notices read during our own queries
            connection.execute(f"LISTEN {CHANNEL}")
            pgconn = connection.pgconn
            self._fd = pgconn.socket
            self.bump()  # whatever was remembered before this point may have missed a notice
            self.live, self._busy, self._heard = True, False, True
            if self._warned:
                log.warning("change feed back: token reads are remembered again")
                self._warned = False
            while True:
                readable = _readable(self._fd, KEEPALIVE)
                self._busy = True
                if readable:
                    pgconn.consume_input()
                    if pgconn.status != ConnStatus.OK:
                        raise ConnectionError("the change feed's connection closed")
                    while pgconn.notifies() is not None:
                        self.bump()
                else:
                    connection.execute("SELECT 1")  # a lost connection shows here
                self._busy = False
        finally:
            self.live, self._busy = False, True
            connection.close()


class DataVersion:
    """SQLite's own change counter: `PRAGMA data_version` on a connection that never writes
    changes whenever any other connection, in any process, commits to the file. Reading it
    starts a read transaction against the WAL index in shared memory: no disk read, no wait
    for a writer. One connection per process, shared under a lock (the pragma is per
    connection, so every ticket must come from the same one)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._cursor: sqlite3.Cursor | None = None
        self._pid = 0

    def ticket(self) -> int | None:
        with self._lock:
            try:
                if self._pid != os.getpid():  # never use a connection across fork
                    self._connection = sqlite3.connect(
                        self._path, timeout=1, isolation_level=None, check_same_thread=False
                    )
                    self._cursor = self._connection.cursor()  # one cursor: none built per call
                    self._pid = os.getpid()
                assert self._cursor is not None
                self._cursor.execute("PRAGMA data_version")
                return int(self._cursor.fetchone()[0])
            except sqlite3.Error:
                self._pid = 0  # open a new connection next time; until then, read
                return None


class ReadCache:
    """Rows read for a key, served again while the source's ticket proves nothing changed
    since they were read; never longer than `seconds`."""

    def __init__(
        self, source: ChangeFeed | DataVersion, seconds: float, clock: Callable[[], float]
    ) -> None:
        self.source = source
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[Any, int, float]] = {}

    def get(self, key: Hashable) -> tuple[Any, int | None]:
        """(the remembered row or `MISS`, the ticket to `put` a fresh read with). Take the
        ticket before reading: a change after it makes the read's entry unusable."""
        ticket = self.source.ticket()
        entry = self._entries.get(key)
        if (
            entry is None
            or ticket is None
            or entry[1] != ticket
            or self._clock() - entry[2] > self.seconds
        ):
            return MISS, ticket
        return entry[0], ticket

    def put(self, key: Hashable, row: Any, ticket: int | None) -> None:
        if ticket is None:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (row, ticket, self._clock())


_feeds: dict[str, ChangeFeed] = {}
_feeds_lock = threading.Lock()


def feed_for(engine: Engine, connect_args: Mapping[str, Any]) -> ChangeFeed:
    """The feed for the engine's database, one per database however many apps a process
    builds (the tests build one per test). It starts listening on first use."""
    key = engine.url.render_as_string(hide_password=False)
    with _feeds_lock:
        feed = _feeds.get(key)
        if feed is None:
            feed = _feeds[key] = ChangeFeed(_connector(engine, connect_args))
    return feed


def _connector(engine: Engine, connect_args: Mapping[str, Any]) -> Callable[[], Any]:
    import psycopg

    _, options = engine.dialect.create_connect_args(engine.url)
    options = {k: v for k, v in options.items() if k != "context"}
    options.update(connect_args)
    options.update(autocommit=True)
    options.setdefault("connect_timeout", 5)
    options.setdefault("application_name", APPLICATION_NAME)

    def connect() -> Any:
        return psycopg.connect(**options)

    return connect


def cache_for(
    engine: Engine,
    main: Engine,
    connect_args: Mapping[str, Any],
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> ReadCache | None:
    """A cache for reads on `engine` when `seconds` > 0 and the database can prove that nothing
    changed: PostgreSQL through psycopg (its change feed; commits on `main` count at once) or
    a SQLite file (its data version). None otherwise."""
    url = engine.url
    if seconds <= 0:
        return None
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        feed = feed_for(engine, connect_args)
        event.listen(main, "commit", feed.bump)
        return ReadCache(feed, seconds, clock)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return ReadCache(DataVersion(str(url.database)), seconds, clock)
    return None
