"""`flask service-clients create|list|revoke`: the same services the Services page calls."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.models import SCOPES, utcnow
from app.services import service_clients
from app.services.audit import Actor

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
        client, secret = service_clients.create(
            db.session,
            name=name,
            scopes=scopes or ("token:read",),
            connection_ids=connection_ids,
            api_key_ids=api_key_ids,
            all_credentials=not chosen,
            actor=CLI_ACTOR,
            now=utcnow(),
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
    changed = service_clients.revoke(db.session, client, actor=CLI_ACTOR, now=utcnow())
    click.echo(f"Revoked {client.name}." if changed else f"{client.name} was already revoked.")
