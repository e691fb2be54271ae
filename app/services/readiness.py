"""Readiness: may this process take traffic? Database reachable, schema at head, keys usable.

Reasons are short and safe to show: never a secret, a connection string or a driver message
(those carry host names and sometimes passwords); the details go to the log instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.infra import crypto

log = logging.getLogger(__name__)

PROBE = "readiness-probe"


@dataclass(frozen=True)
class Check:
    """One dependency's verdict; `reason` says why it failed, in a few safe words."""

    name: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if not check.ok)


def check_database(engine: Engine) -> Check:
    """`SELECT 1` on a pooled connection."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return Check("database", False, f"cannot connect ({type(exc).__name__})")
    return Check("database", True)


def code_heads(migrations_dir: Path | str) -> set[str]:
    """The head revision(s) of the migration scripts shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return set(ScriptDirectory.from_config(config).get_heads())


def database_heads(engine: Engine) -> set[str]:
    """The revision(s) alembic recorded in the database; empty before the first upgrade."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def check_migrations(engine: Engine, migrations_dir: Path | str) -> Check:
    """The database schema is exactly at the scripts' head (not behind, not ahead)."""
    try:
        expected = code_heads(migrations_dir)
        current = database_heads(engine)
    except Exception as exc:
        log.warning("readiness: cannot read migration state: %s", exc)
        return Check("migrations", False, f"cannot read revisions ({type(exc).__name__})")
    if current != expected:
        found = ", ".join(sorted(current)) or "none"
        reason = f"database at {found}, code expects {', '.join(sorted(expected))}"
        return Check("migrations", False, reason)
    return Check("migrations", True)


def check_keys(engine: Engine) -> Check:
    """The engine's encrypted columns have a key ring, and a value survives encrypt → decrypt."""
    try:
        ring = crypto.keyring_for(engine)
    except RuntimeError:
        return Check("keys", False, "encryption keys are not loaded")
    try:
        round_trip = ring.decrypt(ring.encrypt(PROBE))
    except Exception as exc:
        log.warning("readiness: encryption keys fail a round trip: %s", type(exc).__name__)
        return Check("keys", False, "encryption keys do not round-trip")
    if round_trip != PROBE:
        return Check("keys", False, "encryption keys do not round-trip")
    return Check("keys", True)


def readiness(engine: Engine, migrations_dir: Path | str) -> Readiness:
    """Every check, in order; migrations are only asked about when the database answers."""
    database = check_database(engine)
    migrations = (
        check_migrations(engine, migrations_dir)
        if database.ok
        else Check("migrations", False, "database unreachable")
    )
    return Readiness((database, migrations, check_keys(engine)))
