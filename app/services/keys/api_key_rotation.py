"""Rotating an API key: a new key created, stored and verified, then the old one deleted in
Factorial and here, and the service clients granted the old key moved to the new one.

Rotation never leaves the company with zero stored valid keys: each step that fails stops there
and keeps what already works. It holds the key's change lease, so a second admin rotating (or
deleting) the same key meanwhile is told so, instead of creating a second new key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.models import ApiKey
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.keys.api_key_lease import KeyChanged, exclusive, fresh
from app.services.keys.api_key_remote import (
    RemoteFailed,
    authorities,
    delete_in_factorial,
    list_remote,
    store_created,
    with_authority,
)
from app.services.keys.api_key_verification import verify
from app.services.keys.api_keys import delete_local, facts
from app.services.service_api import service_client_grants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RotateResult:
    new_key: ApiKey
    complete: bool
    message: str


def rotate(session: DbSession, key_id: int, deps: Deps, *, actor: Actor) -> RotateResult:
    """New key (created, stored, verified), then the old one deleted there and here.

    RemoteFailed before anything changed; KeyChanged when the key is being or was already
    rotated or deleted; otherwise a result whose `complete` is False when a later step failed
    and both keys are kept.
    """
    with exclusive(session, key_id, deps.clock()):
        key = fresh(session, key_id)
        if key.replaced_by_id is not None:
            raise KeyChanged(
                "rotated",
                f"This key was already rotated: key #{key.replaced_by_id} replaces it; nothing "
                "was changed. Delete this one once Factorial answers.",
                existing_id=key.replaced_by_id,
            )
        return _rotate(session, key, deps, actor)


def _remote_id(session: DbSession, key: ApiKey, deps: Deps) -> str | None:
    """The key's id in Factorial; None when it is already gone there (rejected, unlisted)."""
    if key.remote_key_id:
        return key.remote_key_id
    for remote in list_remote(session, key, deps):
        if remote.held_by is not None and remote.held_by.id == key.id:
            return remote.id
    if key.rejected_since is not None:
        return None
    raise RemoteFailed("resolve", "Factorial does not list this key, so it cannot be rotated here.")


def _rotate(session: DbSession, key: ApiKey, deps: Deps, actor: Actor) -> RotateResult:
    remote_id = _remote_id(session, key, deps)
    candidates = authorities(session, key.environment, key.company_id, key)
    created, authority = with_authority(
        deps, candidates, lambda c, k: c.create_api_key(k, key.label), step="create"
    )
    new = store_created(
        session, created, authority, deps, label=key.label, actor=actor, rotated_from=key.id
    )
    if verify(session, new, deps, actor=actor) != "ok":
        reason = f"The new key could not be verified ({new.last_error}); "
        return _incomplete(
            session, deps, key, new, actor, reason + "the old key is kept and still works."
        )
    try:
        if remote_id is not None:
            delete_in_factorial(session, key, remote_id, deps, prefer=new, step="delete_old")
    except RemoteFailed as exc:
        return _incomplete(
            session, deps, key, new, actor,
            f"The new key works, but deleting the old one in Factorial failed ({exc.message}); "
            "both are kept: delete the old one when Factorial answers.",
        )  # fmt: skip
    return _complete(session, deps, key, new, actor)


def _complete(
    session: DbSession, deps: Deps, old: ApiKey, new: ApiKey, actor: Actor
) -> RotateResult:
    """One transaction: the grants move, the rotation is audited, the old key is deleted."""
    now = deps.clock()
    moved = service_client_grants.move_api_key_grants(session, old.id, new.id, actor=actor, now=now)
    audit.record(
        session, "api_key.rotated", now=now, actor=actor, target=new,
        details={**facts(new), "old_key_id": old.id, "old_fingerprint": old.fingerprint,
                 "service_clients": moved},
    )  # fmt: skip
    delete_local(session, old, actor=actor, now=now, rotated_to=new.id)
    return RotateResult(new, True, "Rotated: the new key works and the old one is deleted.")


def _incomplete(
    session: DbSession, deps: Deps, old: ApiKey, new: ApiKey, actor: Actor, message: str
) -> RotateResult:
    """Both keys kept. A new key that works replaces the old one at once (its grants move to
    it); the old one only waits to be deleted in Factorial."""
    now = deps.clock()
    moved: list[int] = []
    if new.last_verified_result == "ok":
        old.replaced_by_id = new.id
        moved = service_client_grants.move_api_key_grants(
            session, old.id, new.id, actor=actor, now=now
        )
    audit.record(
        session, "api_key.rotate_incomplete", now=now, actor=actor, target=old, outcome="failed",
        message=message, details={"new_key_id": new.id, "service_clients": moved},
    )  # fmt: skip
    session.commit()
    log.warning("rotation of API key %s incomplete; new key %s kept", old.id, new.id)
    return RotateResult(new, False, message)
