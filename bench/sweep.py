"""Benchmark: 10,000 connections due, refreshed by the sweep against the sandbox.

Prints connections refreshed per second, token requests made (must equal the connection count),
failures (must be 0), and the ratio to the sandbox's own token-endpoint throughput with the same
concurrency (target >= 0.9): how much the sweep adds on top of the provider. On a shared machine
the sandbox's rate drifts by half from one minute to the next, so the connections fall due in
--rounds batches, and the sandbox alone is measured before, between and after them: both rates
are read over the same stretch of time.
Run by hand: `.venv/bin/python bench/sweep.py [--connections N] [--concurrency C] [--rounds R]`.
Set BENCH_DATABASE_URL to run against PostgreSQL instead of a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app import create_app
from app.factorial import FactorialClient, TokenResponse
from app.infra.extensions import db
from app.models import Connection, utcnow
from app.refresh import sweep
from app.services.connection_store import token_values
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.conftest import reset_postgres

REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
T = TypeVar("T")


def grant(client: FactorialClient, sandbox: SandboxServer) -> TokenResponse:
    """One real user grant at the sandbox: consent, then the code exchange."""
    url = client.authorization_url(state=client.new_state(), kind="user", code_verifier=None)
    code = parse_qs(urlsplit(sandbox.approve(url, 1002)).query)["code"][0]
    return client.exchange_code(code, code_verifier=None)


def grants(
    client: FactorialClient, sandbox: SandboxServer, count: int, workers: int
) -> list[TokenResponse]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: grant(client, sandbox), range(count)))


def sandbox_throughput(client: FactorialClient, pairs: list[TokenResponse], workers: int) -> float:
    """Refreshes per second the sandbox itself sustains with this concurrency (no app around)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda pair: client.refresh(pair.refresh_token or ""), pairs))
    return len(pairs) / (time.perf_counter() - started)


def seed(app: Flask, pairs: list[TokenResponse]) -> list[int]:
    """One connection per pair, none due yet; their ids in order."""
    now = utcnow()
    rows = [
        {
            "environment": "demo",
            "kind": "user",
            "company_id": "1",
            "employee_id": f"bench-{number}",
            "created_at": now,
            "updated_at": now,
            **token_values(pair, now),
        }
        for number, pair in enumerate(pairs)
    ]
    with app.app_context():
        db.session.execute(insert(Connection), rows)
        db.session.commit()
        ids = list(db.session.scalars(select(Connection.id).order_by(Connection.id)))
        db.session.remove()
    return ids


def make_due(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        due = update(Connection).where(Connection.id.in_(ids)).values(expires_at=utcnow())
        db.session.execute(due)
        db.session.commit()
        db.session.remove()


@dataclass
class Figures:
    """Sweep and sandbox-alone work, summed over the rounds."""

    outcomes: Counter[str] = field(default_factory=Counter)
    sweep_seconds: float = 0.0
    requests: int = 0
    concurrency: int = 8
    alone: list[float] = field(default_factory=list)  # sandbox-alone rates, per slice
    rounds: list[float] = field(default_factory=list)  # sweep rates, per round

    @property
    def rate(self) -> float:
        return self.outcomes["refreshed"] / self.sweep_seconds

    @property
    def baseline(self) -> float:
        return sum(self.alone) / len(self.alone)


def sweep_round(app: Flask, sandbox: SandboxServer, ids: list[int], figures: Figures) -> None:
    """Make `ids` due and sweep them once, counting the token requests it makes."""
    make_due(app, ids)
    with app.app_context():
        engine = db.engine
    before = sandbox.counts()["token"].get("refresh_token", 0)
    started = time.perf_counter()
    report = sweep.run_sweep(
        lambda: Session(engine),
        wiring(app).deps,
        health_every=timedelta(days=1),
        concurrency=figures.concurrency,
    )
    seconds = time.perf_counter() - started
    figures.requests += sandbox.counts()["token"].get("refresh_token", 0) - before
    figures.outcomes.update(report.outcomes)
    figures.sweep_seconds += seconds
    figures.rounds.append(report.outcomes.get("refreshed", 0) / seconds)


def chunks(items: list[T], count: int) -> list[list[T]]:
    """`items` in `count` consecutive slices of near-equal length."""
    n = len(items)
    return [items[i * n // count : (i + 1) * n // count] for i in range(count)]


def measure(app: Flask, sandbox: SandboxServer, args: argparse.Namespace) -> Figures:
    """Seed, then alternate: the sandbox alone, a round of the sweep, ..., the sandbox alone."""
    client = FactorialClient(wiring(app).settings.environments["demo"])
    print(f"seeding {args.connections + args.baseline} grants at the sandbox…", flush=True)
    pairs = grants(client, sandbox, args.connections + args.baseline, args.concurrency)
    ids = seed(app, pairs[: args.connections])
    figures = Figures(concurrency=args.concurrency)
    spare = chunks(pairs[args.connections :], args.rounds + 1)
    figures.alone.append(sandbox_throughput(client, spare[0], args.concurrency))
    for batch, alone in zip(chunks(ids, args.rounds), spare[1:], strict=True):
        sweep_round(app, sandbox, batch, figures)
        figures.alone.append(sandbox_throughput(client, alone, args.concurrency))
    return figures


def report(database: str, args: argparse.Namespace, figures: Figures) -> None:
    failures = sum(n for outcome, n in figures.outcomes.items() if outcome != "refreshed")
    print(f"database:                 {database.split(':')[0]}")
    print(f"concurrency:              {args.concurrency}")
    print(f"connections due:          {args.connections} in {args.rounds} rounds")
    print(f"refreshed:                {figures.outcomes['refreshed']} in "
          f"{figures.sweep_seconds:.1f} s")  # fmt: skip
    print(f"refreshed per second:     {figures.rate:.0f} "
          f"(rounds: {', '.join(f'{r:.0f}' for r in figures.rounds)})")  # fmt: skip
    print(f"token requests made:      {figures.requests}")
    print(f"failures:                 {failures}  {dict(figures.outcomes)}")
    print(f"sandbox alone, per second:{figures.baseline:.0f} "
          f"(slices: {', '.join(f'{r:.0f}' for r in figures.alone)})")  # fmt: skip
    print(f"ratio (target >= 0.9):    {figures.rate / figures.baseline:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if database.startswith("postgresql"):
        reset_postgres(database)  # a second run would otherwise collide with the first's rows
    with SandboxServer(redirect_uris=[REDIRECT_URI]) as sandbox:
        app = create_app(
            {
                "APP_ENV": "test",
                "INSTANCE_PATH": str(workdir),
                "SCHEDULER": "off",
                "DATABASE_URL": database,
                "LOG_LEVEL": "WARNING",
                "FACTORIAL_DEMO_BASE_URL": sandbox.url,
                "FACTORIAL_DEMO_REDIRECT_URI": REDIRECT_URI,
                "FACTORIAL_DEMO_PKCE": "false",
            }
        )
        with app.app_context():
            upgrade()
        figures = measure(app, sandbox, args)
    report(database, args, figures)


if __name__ == "__main__":
    main()
