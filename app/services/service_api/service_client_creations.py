"""New service clients: `create` (the secret is returned once), and from the admin's form one
client per form, its secret shown once.

The form carries a random id. Its first submission creates the client and, keyed by the sha256
of that id, a creation record holding the secret encrypted; the browser is then sent to a page
named by the form id, which shows the secret once and forgets it. Submitting the same form again
(a reload, a double click, Back and submit) finds the record and creates nothing, and its page
says so without the secret. The secret never enters a URL, a cookie or a flash message, and is
kept (encrypted, like every token) for at most `REVEAL_WINDOW`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.infra.crypto import Secret, Undecryptable
from app.models import SCOPES, ServiceClient, ServiceClientCreation, ServiceClientGrant
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.service_api.service_client_grants import Grants, require_existing
from app.services.service_api.service_clients import (
    NAME_LIMIT,
    PREFIX,
    ServiceClientError,
    digest,
)

REVEAL_WINDOW = timedelta(minutes=10)
# How long a form stays recognised as used: long past any reload or Back.
RETAIN = timedelta(days=1)
FORM_ID_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")


def new_form_id() -> str:
    return secrets.token_urlsafe(24)


def valid_form_id(form_id: str) -> bool:
    return bool(FORM_ID_RE.fullmatch(form_id))


def _hash(form_id: str) -> str:
    return hashlib.sha256(form_id.encode()).hexdigest()


def _creation(session: DbSession, form_id: str) -> ServiceClientCreation | None:
    query = select(ServiceClientCreation).where(ServiceClientCreation.form_hash == _hash(form_id))
    found: ServiceClientCreation | None = session.scalar(query)
    return found


def _forget_old(session: DbSession, now: datetime) -> None:
    """Secrets past the reveal window are dropped; records past `RETAIN` are deleted."""
    table = ServiceClientCreation
    session.execute(delete(table).where(table.created_at < now - RETAIN))
    session.execute(
        update(table)
        .where(table.secret.is_not(None), table.created_at < now - REVEAL_WINDOW)
        .values(secret=None)
        .execution_options(synchronize_session=False)
    )


def create(
    session: DbSession,
    deps: Deps,
    *,
    name: str,
    scopes: Iterable[str],
    connection_ids: Iterable[int] = (),
    api_key_ids: Iterable[int] = (),
    all_credentials: bool = False,
    actor: Actor,
) -> tuple[ServiceClient, str]:
    """Store a new client and return it with its secret; the secret exists nowhere else after
    this call. Granting nothing and not `all_credentials` is refused (it could do nothing)."""
    grants = Grants.of(everything=all_credentials, connections=connection_ids, keys=api_key_ids)
    client, secret = add(session, deps, name=name, scopes=scopes, grants=grants, actor=actor)
    session.commit()
    return client, secret


def add(
    session: DbSession,
    deps: Deps,
    *,
    name: str,
    scopes: Iterable[str],
    grants: Grants,
    actor: Actor,
) -> tuple[ServiceClient, str]:
    """`create`, flushed and audited but not committed: the caller commits it with whatever
    must be stored in the same transaction. With the wildcard, specific grants are not kept."""
    clean_name = " ".join(name.split())[:NAME_LIMIT]
    if not clean_name:
        raise ServiceClientError("Give the service a name.")
    scope_text = _clean_scopes(scopes)
    if grants.all_credentials:
        grants = Grants.of(everything=True)
    if grants.empty:
        raise ServiceClientError(
            "Choose the connections or API keys it may use, or all of them.", "reach"
        )
    require_existing(session, grants)
    random_part, now = secrets.token_urlsafe(32), deps.clock()
    client = ServiceClient(
        name=clean_name, secret_digest=digest(random_part), scopes=scope_text,
        all_credentials=grants.all_credentials,
        created_by_id=actor.id if actor.kind == "admin" else None, created_at=now,
        grants=[ServiceClientGrant(connection_id=c) for c in sorted(grants.connection_ids)]
        + [ServiceClientGrant(api_key_id=k) for k in sorted(grants.api_key_ids)],
    )  # fmt: skip
    session.add(client)
    session.flush()
    audit.record(
        session, "service_client.created", now=now, actor=actor, target=client,
        details={"scopes": scope_text, "all_credentials": grants.all_credentials,
                 "connections": sorted(grants.connection_ids),
                 "api_keys": sorted(grants.api_key_ids)},
    )  # fmt: skip
    return client, f"{PREFIX}_{client.id}_{random_part}"


def _clean_scopes(scopes: Iterable[str]) -> str:
    chosen = {s.strip() for s in scopes if s.strip()}
    unknown = chosen - set(SCOPES)
    if unknown:
        raise ServiceClientError(
            f"Unknown scope {sorted(unknown)[0]!r}; use {', '.join(SCOPES)}.", "scopes"
        )
    if not chosen:
        raise ServiceClientError("Choose at least one scope.", "scopes")
    return " ".join(s for s in SCOPES if s in chosen)


def create_once(
    session: DbSession,
    form_id: str,
    deps: Deps,
    *,
    name: str,
    scopes: Iterable[str],
    grants: Grants,
    actor: Actor,
) -> ServiceClient:
    """The client this form creates: made (and committed) at its first submission, the same one
    at every later submission, which creates nothing. ServiceClientError for a refused client or
    a malformed form id (`field` "form")."""
    if not valid_form_id(form_id) or actor.id is None:
        raise ServiceClientError("This form is incomplete; reload it and try again.", "form")
    now = deps.clock()
    _forget_old(session, now)
    existing = _creation(session, form_id)
    if existing is not None:
        session.commit()
        return existing.client
    client, secret = add(session, deps, name=name, scopes=scopes, grants=grants, actor=actor)
    session.add(
        ServiceClientCreation(
            form_hash=_hash(form_id), client_id=client.id, admin_id=actor.id,
            secret=Secret(secret), created_at=now,
        )
    )  # fmt: skip
    try:
        session.commit()
    except IntegrityError:  # the same form, submitted at the same moment, got there first
        session.rollback()
        existing = _creation(session, form_id)
        if existing is None:
            raise
        return existing.client
    return client


@dataclass(frozen=True)
class Reveal:
    """The client a form created, with its secret the first time only (else None)."""

    client: ServiceClient
    secret: str | None


def reveal(session: DbSession, form_id: str, deps: Deps, *, admin_id: int) -> Reveal | None:
    """What the page after the form shows: the client and, once and within `REVEAL_WINDOW`,
    its secret, which is then forgotten (committed). None for an unknown form id or one used
    by another admin."""
    if not valid_form_id(form_id):
        return None
    creation = _creation(session, form_id)
    if creation is None or creation.admin_id != admin_id:
        return None
    now = deps.clock()
    stored, secret = creation.secret, None
    if stored is not None and now - creation.created_at >= REVEAL_WINDOW:
        creation.secret = None
    elif stored is not None and _claim(session, creation, now):
        secret = _plain(stored)
    session.commit()
    return Reveal(creation.client, secret)


def _claim(session: DbSession, creation: ServiceClientCreation, now: datetime) -> bool:
    """Take the secret out of storage unless a concurrent request already did (compare-and-set:
    two reloads at once show it at most once)."""
    claimed = session.execute(
        update(ServiceClientCreation)
        .where(ServiceClientCreation.id == creation.id, ServiceClientCreation.shown_at.is_(None))
        .values(shown_at=now, secret=None)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _plain(stored: Secret) -> str | None:
    """The plaintext, or None when the keys that encrypted it were removed meanwhile."""
    try:
        return stored.reveal()
    except Undecryptable:
        return None
