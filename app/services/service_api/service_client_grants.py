"""What a service client may use, after it was created: read, change, follow a rotated key.

The wildcard (`all_credentials`) and the specific grants are independent, so a client can go
from everything to a few credentials in one change, without a moment of no access. Every change
is audited in the transaction that makes it; a revoked client is granted nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.models import MAX_ID, ApiKey, Connection, ServiceClient, ServiceClientGrant
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.service_api.service_clients import ServiceClientError


@dataclass(frozen=True)
class Grants:
    """A set of grants: every credential (the wildcard) and/or these connections and keys."""

    all_credentials: bool = False
    connection_ids: frozenset[int] = field(default_factory=frozenset)
    api_key_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, *, everything: bool = False, connections: Iterable[int] = (), keys: Iterable[int] = ()
    ) -> Grants:
        return cls(everything, frozenset(connections), frozenset(keys))

    @property
    def empty(self) -> bool:
        return not (self.all_credentials or self.connection_ids or self.api_key_ids)

    def __or__(self, other: Grants) -> Grants:
        return Grants(
            self.all_credentials or other.all_credentials,
            self.connection_ids | other.connection_ids,
            self.api_key_ids | other.api_key_ids,
        )

    def __sub__(self, other: Grants) -> Grants:
        return Grants(
            self.all_credentials and not other.all_credentials,
            self.connection_ids - other.connection_ids,
            self.api_key_ids - other.api_key_ids,
        )

    def facts(self) -> dict[str, Any]:
        """The audit log's view: only the parts that are there."""
        out: dict[str, Any] = {"all_credentials": True} if self.all_credentials else {}
        if self.connection_ids:
            out["connections"] = sorted(self.connection_ids)
        if self.api_key_ids:
            out["api_keys"] = sorted(self.api_key_ids)
        return out

    def describe(self) -> str:
        """`every connection and API key, connection 4, API keys 7, 9`, or `nothing`."""
        parts = ["every connection and API key"] if self.all_credentials else []
        parts += [_ids("connection", self.connection_ids), _ids("API key", self.api_key_ids)]
        return ", ".join(p for p in parts if p) or "nothing"


@dataclass(frozen=True)
class GrantChange:
    """What one change granted and took back, and what the client may use after it."""

    added: Grants
    removed: Grants
    after: Grants

    @property
    def nothing(self) -> bool:
        return self.added.empty and self.removed.empty


def _ids(noun: str, ids: Iterable[int]) -> str:
    ordered = sorted(ids)
    if not ordered:
        return ""
    return f"{noun}{'s' if len(ordered) > 1 else ''} {', '.join(map(str, ordered))}"


def _rows(session: DbSession, client_id: int) -> list[ServiceClientGrant]:
    query = select(ServiceClientGrant).where(ServiceClientGrant.client_id == client_id)
    return list(session.scalars(query.order_by(ServiceClientGrant.id)))


def grants_of(session: DbSession, client: ServiceClient) -> Grants:
    rows = _rows(session, client.id)
    return Grants.of(
        everything=client.all_credentials,
        connections=(r.connection_id for r in rows if r.connection_id is not None),
        keys=(r.api_key_id for r in rows if r.api_key_id is not None),
    )


def granted_credentials(
    session: DbSession, client: ServiceClient
) -> tuple[list[Connection], list[ApiKey]]:
    """The connections and API keys granted one by one (the wildcard aside), in id order."""
    grants = grants_of(session, client)
    connections = session.scalars(
        select(Connection).where(Connection.id.in_(grants.connection_ids)).order_by(Connection.id)
    )
    keys = session.scalars(
        select(ApiKey).where(ApiKey.id.in_(grants.api_key_ids)).order_by(ApiKey.id)
    )
    return list(connections), list(keys)


def set_grants(
    session: DbSession, client: ServiceClient, wanted: Grants, deps: Deps, *, actor: Actor
) -> GrantChange:
    """Make the client's grants exactly `wanted` (what the Services page's form does)."""
    return _change(session, client, lambda _current: wanted, deps, actor=actor)


def add_grants(
    session: DbSession, client: ServiceClient, more: Grants, deps: Deps, *, actor: Actor
) -> GrantChange:
    """Grant `more` on top of what the client has; what it already had is no error."""
    return _change(session, client, lambda current: current | more, deps, actor=actor)


