"""Database leases: a named lease for scheduler leadership; connection leases live on the row.

Both are compare-and-set updates, which behave the same on SQLite and PostgreSQL; no database
lock is held while the holder talks to Factorial.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from app.models import Lease
from app.services import DbSession


def owner_id() -> str:
    """Unique per process and call site: host, pid and a random suffix."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


def try_acquire(session: DbSession, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Take or extend the lease `name` if it is free, expired or already ours; commits."""
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.expires_at < now) | (Lease.owner == owner))
        .values(owner=owner, expires_at=now + ttl)
    )
    if renewed.rowcount == 1:  # type: ignore[attr-defined]
        session.commit()
        return True
    session.rollback()
    try:
        session.add(Lease(name=name, owner=owner, expires_at=now + ttl))
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def release(session: DbSession, name: str, owner: str) -> None:
    session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))
    session.commit()
