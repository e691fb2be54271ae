"""API keys through Factorial's legacy keys API: create, list and delete there (rotation, built
on these, is in `api_key_rotation`).

Every call is authorised by a stored key of the same company (the key itself first, when it
still works). A created key is shown by Factorial only once, so it is committed with its audit
event before anything else happens. Deleting or rotating a key holds the key's change lease, so
two admins changing the same key at once get one change and one clear answer.
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
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.keys.api_key_lease import exclusive, fresh
from app.services.keys.api_key_verification import verify
from app.services.keys.api_keys import ApiKeyError, clean_label, delete_local, facts, new_row

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


def with_authority(
    deps: Deps,
    candidates: list[ApiKey],
    call: Callable[[FactorialClient, str], T],
    *,
    step: str,
) -> tuple[T, ApiKey]:
    """Run `call` with the first candidate Factorial accepts; RemoteFailed otherwise."""
    if not candidates:
        raise RemoteFailed(step, "No working key of this company is stored to authorise this.")
    for authority in candidates:
        try:
            with deps.clients(authority.environment) as client:
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
        authority.last_used_at = deps.clock()
        return value, authority
    raise RemoteFailed(step, "Factorial rejected every stored key of this company.")


def list_remote(session: DbSession, key: ApiKey, deps: Deps) -> list[RemoteKey]:
    """The company's keys in Factorial, each marked with the stored key it is (if any)."""
    candidates = authorities(session, key.environment, key.company_id, key)
    remote, _ = with_authority(deps, candidates, lambda c, k: c.list_api_keys(k), step="list")
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
    session: DbSession, deps: Deps, *, company_of: ApiKey, label: str, actor: Actor
) -> ApiKey:
    """Create a key in Factorial for `company_of`'s company, store it at once, then verify it."""
    name = clean_label(label)
    if not name:
        raise ApiKeyError("label", "Give the new key a label.")
    candidates = authorities(session, company_of.environment, company_of.company_id, company_of)
    created, authority = with_authority(
        deps, candidates, lambda c, k: c.create_api_key(k, name), step="create"
    )
    row = store_created(session, created, authority, deps, label=name, actor=actor)
    verify(session, row, deps, actor=actor)
    return row


def store_created(
    session: DbSession,
    created: CreatedApiKey,
    authority: ApiKey,
    deps: Deps,
    *,
    label: str,
    actor: Actor,
    **extra: object,
) -> ApiKey:
    """Store a key Factorial just created (audited, committed); if that fails, delete it there."""
    now = deps.clock()
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
        _delete_quietly(deps, authority, created)
        raise
    log.info("API key %s created in Factorial as %s", row.id, created.id)
    return row


def _delete_quietly(deps: Deps, authority: ApiKey, created: CreatedApiKey) -> None:
    """Leave no unreachable key with total access behind when storing it failed."""
    try:
        with deps.clients(authority.environment) as client:
            client.delete_api_key(created.token, created.id)
    except FactorialError:
        log.error("API key %s exists in Factorial but is not stored; delete it there", created.id)


def delete(
    session: DbSession, key_id: int, deps: Deps, *, actor: Actor, in_factorial: bool
) -> ApiKey:
    """Delete in Factorial first (when asked and it was created here), then here; returns the
    deleted key (detached, for its label and fingerprint)."""
    now = deps.clock()
    with exclusive(session, key_id, now):
        key = fresh(session, key_id)
        _delete(session, key, deps, actor, now, in_factorial)
        return key


def _delete(
    session: DbSession, key: ApiKey, deps: Deps, actor: Actor, now: datetime, in_factorial: bool
) -> None:
    if in_factorial:
        if not key.remote_key_id:
            raise ApiKeyError(
                "not_created_here", "This key was not created here; delete it in Factorial."
            )
        delete_in_factorial(session, key, key.remote_key_id, deps, prefer=key, step="delete")
    delete_local(session, key, actor=actor, now=now, deleted_in_factorial=in_factorial)


def delete_in_factorial(
    session: DbSession, key: ApiKey, remote_id: str, deps: Deps, *, prefer: ApiKey, step: str
) -> None:
    """Delete `key` in Factorial, authorised by `prefer` first; already gone there is fine."""
    candidates = authorities(session, key.environment, key.company_id, prefer)
    try:
        with_authority(deps, candidates, lambda c, k: c.delete_api_key(k, remote_id), step=step)
    except NotFound:
        log.info("API key %s was already gone in Factorial", key.id)
