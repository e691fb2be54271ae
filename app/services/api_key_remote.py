"""API keys through Factorial's legacy keys API: create, list, delete there, and rotate.

Every call is authorised by a stored key of the same company (the key itself first, when it
still works). A created key is shown by Factorial only once, so it is committed with its audit
event before anything else happens. Rotation never leaves the company with zero stored valid
keys: each step that fails stops there and keeps what already works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from app.factorial import (
    CreatedApiKey,
    CredentialInfo,
    FactorialClient,
    FactorialError,
    NotFound,
    Unauthorized,
)
from app.factorial.errors import sanitize
from app.models import ApiKey
from app.services import DbSession, audit, notify
from app.services.api_keys import (
    ApiKeyError,
    ClientFactory,
    clean_label,
    delete_local,
    facts,
    new_row,
    verify,
)
from app.services.audit import Actor

log = logging.getLogger(__name__)
T = TypeVar("T")


class RemoteFailed(ApiKeyError):
    """Factorial's keys API failed; `step` says which step of a longer operation it was."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(step, message)
        self.step = step


@dataclass(frozen=True)
class RemoteKey:
    """A key Factorial lists, and the stored key it is here (None when this app lacks it)."""

    id: str
    name: str
    created_at: str | None
    held_by: ApiKey | None


@dataclass(frozen=True)
class RotateResult:
    new_key: ApiKey
    complete: bool
    message: str


def authorities(
    session: DbSession, environment: str, company_id: str, prefer: ApiKey | None
) -> list[ApiKey]:
    """Stored keys that may speak for the company: `prefer` first, verified ones next."""
    query = select(ApiKey).where(
        ApiKey.environment == environment,
        ApiKey.company_id == company_id,
        ApiKey.rejected_since.is_(None),
    )
    keys = sorted(session.scalars(query), key=lambda k: (k.last_verified_result != "ok", k.id))
    if prefer is not None and prefer.rejected_since is None:
        keys = [prefer, *[k for k in keys if k.id != prefer.id]]
    return [k for k in keys if k.key.readable]


def _with_authority(
    session: DbSession,
    clients: ClientFactory,
    candidates: list[ApiKey],
    call: Callable[[FactorialClient, str], T],
    *,
    step: str,
    now: datetime,
) -> tuple[T, ApiKey]:
    """Run `call` with the first candidate Factorial accepts; RemoteFailed otherwise."""
    if not candidates:
        raise RemoteFailed(step, "No working key of this company is stored to authorise this.")
    for authority in candidates:
        try:
            with clients(authority.environment) as client:
                value = call(client, authority.key.reveal())
        except KeyError:
            raise RemoteFailed(step, "That environment is not configured.") from None
        except Unauthorized:
            continue
        except FactorialError as exc:
            if isinstance(exc, NotFound) and step.startswith("delete"):
                raise
            detail = sanitize(exc.message, redact=[k.key.reveal() for k in candidates])
            raise RemoteFailed(step, f"Factorial's keys API failed: {detail}") from None
        authority.last_used_at = now
        return value, authority
    raise RemoteFailed(step, "Factorial rejected every stored key of this company.")


def list_remote(
    session: DbSession, clients: ClientFactory, key: ApiKey, *, now: datetime
) -> list[RemoteKey]:
    """The company's keys in Factorial, each marked with the stored key it is (if any)."""
    candidates = authorities(session, key.environment, key.company_id, key)
    remote, _ = _with_authority(
        session, clients, candidates, lambda c, k: c.list_api_keys(k), step="list", now=now
    )
    stored = session.scalars(
        select(ApiKey).where(
            ApiKey.environment == key.environment, ApiKey.company_id == key.company_id
        )
    ).all()
    by_id = {k.remote_key_id: k for k in stored if k.remote_key_id}
    by_digest = {k.key_digest: k for k in stored}
    session.commit()
    return [
        RemoteKey(
            r.id, r.name, r.created_at, by_id.get(r.id) or by_digest.get(r.token_digest or "")
        )
        for r in remote
    ]


def create(
    session: DbSession,
    clients: ClientFactory,
    notifier: notify.Notifier,
    *,
    company_of: ApiKey,
    label: str,
    actor: Actor,
    now: datetime,
) -> ApiKey:
    """Create a key in Factorial for `company_of`'s company, store it at once, then verify it."""
    name = clean_label(label)
    if not name:
        raise ApiKeyError("label", "Give the new key a label.")
    candidates = authorities(session, company_of.environment, company_of.company_id, company_of)
    created, authority = _with_authority(
        session, clients, candidates, lambda c, k: c.create_api_key(k, name), step="create", now=now
    )
    row = _store_created(session, clients, created, authority, name, actor, now)
    verify(session, clients, notifier, row, now=now, actor=actor)
    return row


