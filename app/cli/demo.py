"""`flask demo bootstrap|dotenv`: helpers for APP_ENV=demo (`make run`)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import click
from dotenv import dotenv_values
from flask import current_app
from flask.cli import AppGroup

from app.infra.extensions import db
from app.models import Admin
from app.services.people import admins
from app.wiring import wiring


@click.group("demo", cls=AppGroup)
def demo_group() -> None:
    """Helpers for APP_ENV=demo (`make run`)."""


@demo_group.command("bootstrap")
def demo_bootstrap() -> None:
    """Ensure a demo admin exists and print how to sign in (demo mode only)."""
    if wiring().settings.app_env != "demo":
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
