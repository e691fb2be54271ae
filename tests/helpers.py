"""Small helpers many tests share: bearer headers, reading rows back, the session cookie, the
new-service-client form, the metrics exposition, and what the sandbox saw."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, AnyStr

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from app.infra.extensions import db
from app.models import ApiKey, AuditEvent, Connection, ServiceClient, utcnow
from sandbox.testing import SandboxServer
from tests.conftest import csrf_from

CREDENTIALS = "2026-10-01/resources/api_public/credentials"
EMPLOYEES = "2026-10-01/resources/employees/employees"
LEAVES = "2026-10-01/resources/time_off/leaves"
SANDBOX_CLIENT = {
    "client_id": "factorial-connect-sandbox",
    "client_secret": "sandbox-client-secret",
}
COOKIE = "fc_session"
SECRET_RE = re.compile(r"fcs_\d+_[A-Za-z0-9_-]{40,}")
FORM_ID_RE = re.compile(r'name="form_id"[^>]*value="([^"]+)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def expire_soon(app: Flask, connection_id: int, seconds: int = 60) -> None:
    with app.app_context():
        db.session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(expires_at=utcnow() + timedelta(seconds=seconds))
        )
        db.session.commit()


def set_columns(app: Flask, connection_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(
            update(Connection).where(Connection.id == connection_id).values(**values)
        )
        db.session.commit()


def audit_rows(app: Flask, action: str) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [{"target_id": r.target_id, "actor": r.actor_type, **r.details} for r in rows]


def last_used(app: Flask, model: type[Connection | ApiKey | ServiceClient], row_id: int) -> Any:
    with app.app_context():
        return db.session.scalar(select(model.last_used_at).where(model.id == row_id))


def column(app: Flask, connection_id: int, attribute: Any) -> Any:
    with app.app_context():
        return db.session.scalar(select(attribute).where(Connection.id == connection_id))


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of this one's session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(COOKIE, cookie.value)
    return other


def session_data(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """What the signed session cookie holds (it is signed, not encrypted: anyone can read it)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    data: dict[str, Any] = serializer.loads(cookie.value)
    return data


def new_form(client: FlaskClient, **fields: object) -> dict[str, object]:
    """A freshly loaded new-service-client form, filled in: its CSRF token and its own form id."""
    page = client.get("/services/new").get_data(as_text=True)
    form_id = FORM_ID_RE.search(page).group(1)  # type: ignore[union-attr]
    return {"csrf_token": csrf_from(page), "form_id": form_id, "name": "Payroll sync",
            "scopes": ["token:read"], "reach": "all", **fields}  # fmt: skip


def exposition(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def samples(client: FlaskClient) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition(client))
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def revoke_access_token(sandbox: SandboxServer, token: str) -> None:
    """Kill only the access token at Factorial; its refresh token still works."""
    form = {"token": token, "token_type_hint": "access_token", **SANDBOX_CLIENT}
    requests.post(f"{sandbox.url}/oauth/revoke", data=form, timeout=5).raise_for_status()


def credential_checks(sandbox: SandboxServer) -> int:
    return sandbox.counts()["requests"].get(f"/api/{CREDENTIALS}", 0)


def occurring(needles: Iterable[AnyStr], haystack: AnyStr) -> list[AnyStr]:
    """The needles found in the haystack: a leak check asserts this is empty."""
    return [needle for needle in needles if needle in haystack]


def existing_bytes(files: Iterable[Path]) -> bytes:
    """The bytes of those files that exist, one after the other."""
    return b"".join(f.read_bytes() for f in files if f.exists())


def only_on(database_url: str, scheme: str, why: str) -> None:
    """Skip the calling test unless the test database's URL starts with `scheme`."""
    if not database_url.startswith(scheme):
        pytest.skip(why)


def other_ending(secret: str) -> str:
    """The same secret with its last four characters changed: a wrong secret of the right shape."""
    return secret[:-4] + ("bbbb" if secret.endswith("aaaa") else "aaaa")
