"""Helpers for lifecycle tests: connect real sandbox accounts, make them due, refresh, sweep."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.infra.extensions import db
from app.infra.settings import Settings
from app.models import AuditEvent, Connection, Notification, utcnow
from app.refresh import protocol, sweep
from app.refresh.policy import RefreshPolicy
from app.refresh.rules import RefreshOutcome
from app.services import connections, notify
from app.services.deps import Deps
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.flows import ACME_EMPLOYEE, connect_account, connection_id_from

HOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens: rows stay in the outbox to be counted


def connect_user(
    client: FlaskClient, auth: AuthActions, sandbox: SandboxServer, employee: int = ACME_EMPLOYEE
) -> int:
    return connection_id_from(connect_account(client, auth, sandbox, "user", employee))


def settings_of(app: Flask) -> Settings:
    return wiring(app).settings


def deps_of(app: Flask, notifier: notify.Notifier | None = None, **policy: Any) -> Deps:
    """The app's Deps with a policy built from `policy` and a webhook nobody listens to."""
    return replace(
        wiring(app).deps,
        policy=RefreshPolicy(**policy),
        notifier=notifier or notify.Notifier(HOOK_URL),
    )


def make_due(app: Flask, connection_id: int) -> None:
    """Pretend the access token expires in a minute (the sandbox's token stays valid)."""
    with app.app_context():
        db.session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(expires_at=utcnow() + timedelta(minutes=1))
        )
        db.session.commit()


def refresh(
    app: Flask,
    connection_id: int,
    *,
    force: bool = False,
    notifier: notify.Notifier | None = None,
    **policy: Any,
) -> RefreshOutcome:
    with app.app_context():
        deps = deps_of(app, notifier, **policy)
        outcome = protocol.refresh_connection(db.session, connection_id, deps, force=force)
        db.session.remove()
        return outcome


def run_sweep(
    app: Flask, notifier: notify.Notifier | None = None, **policy: Any
) -> sweep.SweepReport:
    with app.app_context():
        engine = db.engine
        report = sweep.run_sweep(
            lambda: Session(engine),
            deps_of(app, notifier, **policy),
            health_every=timedelta(days=1),
            concurrency=4,
        )
        db.session.remove()
        return report


def load(app: Flask, connection_id: int) -> Connection:
    with app.app_context():
        row = db.session.get(Connection, connection_id)
        assert row is not None
        db.session.expunge(row)
        return row


def access_token(app: Flask, connection_id: int) -> str:
    token = load(app, connection_id).access_token
    assert token is not None
    return token.reveal()


def refresh_token(app: Flask, connection_id: int) -> str:
    token = load(app, connection_id).refresh_token
    assert token is not None
    return token.reveal()


def status(app: Flask, connection_id: int) -> str:
    return connections.status_of(load(app, connection_id), utcnow(), timedelta(minutes=10)).code


def refresh_requests(sandbox: SandboxServer) -> int:
    return sandbox.counts()["token"].get("refresh_token", 0)


def count_events(app: Flask, action: str) -> int:
    with app.app_context():
        query = select(func.count(AuditEvent.id)).where(AuditEvent.action == action)
        return int(db.session.scalar(query) or 0)


def count_notifications(app: Flask, event: str) -> int:
    with app.app_context():
        query = select(func.count(Notification.id)).where(Notification.event == event)
        return int(db.session.scalar(query) or 0)