def remove_grants(
    session: DbSession, client: ServiceClient, fewer: Grants, deps: Deps, *, actor: Actor
) -> GrantChange:
    """Take back `fewer`; naming something the client was never granted is an error."""

    def without(current: Grants) -> Grants:
        require_existing(session, fewer)
        missing = fewer - current
        if not missing.empty:
            raise ServiceClientError(
                f"{client.name} (#{client.id}) was not granted {missing.describe()}; "
                "nothing was changed."
            )
        return current - fewer

    return _change(session, client, without, deps, actor=actor)


def _change(
    session: DbSession,
    client: ServiceClient,
    compute: Callable[[Grants], Grants],
    deps: Deps,
    *,
    actor: Actor,
) -> GrantChange:
    """Lock the client's row, compute the new grants from the current ones, store, audit and
    commit; a ServiceClientError leaves everything as it was."""
    try:
        session.refresh(client, with_for_update=True)  # one change to a client at a time
        current = grants_of(session, client)
        wanted = compute(current)
        change = GrantChange(wanted - current, current - wanted, wanted)
        if not change.added.empty and client.revoked_at is not None:
            raise ServiceClientError(
                f"{client.name} (#{client.id}) is revoked; a revoked client cannot be granted "
                "anything."
            )
        require_existing(session, change.added)
    except ServiceClientError:
        session.rollback()
        raise
    if change.nothing:
        session.rollback()
        return change
    _store(session, client, change, actor=actor, now=deps.clock())
    session.commit()
    return change


def require_existing(session: DbSession, grants: Grants) -> None:
    """ServiceClientError naming every connection and API key id that does not exist (its
    `field` is the form's list that names them: connections, else api_keys)."""
    found_connections = session.scalars(
        select(Connection.id).where(Connection.id.in_(_storable(grants.connection_ids)))
    )
    found_keys = session.scalars(
        select(ApiKey.id).where(ApiKey.id.in_(_storable(grants.api_key_ids)))
    )
    unknown = Grants.of(
        connections=grants.connection_ids - set(found_connections),
        keys=grants.api_key_ids - set(found_keys),
    )
    if not unknown.empty:
        field = "connections" if unknown.connection_ids else "api_keys"
        raise ServiceClientError(f"There is no {unknown.describe()}; nothing was changed.", field)


def _storable(ids: Iterable[int]) -> list[int]:
    """The ids a row can have; others (0, negative, past the database's integer) are unknown
    without asking, since PostgreSQL refuses to compare an integer column with them."""
    return [i for i in ids if 1 <= i <= MAX_ID]


def _store(
    session: DbSession, client: ServiceClient, change: GrantChange, *, actor: Actor, now: datetime
) -> None:
    client.all_credentials = change.after.all_credentials
    for row in _rows(session, client.id):
        if row.connection_id in change.removed.connection_ids or (
            row.api_key_id in change.removed.api_key_ids
        ):
            session.delete(row)
    for connection_id in sorted(change.added.connection_ids):
        session.add(ServiceClientGrant(client_id=client.id, connection_id=connection_id))
    for key_id in sorted(change.added.api_key_ids):
        session.add(ServiceClientGrant(client_id=client.id, api_key_id=key_id))
    for action, grants in (
        ("service_client.granted", change.added),
        ("service_client.grant_revoked", change.removed),
    ):
        if not grants.empty:
            audit.record(
                session, action, now=now, actor=actor, target=client, details=grants.facts()
            )


def move_api_key_grants(
    session: DbSession, old_id: int, new_id: int, *, actor: Actor, now: datetime
) -> list[int]:
    """Every grant of API key `old_id` now names `new_id` (audited per client); not committed,
    so it lands in the transaction that replaces the key. Returns the clients' ids."""
    g = ServiceClientGrant
    holders = set(session.scalars(select(g.client_id).where(g.api_key_id == new_id)))
    moved: list[int] = []
    grants = session.scalars(select(g).where(g.api_key_id == old_id).order_by(g.client_id)).all()
    for grant in grants:
        if grant.client_id in holders:
            session.delete(grant)
        else:
            grant.api_key_id = new_id
            holders.add(grant.client_id)
        moved.append(grant.client_id)
        audit.record(
            session, "service_client.grant_moved", now=now, actor=actor, target=grant.client,
            message=f"API key #{old_id} was rotated; the grant moved to its replacement #{new_id}.",
            details={"from_api_key": old_id, "to_api_key": new_id},
        )  # fmt: skip
    session.flush()
    return moved
