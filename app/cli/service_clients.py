"""`flask service-clients create|list|revoke|grants|grant|revoke-grant`: the same services the
Services page calls."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from app.infra.extensions import db
from app.models import SCOPES, ServiceClient
from app.services.audit import Actor
from app.services.service_api import (
    service_client_creations,
    service_client_grants,
    service_clients,
)
from app.services.service_api.service_client_grants import GrantChange, Grants
from app.wiring import wiring

CLI_ACTOR = Actor("cli", None, "command line")


@click.group("service-clients", cls=AppGroup)
def service_clients_group() -> None:
    """Service clients: the systems that fetch tokens from this app's API."""


@service_clients_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="token:read and/or proxy (repeat); default token:read.",
)
@click.option("--connection", "connection_ids", multiple=True, type=int, help="Repeatable.")
@click.option("--api-key", "api_key_ids", multiple=True, type=int, help="Repeatable.")
def create(
    name: str,
    scopes: tuple[str, ...],
    connection_ids: tuple[int, ...],
    api_key_ids: tuple[int, ...],
) -> None:
    """Create a client and print its secret once. Without --connection/--api-key it may use
    every connection and API key."""
    chosen = bool(connection_ids or api_key_ids)
    try:
        client, secret = service_client_creations.create(
            db.session,
            wiring().deps,
            name=name,
            scopes=scopes or ("token:read",),
            connection_ids=connection_ids,
            api_key_ids=api_key_ids,
            all_credentials=not chosen,
            actor=CLI_ACTOR,
        )
    except service_clients.ServiceClientError as exc:
        raise click.ClickException(exc.message) from None
    reach = "only the granted credentials" if chosen else "every connection and API key"
    click.echo(f"Created service client {client.id} ({client.name}); scopes: {client.scopes}.")
    click.echo(f"It may use {reach}.")
    click.echo("Secret (shown only now; store it in the service's secret store):", err=True)
    click.echo(secret)


@service_clients_group.command("list")
def list_clients() -> None:
    """Id, name, scopes, reach, last use and state of every client (never a secret)."""
    for client in service_clients.list_clients(db.session):
        used = client.last_used_at.isoformat(timespec="seconds") if client.last_used_at else "never"
        reach = "all" if client.all_credentials else f"{len(client.grants)} grant(s)"
        state = "active" if client.active else "revoked"
        click.echo(f"{client.id:>5}  {client.name[:30]:<30} {client.scopes:<18} {reach:<12} "
                   f"{used:<25} {state}")  # fmt: skip


@service_clients_group.command("revoke")
@click.argument("client_id", type=int)
def revoke(client_id: int) -> None:
    """Disable a client for good; its secret stops working at once."""
    client = service_clients.get_client(db.session, client_id)
    if client is None:
        raise click.ClickException(f"There is no service client {client_id}.")
    changed = service_clients.revoke(db.session, client, wiring().deps, actor=CLI_ACTOR)
    click.echo(f"Revoked {client.name}." if changed else f"{client.name} was already revoked.")


def _client(client_id: int) -> ServiceClient:
    client = service_clients.get_client(db.session, client_id)
    if client is None:
        raise click.ClickException(f"There is no service client {client_id}.")
    return client


@service_clients_group.command("grants")
@click.argument("client_id", type=int)
def show_grants(client_id: int) -> None:
    """What a client may use: every credential, and/or each granted connection and API key."""
    client = _client(client_id)
    state = "active" if client.active else "revoked"
    click.echo(f"{client.name} (#{client.id}), {state}; scopes: {client.scopes}.")
    connections, keys = service_client_grants.granted_credentials(db.session, client)
    if client.all_credentials:
        click.echo("  every connection and API key, present and future")
    for c in connections:
        click.echo(f"  connection {c.id:<6} {c.owner_label} ({c.kind}, {c.environment})")
    for k in keys:
        click.echo(f"  API key {k.id:<9} {k.label} {k.fingerprint} ({k.environment})")
    if not (client.all_credentials or connections or keys):
        click.echo("  nothing: every call it makes for a credential is refused")


_GRANT_OPTIONS = (
    click.argument("client_id", type=int),
    click.option("--connection", "connection_ids", multiple=True, type=int, help="Repeatable."),
    click.option("--api-key", "api_key_ids", multiple=True, type=int, help="Repeatable."),
    click.option("--all", "everything", is_flag=True, help="Every connection and API key."),
)


def _grant_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_GRANT_OPTIONS):
        command = option(command)
    return command


def _chosen(
    everything: bool, connection_ids: tuple[int, ...], api_key_ids: tuple[int, ...]
) -> Grants:
    chosen = Grants.of(everything=everything, connections=connection_ids, keys=api_key_ids)
    if chosen.empty:
        raise click.UsageError("Name at least one --connection, --api-key or --all.")
    return chosen


def _report(client: ServiceClient, change: GrantChange) -> None:
    if change.nothing:
        click.echo(f"Nothing changed for {client.name} (#{client.id}).")
    if not change.added.empty:
        click.echo(f"Granted {client.name} (#{client.id}) {change.added.describe()}.")
    if not change.removed.empty:
        click.echo(f"Took back from {client.name} (#{client.id}) {change.removed.describe()}.")
    click.echo(f"It may now use {change.after.describe()}.")
    if change.after.empty:
        click.echo("Every call it makes for a credential is refused until something is granted.")


@service_clients_group.command("grant")
@_grant_options
def grant(
    client_id: int, connection_ids: tuple[int, ...], api_key_ids: tuple[int, ...], everything: bool
) -> None:
    """Let a client use more connections or API keys (--all: every one); what it has stays."""
    client = _client(client_id)
    more = _chosen(everything, connection_ids, api_key_ids)
    try:
        change = service_client_grants.add_grants(
            db.session, client, more, wiring().deps, actor=CLI_ACTOR
        )
    except service_clients.ServiceClientError as exc:
        raise click.ClickException(exc.message) from None
    _report(client, change)


@service_clients_group.command("revoke-grant")
@_grant_options
def revoke_grant(
    client_id: int, connection_ids: tuple[int, ...], api_key_ids: tuple[int, ...], everything: bool
) -> None:
    """Take back connections or API keys; --all takes back "every connection and API key" (the
    ones granted one by one stay)."""
    client = _client(client_id)
    fewer = _chosen(everything, connection_ids, api_key_ids)
    try:
        change = service_client_grants.remove_grants(
            db.session, client, fewer, wiring().deps, actor=CLI_ACTOR
        )
    except service_clients.ServiceClientError as exc:
        raise click.ClickException(exc.message) from None
    _report(client, change)
