"""`flask tokens refresh-due|worker|status|refresh`: keep tokens alive from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask.cli import AppGroup

from app.infra.extensions import db
from app.wiring import wiring

if TYPE_CHECKING:
    from app.refresh.scheduler import Sweeper


@click.group("tokens", cls=AppGroup)
def tokens_group() -> None:
    """Keep tokens alive: refresh what is due, run the sweep worker, show status."""


@tokens_group.command("refresh-due")
@click.option("--concurrency", default=8, show_default=True, help="Refreshes in parallel.")
def refresh_due(concurrency: int) -> None:
    """Run one sweep now (for cron); does nothing if another sweeper is the leader."""
    from app.refresh import scheduler

    report = scheduler.sweep_once(_sweeper(concurrency))
    if report is None:
        click.echo("Another sweeper holds the lease; nothing done.")
        return
    click.echo(report.summary())


@tokens_group.command("worker")
def worker() -> None:
    """Sweep every SWEEP_INTERVAL until SIGTERM/SIGINT; finishes the sweep in progress first."""
    import signal
    import threading

    from app.refresh import scheduler

    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        click.echo(f"Received signal {signum}; stopping after the current sweep.")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("Sweep worker started.")
    scheduler.run_forever(_sweeper(), stop)
    click.echo("Sweep worker stopped.")


@tokens_group.command("status")
def status() -> None:
    """A table of connections, their status and token expiry."""
    from datetime import timedelta

    from app.models import utcnow
    from app.services import connections

    now = utcnow()
    margin = timedelta(seconds=wiring().settings.refresh_margin)
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
    from app.refresh import protocol

    outcome = protocol.refresh_connection(db.session, connection_id, wiring().deps, force=True)
    click.echo(f"Connection {connection_id}: {outcome.result}. {outcome.message}".strip())
    if not outcome.ok:
        raise SystemExit(1)


def _sweeper(concurrency: int = 8) -> Sweeper:
    """What the scheduler needs from this app: its engine, Deps and sweep settings."""
    from app.refresh.scheduler import sweeper_for

    wired = wiring()
    return sweeper_for(db.engine, wired.deps, wired.settings, concurrency)
