"""Time the dashboard and the audit log over 10,000 connections and 100,000 audit events.

    python bench/dashboard.py [connections] [events]

SQLite in a temp dir, then PostgreSQL too when TEST_DATABASE_URL is set (its public schema is
wiped). Prints p50/p95 of server-side rendering with the Flask test client (signed in) and the
SQL statements each request ran.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.infra.extensions import db  # noqa: E402
from app.models import utcnow  # noqa: E402
from app.services.people import admins  # noqa: E402
from tests.conftest import reset_postgres  # noqa: E402
from tests.scale import add_audit_events, add_connections  # noqa: E402

EMAIL, PASSWORD = "bench@example.com", "correct horse battery staple"
PAGES = ("/", "/?status=attention", "/?page=100", "/?q=acme", "/audit/", "/audit/?outcome=failed")
RUNS = 21
BATCH = 5_000


def build(url: str, folder: str, connections: int, events: int) -> Flask:
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": url,
            "INSTANCE_PATH": folder,
            "SESSION_COOKIE_SECURE": "false",
            "SCHEDULER": "off",
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade()
        admins.create_admin(db.session, EMAIL, PASSWORD, "admin")
        now = utcnow()
        for start in range(0, connections, BATCH):
            add_connections(db.session, start, min(BATCH, connections - start), now)
        for start in range(0, events, BATCH):
            add_audit_events(db.session, start, min(BATCH, events - start), now)
        # What autovacuum does after a bulk load; without statistics PostgreSQL sorts in full.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return app


def measure(app: Flask, label: str) -> None:
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token[1]})
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    print(f"\n{label}")
    print(f"{'page':28} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>4}")
    for page in PAGES:
        client.get(page)
        timings = []
        for _ in range(RUNS):
            statements.clear()
            started = time.perf_counter()
            status = client.get(page).status_code
            timings.append((time.perf_counter() - started) * 1000)
        p50 = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(f"{page:28} {status:>6} {p50:8.1f} {p95:8.1f} {len(statements):>4}")


def main(connections: int, events: int) -> None:
    folder = tempfile.mkdtemp()
    started = time.perf_counter()
    app = build(f"sqlite:///{folder}/bench.sqlite3", folder, connections, events)
    seeded = time.perf_counter() - started
    measure(
        app, f"SQLite: {connections:,} connections, {events:,} events (seeded in {seeded:.0f} s)"
    )
    postgres = os.environ.get("TEST_DATABASE_URL", "")
    if postgres:
        reset_postgres(postgres)
        app = build(postgres, folder, connections, events)
        measure(app, f"PostgreSQL: {connections:,} connections, {events:,} events")


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*(arguments + [10_000, 100_000][len(arguments) :]))
