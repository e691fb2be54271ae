"""Time the audit log page over a large log: `python bench/audit_page.py [rows]` (SQLite, temp dir).

Prints the median of five requests per filter and the SQL statements each request ran.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import event, insert

from app import create_app
from app.infra.extensions import db
from app.models import AuditEvent
from app.services.people import admins

EMAIL, PASSWORD = "bench@example.com", "correct horse battery staple"
ACTIONS = (
    "connection.refreshed",
    "connection.refresh_failed",
    "connection.connected",
    "auth.login_succeeded",
    "connection.revoked",
)
QUERIES = (
    "",
    "page=2",
    "page=1000",
    "page=10000",
    "outcome=failed",
    "actor=user7@",
    "action=connection.connected",
    "target_type=admin",
    "since=2026-01-10&until=2026-01-12",
    "actor=nobody",
    "action=connection.&outcome=failed&actor=user3&page=20",
)


def _seed(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "created_at": start + timedelta(seconds=30 * i),
            "action": ACTIONS[i % len(ACTIONS)],
            "outcome": "failed" if i % 17 == 0 else "ok",
            "actor_type": "admin",
            "actor_label": f"user{i % 50}@example.com",
            "target_type": "connection",
            "target_id": i % 40,
            "target_label": "Acme",
            "message": "bench",
            "details": {},
        }
        for i in range(count)
    ]


def main(count: int) -> None:
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "INSTANCE_PATH": folder,
            "SESSION_COOKIE_SECURE": "false",
            "SCHEDULER": "off",
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade()
        admins.create_admin(db.session, EMAIL, PASSWORD, "viewer")
        db.session.execute(insert(AuditEvent), _seed(count))
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token[1]})
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    print(f"{count:,} events")
    for query in QUERIES:
        client.get(f"/audit/?{query}")
        timings = []
        for _ in range(5):
            statements.clear()
            started = time.perf_counter()
            status = client.get(f"/audit/?{query}").status_code
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings) * 1000
        print(
            f"{query or '(no filter)':55} {status} {median:6.1f} ms  {len(statements)} statements"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 120_000)
