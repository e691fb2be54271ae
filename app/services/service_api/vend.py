"""Handing access tokens to service clients.

`token_for` is the token endpoint's one use case. A token is handed out straight from the row
read with the caller (`ApiReads`: one prepared query, remembered while the database proves
nothing changed) when the client may have it and it is usable and not due; otherwise it goes through
the single-flight refresh (`waiting.fresh_token`), so any number of concurrent callers cause one
refresh, or the refusal says why (NotFound, NotGranted, Unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Select, String, bindparam, or_, select, type_coerce

from app.infra.read_cache import MISS, ReadCache
from app.infra.reads import PreparedRead
from app.models import MAX_ID, ApiKey, Connection, ServiceClient
from app.refresh import waiting
from app.refresh.policy import RefreshPolicy
from app.refresh.rules import is_due, usable
from app.services import DbSession, connections
from app.services.audit import Actor
from app.services.deps import Deps
from app.services.service_api import service_clients
from app.services.service_api.service_clients import Caller


@dataclass(frozen=True)
class Vended:
    access_token: str
    token_type: str
    expires_at: datetime | None


class Unavailable(Exception):
    """No usable token: `reason` is machine-readable (needs_reconnect, revoked, revoke_pending,
    refresh_failed, expired, undecryptable); `cause` refines needs_reconnect."""

    def __init__(self, reason: str, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.cause = reason, message, cause


class NotFound(Exception):
    """No such credential; `kind` is connection or api_key."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"No such {kind.replace('_', ' ')}.")
        self.kind = kind


class NotGranted(Exception):
    """The credential exists, but no grant gives it to this client."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"This client may not use that {kind}.")
        self.kind = kind


def unavailable(connection: Connection, now: datetime, margin: timedelta) -> Unavailable:
    """Why this connection's token cannot be handed out, from its derived status."""
    token = connection.access_token
    if token is not None and not token.readable:
        return Unavailable("undecryptable", "The stored token cannot be decrypted.")
    status = connections.status_of(connection, now, margin)
    if status.code == "needs_reconnect":
        cause = connection.needs_reconnect_cause or "revoked"
        return Unavailable("needs_reconnect", f"Needs reconnect: {status.detail}", cause)
    if status.code in ("revoked", "revoke_pending", "expired"):
        return Unavailable(status.code, status.detail or status.label)
    return Unavailable("refresh_failed", status.detail or "The token could not be refreshed.")


def granted(session: DbSession, caller: Caller, kind: str, credential_id: int) -> Any:
    """The connection (`kind="connection"`) or API key this caller may use; else NotFound or
    NotGranted."""
    model = Connection if kind == "connection" else ApiKey
    row = session.get(model, credential_id) if credential_id <= MAX_ID else None
    if row is None:
        raise NotFound(kind)
    if not service_clients.may_use(session, caller, kind, credential_id):
        raise NotGranted(kind)
    return row


def _peek_query() -> Select[Any]:
    c, client = Connection.__table__.c, ServiceClient.__table__
    granted = or_(
        client.c.all_credentials, service_clients.grant_exists(client.c.id, "connection", c.id)
    )
    stored = (
        c.id, c.access_token, c.token_type, c.expires_at, c.refresh_token_issued_at,
        c.needs_reconnect_cause, c.revoked_at, c.revoke_requested_at, c.attempt_id,
        # Whether a refresh token exists is all `is_due` asks: skip decrypting it.
        type_coerce(c.refresh_token, String).label("refresh_token"),
    )  # fmt: skip
    joined = client.outerjoin(Connection.__table__, c.id == bindparam("connection_id"))
    return (
        select(*service_clients.CLIENT_COLUMNS, granted.label("granted"), *stored)
        .select_from(joined)
        .where(client.c.id == bindparam("client_id"))
    )


_CLIENT = PreparedRead(
    select(*service_clients.CLIENT_COLUMNS).where(
        ServiceClient.__table__.c.id == bindparam("client_id")
    )
)
_PEEK = PreparedRead(_peek_query())


@dataclass(frozen=True)
class Bearer(Caller):
    """A caller read together with the connection its request names: `stored` is that row
    (`granted`, the token's columns; `id` None when there is no such connection)."""

    connection_id: int = 0
    stored: Any = None


class ApiReads:
    """The service API's reads on every call: the client a bearer secret names, with the stored
    token and grant of the connection the request names, in one prepared read
    (`app.infra.reads`). With a `cache`, the rows of authenticated clients are remembered until
    anything they hold changes (`app.infra.read_cache`): a change is seen by the next call in
    any process on SQLite, once its notice arrives on PostgreSQL."""

    def __init__(self, engine: Engine, cache: ReadCache | None) -> None:
        self.engine = engine
        self.cache = cache

    def caller(self, raw_secret: str, connection_id: int | None = None) -> Caller | None:
        """The active client this bearer secret belongs to, or None (malformed, unknown,
        wrong, revoked); a `Bearer` holding the stored token when a connection is named.
        Only the rows of clients the secret authenticates are remembered."""
        parsed = service_clients.parse_secret(raw_secret)
        if parsed is None:
            return None
        read, key, values = (
            (_CLIENT, parsed[0], {"client_id": parsed[0]})
            if connection_id is None
            else (_PEEK, (parsed[0], connection_id),
                  {"client_id": parsed[0], "connection_id": connection_id})
        )  # fmt: skip
        row, ticket = (MISS, None) if self.cache is None else self.cache.get(key)
        fresh = row is MISS
        if fresh:
            row = read.first(self.engine, **values)
        found = service_clients.caller_from(row, parsed)
        if found is None:
            return None
        if fresh and self.cache is not None:
            self.cache.put(key, row, ticket)
        if connection_id is None:
            return found
        return Bearer(found.id, found.name, found.scopes, found.all_credentials, connection_id, row)


def token_for(session: DbSession, caller: Caller, connection_id: int, deps: Deps) -> Vended:
    """The token the caller asks for: straight from what was read with the caller (`Bearer`)
    when granted, usable and not due (no write, no session); else the full path (`vend_token`),
    which refreshes or says why not (NotFound, NotGranted, Unavailable)."""
    named = isinstance(caller, Bearer) and caller.connection_id == connection_id
    row = cast(Bearer, caller).stored if named else None
    if row is not None and row.id is not None and row.granted:
        stored = cast(Connection, row)
        if _ready(stored, deps.clock(), deps.policy):
            return _vended(stored)
    connection = granted(session, caller, "connection", connection_id)
    return vend_token(session, connection, deps, actor=service_clients.actor_for(caller))


def _ready(connection: Connection, now: datetime, policy: RefreshPolicy) -> bool:
    return (
        usable(connection, now)
        and not is_due(connection, now, policy)
        and not connection.attempt_id
    )


def _vended(connection: Connection) -> Vended:
    assert connection.access_token is not None
    return Vended(
        connection.access_token.reveal(), connection.token_type or "Bearer", connection.expires_at
    )


def vend_token(session: DbSession, connection: Connection, deps: Deps, *, actor: Actor) -> Vended:
    """A usable token for `connection`, refreshed first (single flight) when due; else
    Unavailable."""
    now = deps.clock()
    if _ready(connection, now, deps.policy):
        return _vended(connection)
    fresh, _ = waiting.fresh_token(session, connection.id, deps, actor=actor)
    now = deps.clock()
    current = fresh or connection
    if fresh is None or not usable(fresh, now):
        raise unavailable(current, now, deps.policy.margin)
    return _vended(fresh)
