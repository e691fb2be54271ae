"""`flask` commands: create-admin, keys generate|secret-key|rotate, demo, tokens, service-clients.

`keys` is also a Flask plugin command (the `flask.commands` entry point in pyproject.toml), so
`flask keys generate` and `flask keys secret-key` work before any configuration exists: Flask
finds plugin commands without loading the app, and those two never load it.
"""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup

from app.cli.admins import create_admin_command
from app.cli.demo import demo_group
from app.cli.service_clients import service_clients_group
from app.cli.tokens import tokens_group
from app.infra import crypto
from app.infra.extensions import db
from app.services import encryption
from app.wiring import wiring


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_admin_command)
    app.cli.add_command(keys_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(service_clients_group)


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """New SECRET_KEY and TOKEN_ENCRYPTION_KEYS values; re-encryption after a key rotation."""


@keys_group.command("generate", with_appcontext=False)
def generate_key() -> None:
    """Print a new Fernet key for TOKEN_ENCRYPTION_KEYS (when rotating: first, then `rotate`)."""
    click.echo(crypto.generate_key())


@keys_group.command("secret-key", with_appcontext=False)
def generate_secret_key() -> None:
    """Print a new random SECRET_KEY (64 characters)."""
    click.echo(secrets.token_urlsafe(48))


@keys_group.command("rotate")
def rotate_keys() -> None:
    """Re-encrypt every stored secret with the first key in TOKEN_ENCRYPTION_KEYS (idempotent)."""
    report = encryption.rotate_all(db.session, wiring().keyring)
    click.echo(
        f"Re-encrypted {report.rotated} secret(s); {report.current} already current; "
        f"{report.undecryptable} undecryptable."
    )
    if report.undecryptable:
        raise click.ClickException(
            "Some secrets could not be decrypted with any configured key; keep the old keys "
            "until those connections are reconnected."
        )
