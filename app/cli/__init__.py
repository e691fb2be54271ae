"""`flask` commands: create-admin, keys generate|secret-key|rotate, demo bootstrap, tokens.

`keys` is also a Flask plugin command (the `flask.commands` entry point in pyproject.toml), so
`flask keys generate` and `flask keys secret-key` work before any configuration exists: Flask
finds plugin commands without loading the app, and those two never load it.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from pathlib import Path

import click
from dotenv import dotenv_values
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.cli.service_clients import service_clients_group
from app.infra import crypto
from app.infra.extensions import db
from app.infra.settings import Settings
from app.models import Admin
from app.services import encryption
from app.services.audit import Actor
from app.services.people import admins

CLI = Actor("cli", None, "flask command line")


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_admin_command)
    app.cli.add_command(keys_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(service_clients_group)


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
    settings: Settings = current_app.extensions["settings"]
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
    report = encryption.rotate_all(db.session)
    click.echo(
        f"Re-encrypted {report.rotated} secret(s); {report.current} already current; "
        f"{report.undecryptable} undecryptable."
    )
    if report.undecryptable:
        raise click.ClickException(
            "Some secrets could not be decrypted with any configured key; keep the old keys "
            "until those connections are reconnected."
        )


@click.group("demo", cls=AppGroup)
def demo_group() -> None:
    """Helpers for APP_ENV=demo (`make run`)."""


@demo_group.command("bootstrap")
def demo_bootstrap() -> None:
    """Ensure a demo admin exists and print how to sign in (demo mode only)."""
    if current_app.extensions["settings"].app_env != "demo":
        raise click.ClickException("demo bootstrap only runs with APP_ENV=demo")
    path = Path(current_app.instance_path) / "demo-admin.json"
    stored = json.loads(path.read_text()) if path.exists() else None
    if admins.count_admins(db.session) == 0:
        stored = {"email": "admin@example.com", "password": secrets.token_urlsafe(12)}
        admins.create_admin(db.session, stored["email"], stored["password"], "admin")
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    if stored and db.session.query(Admin).filter_by(email=stored["email"]).first():
        click.echo(f"Demo admin: {stored['email']}  password: {stored['password']}")
    else:
        click.echo("Admins already exist; sign in with one of them.")


DOTENV_MARK = "# Written by `make run`: flask commands in this checkout reach the demo."
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _env_pairs(
    ctx: click.Context, param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not ENV_NAME.fullmatch(name):
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE")
        wanted[name] = value
    return wanted


@demo_group.command("dotenv", with_appcontext=False)
@click.argument("pairs", nargs=-1, required=True, callback=_env_pairs)
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"))
def demo_dotenv(pairs: dict[str, str], path: Path) -> None:
    """Make `flask` commands here reach the demo: write (or update) `make run`'s own .env with
    the NAME=VALUE pairs; any other .env is left alone, and the lines it lacks are printed."""
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old is not None and not old.startswith(DOTENV_MARK + "\n"):
        found = dotenv_values(path)
        missing = [f"    {k}={v}" for k, v in pairs.items() if found.get(k) != v]
        if missing:
            click.echo(f"{path} is not make run's; for `flask --app wsgi …` here to reach")
            click.echo("the demo, add or change:\n" + "\n".join(missing))
        return
    new = _our_dotenv(old or "", pairs)
    if new != old:
        path.write_text(new, encoding="utf-8")
        verb = "Wrote" if old is None else "Updated"
        click.echo(
            f"{verb} {path} ({', '.join(pairs)}): `flask --app wsgi …` here reaches the demo."
        )


def _our_dotenv(old: str, pairs: dict[str, str]) -> str:
    """The mark, the pairs, then whatever else someone added to the file since."""
    kept = [line for line in old.splitlines()[1:] if line.split("=", 1)[0].strip() not in pairs]
    return "\n".join([DOTENV_MARK, *(f"{k}={v}" for k, v in pairs.items()), *kept]) + "\n"


@click.group("tokens", cls=AppGroup)
def tokens_group() -> None:
    """Keep tokens alive: refresh what is due, run the sweep worker, show status."""


@tokens_group.command("refresh-due")
@click.option("--concurrency", default=8, show_default=True, help="Refreshes in parallel.")
def refresh_due(concurrency: int) -> None:
    """Run one sweep now (for cron); does nothing if another sweeper is the leader."""
    from app.infra import leases as locks
    from app.refresh import scheduler as sweeper

    report = sweeper.sweep_once(current_app._get_current_object(), locks.owner_id(), concurrency)  # type: ignore[attr-defined]
    if report is None:
        click.echo("Another sweeper holds the lease; nothing done.")
        return
    click.echo(report.summary())


@tokens_group.command("worker")
def worker() -> None:
    """Sweep every SWEEP_INTERVAL until SIGTERM/SIGINT; finishes the sweep in progress first."""
    import signal
    import threading

    from app.refresh import scheduler as sweeper

    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        click.echo(f"Received signal {signum}; stopping after the current sweep.")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("Sweep worker started.")
    sweeper.run_forever(current_app._get_current_object(), stop)  # type: ignore[attr-defined]
    click.echo("Sweep worker stopped.")


@tokens_group.command("status")
def status() -> None:
    """A table of connections, their status and token expiry."""
    from datetime import timedelta

    from app.models import utcnow
    from app.services import connections

    now = utcnow()
    margin = timedelta(seconds=current_app.extensions["settings"].refresh_margin)
    rows = connections.list_connections(db.session)
    click.echo(f"{'ID':>5}  {'ENV':<10} {'KIND':<8} {'OWNER':<28} {'STATUS':<16} EXPIRES (UTC)")
    for c in rows:
        expires = c.expires_at.strftime("%Y-%m-%d %H:%M:%S") if c.expires_at else "never"
        label = connections.status_of(c, now, margin).label
        click.echo(
            f"{c.id:>5}  {c.environment:<10} {c.kind:<8} {c.owner_label[:28]:<28} "
            f"{label:<16} {expires}"
        )
    click.echo(f"{len(rows)} connection(s).")


@tokens_group.command("refresh")
@click.argument("connection_id", type=int)
def refresh_one(connection_id: int) -> None:
    """Refresh one connection now, even if it is not due."""
    from app.models import utcnow
    from app.refresh import tokens
    from app.services.notify import Notifier
    from app.wiring import client_factory, policy_from

    settings = current_app.extensions["settings"]
    outcome = tokens.refresh_connection(
        db.session,
        client_factory(settings),
        connection_id,
        clock=utcnow,
        policy=policy_from(settings),
        notifier=Notifier(settings.notify_webhook_url, settings.notify_webhook_secret),
        force=True,
    )
    click.echo(f"Connection {connection_id}: {outcome.result}. {outcome.message}".strip())
    if not outcome.ok:
        raise SystemExit(1)
