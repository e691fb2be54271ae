"""`flask create-admin`: the first account, and break-glass ones, from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.infra.extensions import db
from app.services.audit import Actor
from app.services.people import admins
from app.wiring import wiring

CLI = Actor("cli", None, "flask command line")


@click.command("create-admin")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="admin", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--break-glass",
    is_flag=True,
    help="Keep its password usable with PASSWORD_LOGIN=off (for when the identity provider is "
    "down); implied when PASSWORD_LOGIN=off.",
)
@with_appcontext
def create_admin_command(email: str, role: str, password_stdin: bool, break_glass: bool) -> None:
    """Create an account that can sign in (admins change things, viewers read)."""
    settings = wiring().settings
    break_glass = break_glass or not settings.password_login
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        admin = admins.create_admin(
            db.session, email, password, role, actor=CLI, break_glass=break_glass
        )
    except admins.AdminError as exc:
        raise click.ClickException(str(exc)) from None
    kind = "break-glass " if admin.break_glass else ""
    click.echo(f"Created {kind}{admin.role} {admin.email}.")
