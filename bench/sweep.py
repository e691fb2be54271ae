"""Benchmark: 10,000 connections due at once, refreshed by one sweep against the sandbox.

Prints connections refreshed per second, token requests made (must equal the connection count),
failures (must be 0), and the ratio to the sandbox's own token-endpoint throughput measured in
the same run with the same concurrency, just before and just after the sweep (target ≥ 0.8):
how much the sweep adds on top of the provider.
Run by hand: `.venv/bin/python bench/sweep.py [--connections N] [--concurrency C]`.
Set BENCH_DATABASE_URL to run against PostgreSQL instead of a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import insert, update
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


def seed(app: object, pairs: list[TokenResponse]) -> None:
    now = utcnow()
    rows = []
    for number, pair in enumerate(pairs):
        values = token_values(pair, now)
        rows.append(
            {
                "environment": "demo",
                "kind": "user",
                "company_id": "1",
                "employee_id": f"bench-{number}",
                "created_at": now,
                "updated_at": now,
                **values,
            }
        )
    with app.app_context():  # type: ignore[attr-defined]
        db.session.execute(insert(Connection), rows)
        db.session.execute(update(Connection).values(expires_at=now))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    with SandboxServer(redirect_uris=[REDIRECT_URI]) as sandbox:
        database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
        if database.startswith("postgresql"):
            reset_postgres(database)  # a second run would otherwise collide with the first's rows
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
        client = FactorialClient(wiring(app).settings.environments["demo"])
        print(f"seeding {args.connections + args.baseline} grants at the sandbox…", flush=True)
        pairs = grants(client, sandbox, args.connections + args.baseline, args.concurrency)
        # The sandbox's own rate, half measured before the sweep and half after: on a shared
        # 2-vCPU machine it drifts by a third from one minute to the next, and one reading
        # taken only before would fold that drift into the ratio.
        spare = pairs[args.connections :]
        before = sandbox_throughput(client, spare[: len(spare) // 2], args.concurrency)
        seed(app, pairs[: args.connections])
        sandbox.reset_counts()
        with app.app_context():
            engine = db.engine
        started = time.perf_counter()
        report = sweep.run_sweep(
            lambda: Session(engine),
            wiring(app).deps,
            health_every=timedelta(days=1),
            concurrency=args.concurrency,
        )
        seconds = time.perf_counter() - started
        requests = sandbox.counts()["token"].get("refresh_token", 0)
        after = sandbox_throughput(client, spare[len(spare) // 2 :], args.concurrency)
        baseline = (before + after) / 2
    rate = report.outcomes.get("refreshed", 0) / seconds
    failures = sum(n for outcome, n in report.outcomes.items() if outcome != "refreshed")
    print(f"database:                 {database.split(':')[0]}")
    print(f"concurrency:              {args.concurrency}")
    print(f"connections due:          {args.connections}")
    print(f"refreshed:                {report.outcomes.get('refreshed', 0)} in {seconds:.1f} s")
    print(f"refreshed per second:     {rate:.0f}")
    print(f"token requests made:      {requests}")
    print(f"failures:                 {failures}  {report.outcomes}")
    print(f"sandbox alone, per second:{baseline:.0f} (before {before:.0f}, after {after:.0f})")
    print(f"ratio (target >= 0.8):    {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