def _store_created(
    session: DbSession,
    clients: ClientFactory,
    created: CreatedApiKey,
    authority: ApiKey,
    label: str,
    actor: Actor,
    now: datetime,
    **extra: object,
) -> ApiKey:
    info = CredentialInfo(
        id="", company_id=authority.company_id, kind="api_key", employee_id=None, email=None,
        full_name=None, company_name=authority.company_name, role=None, raw_keys=(),
    )  # fmt: skip
    row = new_row(authority.environment, label, created.token, info, actor, now)
    row.remote_key_id = created.id[:64]
    session.add(row)
    try:
        session.flush()
        audit.record(
            session, "api_key.created", now=now, actor=actor, target=row,
            details={**facts(row), **extra},
        )  # fmt: skip
        session.commit()
    except Exception:
        session.rollback()
        log.error("could not store API key %s created in Factorial; deleting it", created.id)
        _delete_quietly(clients, authority, created)
        raise
    log.info("API key %s created in Factorial as %s", row.id, created.id)
    return row


def _delete_quietly(clients: ClientFactory, authority: ApiKey, created: CreatedApiKey) -> None:
    """Leave no unreachable key with total access behind when storing it failed."""
    try:
        with clients(authority.environment) as client:
            client.delete_api_key(created.token, created.id)
    except FactorialError:
        log.error("API key %s exists in Factorial but is not stored; delete it there", created.id)


def delete(
    session: DbSession,
    clients: ClientFactory,
    key: ApiKey,
    *,
    actor: Actor,
    now: datetime,
    in_factorial: bool,
) -> None:
    """Delete in Factorial first (when asked and it was created here), then here."""
    if in_factorial:
        if not key.remote_key_id:
            raise ApiKeyError(
                "not_created_here", "This key was not created here; delete it in Factorial."
            )
        _delete_in_factorial(
            session, clients, key, key.remote_key_id, prefer=key, now=now, step="delete"
        )
    delete_local(session, key, actor=actor, now=now, deleted_in_factorial=in_factorial)


def _delete_in_factorial(
    session: DbSession,
    clients: ClientFactory,
    key: ApiKey,
    remote_id: str,
    *,
    prefer: ApiKey,
    now: datetime,
    step: str,
) -> None:
    candidates = authorities(session, key.environment, key.company_id, prefer)
    try:
        _with_authority(
            session, clients, candidates, lambda c, k: c.delete_api_key(k, remote_id),
            step=step, now=now,
        )  # fmt: skip
    except NotFound:
        log.info("API key %s was already gone in Factorial", key.id)


def _remote_id(
    session: DbSession, clients: ClientFactory, key: ApiKey, now: datetime
) -> str | None:
    """The key's id in Factorial; None when it is already gone there (rejected, unlisted)."""
    if key.remote_key_id:
        return key.remote_key_id
    for remote in list_remote(session, clients, key, now=now):
        if remote.held_by is not None and remote.held_by.id == key.id:
            return remote.id
    if key.rejected_since is not None:
        return None
    raise RemoteFailed("resolve", "Factorial does not list this key, so it cannot be rotated here.")


def rotate(
    session: DbSession,
    clients: ClientFactory,
    notifier: notify.Notifier,
    key: ApiKey,
    *,
    actor: Actor,
    now: datetime,
) -> RotateResult:
    """New key (created, stored, verified), then the old one deleted there and here.

    RemoteFailed before anything changed; otherwise a result whose `complete` is False when a
    later step failed and both keys are kept.
    """
    remote_id = _remote_id(session, clients, key, now)
    candidates = authorities(session, key.environment, key.company_id, key)
    created, authority = _with_authority(
        session,
        clients,
        candidates,
        lambda c, k: c.create_api_key(k, key.label),
        step="create",
        now=now,
    )
    new = _store_created(
        session, clients, created, authority, key.label, actor, now, rotated_from=key.id
    )
    if verify(session, clients, notifier, new, now=now, actor=actor) != "ok":
        return _incomplete(
            session,
            key,
            new,
            actor,
            now,
            f"The new key could not be verified ({new.last_error}); "
            "the old key is kept and still works.",
        )
    try:
        if remote_id is not None:
            _delete_in_factorial(
                session, clients, key, remote_id, prefer=new, now=now, step="delete_old"
            )
    except RemoteFailed as exc:
        return _incomplete(
            session,
            key,
            new,
            actor,
            now,
            f"The new key works, but deleting the old one in Factorial failed ({exc.message}); "
            "both are kept: delete the old one when Factorial answers.",
        )
    audit.record(
        session, "api_key.rotated", now=now, actor=actor, target=new,
        details={**facts(new), "old_key_id": key.id, "old_fingerprint": key.fingerprint},
    )  # fmt: skip
    delete_local(session, key, actor=actor, now=now, rotated_to=new.id)
    return RotateResult(new, True, "Rotated: the new key works and the old one is deleted.")


def _incomplete(
    session: DbSession, old: ApiKey, new: ApiKey, actor: Actor, now: datetime, message: str
) -> RotateResult:
    if new.last_verified_result == "ok":
        old.replaced_by_id = new.id
    audit.record(
        session, "api_key.rotate_incomplete", now=now, actor=actor, target=old, outcome="failed",
        message=message, details={"new_key_id": new.id},
    )  # fmt: skip
    session.commit()
    log.warning("rotation of API key %s incomplete; new key %s kept", old.id, new.id)
    return RotateResult(new, False, message)
