"""Many connections and audit events, inserted in bulk (no service calls): for the dashboard
scale test and `bench/dashboard.py`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.infra.crypto import Secret
from app.models import AuditEvent, Connection

COMPANIES = ("Acme Robotics", "Nimbus Foods", "Globex", "Initech", "Umbrella Health")
ACTIONS = (
    "connection.refreshed",
    "connection.refresh_failed",
    "connection.connected",
    "auth.login_succeeded",
    "connection.revoked",
)


def _state(i: int, now: datetime) -> dict[str, Any]:
    """A mix of statuses: mostly active, some expiring, failing, non-expiring or revoked."""
    token = {"access_token": Secret(f"access-{i}"), "refresh_token": Secret(f"refresh-{i}")}
    states: list[dict[str, Any]] = [
        {**token, "expires_at": now + timedelta(hours=1)},
        {**token, "expires_at": now + timedelta(minutes=5)},
        {**token, "expires_at": now + timedelta(minutes=30), "needs_reconnect_cause": "revoked"},
        {"access_token": token["access_token"], "refresh_token": None, "expires_at": None},
        {
            **token,
            "expires_at": now + timedelta(minutes=20),
            "failure_count": 2,
            "next_retry_at": now + timedelta(minutes=2),
            "last_error": "Factorial did not answer.",
        },
        {"access_token": None, "refresh_token": None, "expires_at": None, "revoked_at": now},
    ]
    weights = (0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 5)
    return states[weights[i % len(weights)]]


def connection_rows(start: int, count: int, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + count):
        state = _state(i, now)
        company = i // 20
        rows.append(
            {
                "environment": "demo",
                "kind": "company" if state["refresh_token"] is None else "user",
                "company_id": str(company),
                "company_name": f"{COMPANIES[company % len(COMPANIES)]} {company}",
                "employee_id": str(i),
                "employee_name": f"Employee {i}",
                "employee_email": f"employee{i}@example.com",
                "token_fingerprint": f"…{i % 10_000:04d}",
                "scopes": "read write",
                "obtained_at": now - timedelta(minutes=10),
                "refresh_token_issued_at": now - timedelta(minutes=10),
                "created_at": now - timedelta(days=i % 30),
                "updated_at": now,
                **state,
            }
        )
    return rows


def audit_rows(start: int, count: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "created_at": now - timedelta(seconds=30 * i),
            "action": ACTIONS[i % len(ACTIONS)],
            "outcome": "failed" if i % 17 == 0 else "ok",
            "actor_type": "admin",
            "actor_label": f"user{i % 50}@example.com",
            "target_type": "connection",
            "target_id": i % 400,
            "target_label": "Acme",
            "message": "bench",
            "details": {},
        }
        for i in range(start, start + count)
    ]


def add_connections(session: Session, start: int, count: int, now: datetime) -> None:
    session.execute(insert(Connection), connection_rows(start, count, now))
    session.commit()


def add_audit_events(session: Session, start: int, count: int, now: datetime) -> None:
    session.execute(insert(AuditEvent), audit_rows(start, count, now))
    session.commit()
