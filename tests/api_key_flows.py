"""Helpers for the API key tests: paste keys through the page, look at rows and at Factorial."""

from __future__ import annotations

import re
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.infra.extensions import db
from app.models import ApiKey, AuditEvent, Notification
from app.services.audit import Actor
from app.services.keys import api_key_remote, api_keys
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.conftest import ADMIN_EMAIL, AuthActions

ACME, NIMBUS = 1, 2
KEY_PATH = "/api/v1/core/keys"
CREDENTIALS_PATH = "/api/2026-10-01/resources/api_public/credentials"
UNKNOWN_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJjb21wYW55X2lkIjoxfQ.c2lnbmF0dXJlLW5vdC1rbm93bg"


def seeded_key(sandbox: SandboxServer, company_id: int = ACME) -> dict[str, Any]:
    """`{"id", "company_id", "name", "token"}` of the company's seeded key."""
    return next(k for k in sandbox.seed()["api_keys"] if k["company_id"] == company_id)


def paste(
    client: FlaskClient, auth: AuthActions, key: str, label: str = "Payroll export"
) -> TestResponse:
    data = {"csrf_token": auth.csrf("/api-keys/new"), "environment": "demo", "label": label}
    return client.post("/api-keys/new", data={**data, "key": key})


def key_id_from(response: TestResponse) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def post_action(client: FlaskClient, auth: AuthActions, path: str, **data: str) -> TestResponse:
    """POST a form of a key's page with that page's CSRF token."""
    page = re.sub(r"/(verify|rotate|create|delete)$", "", path)
    return client.post(path, data={"csrf_token": auth.csrf(page), **data})


def admin_actor(admin_id: int) -> Actor:
    return Actor.admin(admin_id, ADMIN_EMAIL)


def add_key(app: Flask, admin_id: int, token: str, label: str = "Payroll export") -> int:
    """Store a key through the service (verified against the sandbox)."""
    with app.app_context():
        return api_keys.add(
            db.session,
            wiring().deps,
            environment="demo",
            label=label,
            raw_key=token,
            actor=admin_actor(admin_id),
        ).id


def create_key(app: Flask, admin_id: int, authority_id: int, label: str = "Nightly sync") -> int:
    """Create a key in Factorial through the service, authorised by a stored key."""
    with app.app_context():
        authority = db.session.get(ApiKey, authority_id)
        assert authority is not None
        return api_key_remote.create(
            db.session,
            wiring().deps,
            company_of=authority,
            label=label,
            actor=admin_actor(admin_id),
        ).id


def load_key(app: Flask, key_id: int) -> ApiKey | None:
    with app.app_context():
        key = db.session.get(ApiKey, key_id)
        if key is not None:
            db.session.expunge(key)
        return key


def count(app: Flask, model: Any, **filters: Any) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model).filter_by(**filters)
        return int(db.session.scalar(query) or 0)


def count_keys(app: Flask) -> int:
    return count(app, ApiKey)


def count_events(app: Flask, action: str) -> int:
    return count(app, AuditEvent, action=action)


def count_notifications(app: Flask, event: str) -> int:
    return count(app, Notification, event=event)


def stored_tokens(app: Flask) -> list[str]:
    with app.app_context():
        return [k.key.reveal() for k in db.session.scalars(select(ApiKey))]


def works_in_factorial(sandbox: SandboxServer, token: str) -> bool:
    response = requests.get(
        f"{sandbox.url}{CREDENTIALS_PATH}", headers={"x-api-key": token}, timeout=5
    )
    return response.status_code == 200


def valid_stored_keys(app: Flask, sandbox: SandboxServer) -> int:
    """How many stored keys Factorial accepts right now."""
    return sum(works_in_factorial(sandbox, token) for token in stored_tokens(app))


def delete_in_factorial(sandbox: SandboxServer, key: dict[str, Any]) -> None:
    """Delete a key as someone in Factorial would (the key deletes itself)."""
    url = f"{sandbox.url}{KEY_PATH}/{key['id']}"
    response = requests.delete(url, headers={"x-api-key": key["token"]}, timeout=5)
    assert response.status_code == 204, response.text


def remote_ids(sandbox: SandboxServer, token: str) -> set[str]:
    response = requests.get(f"{sandbox.url}{KEY_PATH}", headers={"x-api-key": token}, timeout=5)
    return {str(item["id"]) for item in response.json()}
