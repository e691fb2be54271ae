"""A key's change lease: rotating or deleting a key holds it, so two admins changing the same
key at once get one change and one clear answer, never a second new key or an error page.

The lease is a named one (`app.infra.leases`, as scheduler leadership is): a compare-and-set that
needs no column on the key and works the same on SQLite and PostgreSQL; no database lock is held
while Factorial is asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select

from app.infra import leases
from app.models import ApiKey, AuditEvent
from app.services import DbSession
from app.services.keys.api_keys import ApiKeyError

# Longer than one rotation can run (gunicorn ends a request after GUNICORN_TIMEOUT, 60 s by
# default), short enough that a worker killed mid-rotation frees the key soon after.
KEY_LEASE = timedelta(minutes=5)


class KeyChanged(ApiKeyError):
    """Someone else rotated or deleted this key, or is doing so now; nothing was changed.
    `reason` is busy, rotated or deleted; `existing_id` is the key to show next, if any."""


@contextmanager
def exclusive(session: DbSession, key_id: int, now: datetime) -> Iterator[None]:
    """Hold the key's change lease for the block; KeyChanged("busy") if another request does."""
    name, owner = f"api_key:{key_id}", leases.owner_id()
    if not leases.hold(session, name, owner, now, KEY_LEASE):
        raise KeyChanged(
            "busy",
            "Someone else is rotating or deleting this key right now; nothing was changed. "
            "Reload in a moment to see the outcome.",
            existing_id=key_id,
        )
    try:
        yield
    finally:
        session.rollback()
        leases.let_go(session, name, owner)


def fresh(session: DbSession, key_id: int) -> ApiKey:
    """The key as stored now, not as an earlier read in this session saw it; KeyChanged saying
    what became of it when it is gone."""
    key = session.get(ApiKey, key_id, populate_existing=True)
    if key is None:
        raise _what_became_of(session, key_id)
    return key


def _what_became_of(session: DbSession, key_id: int) -> KeyChanged:
    deleted = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "api_key.deleted",
            AuditEvent.target_type == "api_key",
            AuditEvent.target_id == key_id,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    successor = deleted.details.get("rotated_to") if deleted is not None else None
    if isinstance(successor, int) and session.get(ApiKey, successor) is not None:
        message = (
            f"This key was already rotated: key #{successor} replaces it; nothing was changed."
        )
        return KeyChanged("rotated", message, existing_id=successor)
    return KeyChanged("deleted", "This key was deleted meanwhile; nothing was changed.")
