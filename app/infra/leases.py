"""Database leases: one compare-and-set, whatever the lease guards.

A lease lives in two columns of a row, its holder and its expiry (`Slot`): a connection's own
row (refresh, revoke, the check after a 401) or a named row of `leases` (sweep leadership, an
API key's change). Taking is one UPDATE that succeeds only while the lease is vacant, expired or
already the taker's (so taking again renews it); giving back, again only while it is ours,
empties a connection's holder and deletes a named row. Both behave the same on SQLite and
PostgreSQL, and no database lock is held while the holder talks to Factorial.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Column, Row, Update, bindparam, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from app.models import Connection, Lease

AnySession: TypeAlias = Session | scoped_session[Any]


@dataclass(frozen=True, eq=False)
class Slot:
    """Where one kind of lease lives: the key, holder and expiry columns of a table."""

    key: Column[Any]
    owner: Column[Any]
    expires: Column[Any]
    plain: Update = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", self.take_statement().returning(self.key))

    def vacated(self) -> dict[str, Any]:
        """Column values of a given-back lease, for a statement that also writes others."""
        return {self.owner.key: "", self.expires.key: None}

    def take_statement(self) -> Update:
        """The compare-and-set on row `b_key` for `b_owner` until `b_until`, judged at `b_now`.
        A caller may add values and RETURNING to it (build it once: building costs more than
        running it), so that one round trip takes the lease and reads what the taker needs."""
        expires = self.expires
        return (
            update(self.key.table)
            .where(
                self.key == bindparam("b_key"),
                or_(
                    expires.is_(None),
                    expires <= bindparam("b_now"),
                    self.owner == bindparam("b_owner"),
                ),
            )
            .values({self.owner: bindparam("b_owner"), expires: bindparam("b_until")})
        )


# A connection's lease: refresh, revoke and the check after a 401 take turns on the row.
CONNECTION = Slot(
    Connection.__table__.c.id,
    Connection.__table__.c.lease_owner,
    Connection.__table__.c.lease_expires_at,
)
# Named leases (`sweep`, `api_key:<id>`): a row while held, none once given back.
NAMED = Slot(Lease.__table__.c.name, Lease.__table__.c.owner, Lease.__table__.c.expires_at)


def owner_id() -> str:
    """Unique per process and call site: host, pid and a random suffix."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


def take(
    session: AnySession,
    slot: Slot,
    key: Any,
    owner: str,
    now: datetime,
    ttl: timedelta,
    statement: Update | None = None,
    **params: Any,
) -> Row[Any] | None:
    """Take (or renew) the lease on `key` until now + ttl: the row `statement` (one built on
    `slot.take_statement()`, given its own `params`) returns, or None while another holder
    has it. Not committed."""
    if not owner:
        raise ValueError("a lease owner is never empty: the empty owner means vacant")
    params.update(b_key=key, b_owner=owner, b_now=now, b_until=now + ttl)
    chosen = slot.plain if statement is None else statement
    return session.connection().execute(chosen, params).first()


def hold(session: AnySession, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the named lease, creating its row the first time; commits."""
    if take(session, NAMED, name, owner, now, ttl) is not None:
        session.commit()
        return True
    session.rollback()
    try:
        session.add(Lease(name=name, owner=owner, expires_at=now + ttl))
        session.commit()
    except IntegrityError:  # the row exists: someone else holds the lease
        session.rollback()
        return False
    return True


def let_go(session: AnySession, name: str, owner: str) -> None:
    """Give the named lease back (if still ours); commits."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))
    session.commit()
