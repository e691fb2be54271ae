"""Service clients: authenticate a bearer, what it may see, revoke (creating one and the grants
it holds are in `service_client_creations` and `service_client_grants`).

A secret reads `fcs_<id>_<random>`: the id finds the row without a scan, and only the sha256 of
the random part is stored. The random part has 256 bits, so a fast hash is the right one (a
slow password hash would only slow every API call); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, exists, select

from app.models import MAX_ID, ApiKey, Connection, ServiceClient, ServiceClientGrant
from app.refresh.lifecycle import connection_identity
from app.services import DbSession, audit, connections
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.keys import api_keys

PREFIX = "fcs"
NAME_LIMIT = 120
SECRET_LIMIT = 200


class ServiceClientError(Exception):
    """Creating a client stopped; `message` is safe to show, `field` names what it is about
    (name, scopes, reach, connections, api_keys)."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def digest(random_part: str) -> str:
    return hashlib.sha256(random_part.encode()).hexdigest()


_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,9}")


def parse_secret(raw: str) -> tuple[int, str] | None:
    """(client id, random part) of a well-formed secret, else None: ASCII throughout (only
    then are its digits ASCII: `str.isdigit` accepts "²", which int() refuses), and an id
    written canonically that a database can hold."""
    if not raw or len(raw) > SECRET_LIMIT or not raw.isascii():
        return None
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not _CANONICAL_ID.fullmatch(parts[1]):
        return None
    client_id = int(parts[1])
    return (client_id, parts[2]) if parts[2] and client_id <= MAX_ID else None


@dataclass(frozen=True)
class Caller:
    """An authenticated client as the API needs it: read in one narrow query per request."""

    id: int
    name: str
    scopes: frozenset[str]
    all_credentials: bool

    @property
    def label(self) -> str:
        return f"service {self.name} (#{self.id})"


_c = ServiceClient.__table__.c
# What authentication reads, labelled so other queries can carry it along (`vend.ApiReads`).
CLIENT_COLUMNS = tuple(
    column.label(f"client_{column.name}")
    for column in (_c.name, _c.secret_digest, _c.scopes, _c.all_credentials, _c.revoked_at)
)


def caller_from(row: Any, parsed: tuple[int, str]) -> Caller | None:
    """The client from a row with `CLIENT_COLUMNS` (or None) when the secret matches and the
    client is not revoked."""
    client_id, random_part = parsed
    if row is None or row.client_secret_digest is None:
        return None
    if not hmac.compare_digest(row.client_secret_digest, digest(random_part)):
        return None
    if row.client_revoked_at is not None:
        return None
    scopes = frozenset(row.client_scopes.split())
    return Caller(client_id, row.client_name, scopes, row.client_all_credentials)


def revoke(session: DbSession, client: ServiceClient, deps: Deps, *, actor: Actor) -> bool:
    """Disable the client for good (its secret stops working at once); False if it already was."""
    if client.revoked_at is not None:
        return False
    now = deps.clock()
    client.revoked_at = now
    audit.record(session, "service_client.revoked", now=now, actor=actor, target=client)
    session.commit()
    return True


def grant_exists(client_id: Any, kind: str, credential_id: Any) -> Exists:
    """SQL: a grant gives this client this connection (`kind="connection"`) or API key. Either
    side may be a value or a column, so the same test serves inside larger queries."""
    g = ServiceClientGrant.__table__.c
    column = g.connection_id if kind == "connection" else g.api_key_id
    return exists().where(g.client_id == client_id, column == credential_id)


def may_use(session: DbSession, caller: Caller, kind: str, credential_id: int) -> bool:
    """Whether the caller's grants cover this connection (`kind="connection"`) or API key."""
    if caller.all_credentials:
        return True
    return bool(session.scalar(select(grant_exists(caller.id, kind, credential_id))))


def visible_connections(session: DbSession, client: Caller) -> list[Connection]:
    query = select(Connection).order_by(Connection.id)
    if not client.all_credentials:
        granted = select(ServiceClientGrant.connection_id).where(
            ServiceClientGrant.client_id == client.id
        )
        query = query.where(Connection.id.in_(granted))
    return list(session.scalars(query))


def visible_api_keys(session: DbSession, client: Caller) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not client.all_credentials:
        granted = select(ServiceClientGrant.api_key_id).where(
            ServiceClientGrant.client_id == client.id
        )
        query = query.where(ApiKey.id.in_(granted))
    return list(session.scalars(query))


def list_clients(session: DbSession) -> list[ServiceClient]:
    query = select(ServiceClient).order_by(ServiceClient.revoked_at.is_not(None), ServiceClient.id)
    return list(session.scalars(query))


def get_client(session: DbSession, client_id: int) -> ServiceClient | None:
    client: ServiceClient | None = session.get(ServiceClient, client_id)
    return client


def actor_for(client: Caller) -> Actor:
    """How the audit log names a service client (admins' id column stays empty)."""
    return Actor("service", None, client.label)


def describe_connection(connection: Connection, now: datetime, margin: timedelta) -> dict[str, Any]:
    """What a service may know about a connection: identity, status and expiry, never a token."""
    status = connections.status_of(connection, now, margin)
    return {
        **connection_identity(connection),
        "status": {"code": status.code, "label": status.label, "detail": status.detail},
        "expires_at": _iso(connection.expires_at),
        "last_used_at": _iso(connection.last_used_at),
    }


def describe_api_key(key: ApiKey) -> dict[str, Any]:
    """What a service may know about an API key: its masked fingerprint at most."""
    status = api_keys.status_of(key)
    return {
        "id": key.id,
        "environment": key.environment,
        "label": key.label,
        "company_id": key.company_id,
        "company_name": key.company_name,
        "fingerprint": key.fingerprint,
        "status": {"code": status.code, "label": status.label},
        "last_verified_at": _iso(key.last_verified_at),
        "last_used_at": _iso(key.last_used_at),
    }


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
