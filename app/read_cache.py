"""The token endpoint's read, remembered for a moment on PostgreSQL while the database reports
every change to this process (LISTEN/NOTIFY).

Each call to the token endpoint reads the client, its grant and the stored token (`vend.peek`).
On PostgreSQL that read is a round trip and work for the server on every call, for rows that
change a few times an hour. Here a process keeps the rows it read, for at most
`VEND_CACHE_SECONDS`, and serves them again only while it can prove nothing changed since:

- Triggers (migration 0007) notify the channel `factorial_connect_changes` whenever a
  statement writes `connections`, `service_clients` or `service_client_grants`, from any
  process or host, even from psql. PostgreSQL delivers the notice when the transaction
  commits. One listener thread per process holds its own connection, LISTENs, and bumps the
  generation on every notice: every row read before it is forgotten.
- Commits made by this process bump the generation at once (an engine `commit` event), so a
  caller that revoked a client and then asks for a token in the same process never waits for
  its own notice.
- A remembered row is served only while the listener is connected and idle with nothing unread
  on its socket: a notice that has arrived but is not yet handled counts as a change. While the
  listener is down (connecting, a lost connection, its keepalive query in flight) nothing is
  served from memory and every call reads the database, exactly as without the cache.
- The age bound (`VEND_CACHE_SECONDS`, 2 s by default; 0 turns the cache off) caps what a
  listener that silently stopped hearing could cost, for example behind a pooler in
  transaction mode that does not carry LISTEN.

Readiness (expiry, refresh margin, an attempt in flight) is decided again on every call from the
remembered row; anything but a ready, granted token goes down the full path as before. SQLite
gets no cache: its read is local and has no change feed.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

CHANNEL = "factorial_connect_changes"
APPLICATION_NAME = "factorial-connect change feed"  # how the listener shows in pg_stat_activity
KEEPALIVE = 5.0  # seconds of silence before the listener checks its connection
MAX_ENTRIES = 4096  # (client, connection) pairs remembered per process; all forgotten when full
_MISS: Any = object()


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(timeout * 1000))


class ChangeFeed:
    """A thread holding one LISTEN connection; `generation` grows with every change heard (or
    made by this process), and `quiet()` says whether remembered rows may be served now."""

    def __init__(self, connect: Callable[[], Any], name: str = "change-feed") -> None:
        self._connect = connect
        self._name = name
        self.generation = 0
        self.live = False  # connected and LISTENing
        self._busy = True  # the listener is reading or querying: treat as changing
        self._fd = -1
        self._pid = 0  # the process whose thread listens: a forked child starts its own
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warned = False
        self._heard = False  # the last connection got as far as LISTEN

    def bump(self, *_: Any) -> None:
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
        threading.Thread(target=self._run, name=self._name, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

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
        while not self._stop.is_set():
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
            self._stop.wait(delay)

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
            while not self._stop.is_set():
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


class ReadCache:
    """Rows read for a key, served again while the feed proves nothing changed since."""

    def __init__(self, feed: ChangeFeed, seconds: float, clock: Callable[[], float]) -> None:
        self.feed = feed
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[Any, int, float]] = {}

    def get(self, key: Hashable) -> Any:
        """The remembered row or `MISS`; the first call in a process starts the listener."""
        self.feed.start()
        entry = self._entries.get(key)
        if entry is None:
            return _MISS
        row, generation, stored = entry
        if (
            generation != self.feed.generation
            or self._clock() - stored > self.seconds
            or not self.feed.quiet()
        ):
            return _MISS
        return row

    def ticket(self) -> int:
        """Take before reading: a change heard before `put` makes the read too old to keep."""
        return self.feed.generation

    def put(self, key: Hashable, row: Any, ticket: int) -> None:
        if ticket != self.feed.generation or not self.feed.quiet():
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (row, ticket, self._clock())


MISS = _MISS
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
    """A cache for reads on `engine` when it is PostgreSQL through psycopg and `seconds` > 0;
    commits on `main` count as changes."""
    url = engine.url
    if seconds <= 0 or url.get_backend_name() != "postgresql" or url.get_driver_name() != "psycopg":
        return None
    feed = feed_for(engine, connect_args)
    event.listen(main, "commit", feed.bump)
    return ReadCache(feed, seconds, clock)
