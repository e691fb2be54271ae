"""The one wait: while another process holds a connection's lease, read (never write) until
it is given back, then act — refresh, or check a rejected token (`rejections`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from app.models import Connection
from app.refresh.lifecycle import reload
from app.refresh.protocol import refresh_connection
from app.refresh.rules import RefreshOutcome, is_due, leased, refreshable, usable
from app.services import DbSession
from app.services.audit import SYSTEM, Actor
from app.services.deps import Deps

T = TypeVar("T")
POLL = 0.05  # seconds between two reads of a leased row


def patiently(act: Callable[[], T], busy: Callable[[T], bool], wait: float) -> T:
    """`act` until it is not `busy` (another process holds the lease) or `wait` seconds have
    passed; each try reads the row before it writes, so waiting costs reads only."""
    deadline = time.monotonic() + wait
    while True:
        answer = act()
        if not busy(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(POLL)


Fresh = tuple[Connection | None, RefreshOutcome]


def fresh_token(
    session: DbSession, connection_id: int, deps: Deps, *, actor: Actor = SYSTEM
) -> Fresh:
    """The connection with a usable token: refreshed first if due, or after waiting out a
    sibling's lease (up to `deps.wait`)."""
    return patiently(
        lambda: _once(session, connection_id, deps, actor),
        lambda fresh: fresh[1].result == "busy",
        deps.wait,
    )


def _once(session: DbSession, connection_id: int, deps: Deps, actor: Actor) -> Fresh:
    """Read the row; refresh when due and nobody holds the lease; busy while someone does."""
    connection = reload(session, connection_id)
    now = deps.clock()
    if connection is None:
        session.rollback()
        return None, RefreshOutcome("not_refreshable", connection_id, "No such connection.")
    held = leased(connection, now)
    wanted = is_due(connection, now, deps.policy) or bool(connection.attempt_id)
    settled = not refreshable(connection) or not (held or wanted)
    result = "fresh" if usable(connection, now) else "not_refreshable"
    session.commit()
    if settled or held:
        return connection, RefreshOutcome(result if settled else "busy", connection_id)
    outcome = refresh_connection(session, connection_id, deps, actor=actor)
    return reload(session, connection_id), outcome
