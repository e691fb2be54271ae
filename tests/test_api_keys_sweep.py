"""The daily verification sweep: a key deleted in Factorial is noticed, audited, announced once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine
from flask import Flask

from app.infra.extensions import db
from app.models import utcnow
from app.services import notify
from app.services.keys import api_key_verification
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.api_key_flows import (
    CREDENTIALS_PATH,
    add_key,
    count_events,
    count_notifications,
    delete_in_factorial,
    load_key,
    seeded_key,
)

DAY = timedelta(days=1)
pytestmark = pytest.mark.usefixtures("admin_id")


class Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet: the test reads the bodies, not the access log."""


@pytest.fixture
def webhook() -> Iterator[tuple[notify.Notifier, list[bytes]]]:
    """A real HTTP receiver on a free loopback port, and a Notifier pointing at it."""
    bodies: list[bytes] = []
    handler = type("Handler", (Receiver,), {"bodies": bodies})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield notify.Notifier(url=url, secret="webhook-secret-for-tests"), bodies
    server.shutdown()
    server.server_close()


@pytest.fixture
def notifier(webhook: tuple[notify.Notifier, list[bytes]]) -> notify.Notifier:
    return webhook[0]


def sweep(app: Flask, notifier: notify.Notifier, after: timedelta) -> int:
    """Run verify_due with the app clock moved `after` into the future."""
    with time_machine.travel(datetime.now(UTC) + after, tick=True), app.app_context():
        deps = replace(wiring().deps, notifier=notifier)
        return api_key_verification.verify_due(db.session, deps, DAY)


def test_recently_verified_keys_are_not_due(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    add_key(app, 1, seeded_key(sandbox)["token"])
    assert sweep(app, notifier, timedelta(hours=23)) == 0


def test_keys_verified_over_a_day_ago_are_due(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    add_key(app, 1, seeded_key(sandbox)["token"])
    assert sweep(app, notifier, DAY + timedelta(minutes=1)) == 1


def test_sweep_marks_a_key_deleted_in_factorial_rejected(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    delete_in_factorial(sandbox, seeded)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    key = load_key(app, key_id)
    assert key is not None and key.last_verified_result == "rejected"


def test_two_sweeps_audit_and_enqueue_the_rejection_once(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    seeded = seeded_key(sandbox)
    add_key(app, 1, seeded["token"])
    delete_in_factorial(sandbox, seeded)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    sweep(app, notifier, 2 * DAY + timedelta(minutes=2))
    assert (
        count_events(app, "api_key.rejected"),
        count_notifications(app, "api_key.rejected"),
    ) == (
        1,
        1,
    )


def test_rejected_since_stays_at_the_first_rejection(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    delete_in_factorial(sandbox, seeded)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    first = load_key(app, key_id)
    sweep(app, notifier, 2 * DAY + timedelta(minutes=2))
    second = load_key(app, key_id)
    assert first is not None and second is not None
    assert second.rejected_since == first.rejected_since
    assert second.last_verified_at != first.last_verified_at


def test_a_key_accepted_again_is_announced_as_recovered(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    add_key(app, 1, seeded_key(sandbox)["token"])
    sandbox.fault(CREDENTIALS_PATH, mode="fail", status=401)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    sweep(app, notifier, 2 * DAY + timedelta(minutes=2))
    assert count_notifications(app, "api_key.recovered") == 1


def test_a_transient_failure_is_recorded_but_not_announced(
    app: Flask, sandbox: SandboxServer, notifier: notify.Notifier
) -> None:
    key_id = add_key(app, 1, seeded_key(sandbox)["token"])
    sandbox.fault(CREDENTIALS_PATH, mode="fail", status=503)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    key = load_key(app, key_id)
    assert key is not None and (key.last_verified_result, key.rejected_since) == ("error", None)
    assert count_notifications(app, "api_key.rejected") == 0


def deliver(app: Flask, notifier: notify.Notifier) -> tuple[int, int]:
    with time_machine.travel(datetime.now(UTC) + 3 * DAY, tick=True), app.app_context():
        return notify.deliver_due(db.session, notifier, utcnow())


def test_the_rejection_webhook_is_delivered_without_the_key(
    app: Flask, sandbox: SandboxServer, webhook: tuple[notify.Notifier, list[bytes]]
) -> None:
    notifier, bodies = webhook
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    delete_in_factorial(sandbox, seeded)
    sweep(app, notifier, DAY + timedelta(minutes=1))
    assert deliver(app, notifier) == (1, 0)
    (body,) = bodies
    payload = json.loads(body)
    assert (payload["event"], payload["api_key"]["id"]) == ("api_key.rejected", key_id)
    assert seeded["token"].encode() not in body
