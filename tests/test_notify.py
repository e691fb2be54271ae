"""Webhooks: signed, secret-free, delivered by the sweep with retries, once per transition."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from app.services import notify
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.lifecycle import (
    access_token,
    connect_user,
    make_due,
    refresh,
    refresh_token,
    run_sweep,
)
from tests.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.usefixtures("admin_id")
SECRET = "webhook-signing-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def notifier(receiver: Receiver) -> notify.Notifier:
    return notify.Notifier(receiver.url, SECRET)


@pytest.fixture
def broken_connection(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    sandbox: SandboxServer,
    notifier: notify.Notifier,
) -> int:
    auth.login()
    connection_id = connect_user(client, auth, sandbox)
    sandbox.revoke_grant(refresh_token(app, connection_id))
    make_due(app, connection_id)
    refresh(app, connection_id, notifier=notifier)
    return connection_id


def test_needs_reconnect_is_delivered_once_over_many_sweeps(
    app: Flask, broken_connection: int, receiver: Receiver, notifier: notify.Notifier
) -> None:
    for _ in range(3):
        run_sweep(app, notifier=notifier)
    assert [json.loads(c["body"])["event"] for c in receiver.calls] == [
        "connection.needs_reconnect"
    ]


def test_webhook_is_signed_with_hmac_sha256(
    app: Flask, broken_connection: int, receiver: Receiver, notifier: notify.Notifier
) -> None:
    run_sweep(app, notifier=notifier)
    call = receiver.calls[0]
    timestamp = call["headers"][notify.TIMESTAMP_HEADER]
    expected = notify.sign(SECRET, timestamp, call["body"])
    assert hmac.compare_digest(call["headers"][notify.SIGNATURE_HEADER], expected)


def test_webhook_body_names_the_connection_and_cause(
    app: Flask, broken_connection: int, receiver: Receiver, notifier: notify.Notifier
) -> None:
    run_sweep(app, notifier=notifier)
    body = json.loads(receiver.calls[0]["body"])
    assert (body["connection"]["id"], body["cause"]) == (broken_connection, "revoked")


def test_webhook_carries_no_secret(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    sandbox: SandboxServer,
    receiver: Receiver,
    notifier: notify.Notifier,
) -> None:
    auth.login()
    connection_id = connect_user(client, auth, sandbox)
    secrets = [access_token(app, connection_id), refresh_token(app, connection_id)]
    sandbox.revoke_grant(secrets[1])
    make_due(app, connection_id)
    refresh(app, connection_id, notifier=notifier)
    run_sweep(app, notifier=notifier)
    assert not any(secret.encode() in receiver.calls[0]["body"] for secret in secrets)


def test_failed_delivery_is_retried_with_backoff(
    app: Flask, broken_connection: int, receiver: Receiver, notifier: notify.Notifier
) -> None:
    receiver.fail_next = 2
    now = datetime.now(UTC)
    for minutes in (0, 1, 3):
        with time_machine.travel(now + timedelta(minutes=minutes), tick=False):
            run_sweep(app, notifier=notifier)
    assert len(receiver.calls) == 3


def test_backoff_holds_the_retry(
    app: Flask, broken_connection: int, receiver: Receiver, notifier: notify.Notifier
) -> None:
    receiver.fail_next = 1
    run_sweep(app, notifier=notifier)
    run_sweep(app, notifier=notifier)
    assert len(receiver.calls) == 1


def test_revoke_is_notified(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    sandbox: SandboxServer,
    receiver: Receiver,
    notifier: notify.Notifier,
) -> None:
    from dataclasses import replace

    from app.refresh import lifecycle
    from app.wiring import wiring

    auth.login()
    connection_id = connect_user(client, auth, sandbox)
    with app.app_context():
        from app.infra.extensions import db

        deps = replace(wiring(app).deps, notifier=notifier)
        lifecycle.revoke_connection(db.session, connection_id, deps)
    run_sweep(app, notifier=notifier)
    assert [json.loads(c["body"])["event"] for c in receiver.calls] == ["connection.revoked"]


def test_backoff_doubles_and_is_capped() -> None:
    assert [notify.backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [30, 60, 120, 3600]


def test_no_url_means_nothing_is_queued(app: Flask) -> None:
    with app.app_context():
        from app.infra.extensions import db
        from app.models import utcnow

        row = notify.enqueue(
            db.session,
            notify.Notifier(),
            "x",
            target_type="",
            target_id=None,
            payload={},
            now=utcnow(),
        )
    assert row is None
