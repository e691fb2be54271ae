"""Sign-in sessions live on the server: sign-out, deactivation and expiry end them there, so a
copy of the cookie stops working too; sessions end after an idle time and an absolute lifetime."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.infra.extensions import db
from app.models import Admin, AuditEvent, SignInSession
from app.services.people import admins
from tests.conftest import PASSWORD, AuthActions
from tests.helpers import copy_of, session_data

pytestmark = pytest.mark.usefixtures("admin_id")

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def audit_actions(app: Flask, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action.startswith(prefix))
        rows = db.session.scalars(query.order_by(AuditEvent.id)).all()
        return [(e.action, e.actor_label, e.details) for e in rows]


def stored_sessions(app: Flask) -> list[SignInSession]:
    with app.app_context():
        rows = list(db.session.scalars(select(SignInSession).order_by(SignInSession.id)))
        db.session.expunge_all()
        return rows


def test_a_copied_cookie_stops_working_after_sign_out(
    app: Flask, auth: AuthActions, client: FlaskClient
) -> None:
    auth.login()
    copy = copy_of(app, client)
    auth.logout()
    assert copy.get("/").status_code == 302


def test_signing_out_ends_the_session_on_the_server(app: Flask, auth: AuthActions) -> None:
    auth.login()
    auth.logout()
    assert [(s.end_reason, s.ended_at is not None) for s in stored_sessions(app)] == [
        ("signed_out", True)
    ]


def test_sign_out_is_audited(app: Flask, auth: AuthActions) -> None:
    auth.login()
    auth.logout()
    assert [(a, who) for a, who, _ in audit_actions(app, "auth.logout")] == [
        ("auth.logout", "ada@example.com")
    ]


def test_the_cookie_carries_only_a_token_stored_as_its_sha256(
    app: Flask, auth: AuthActions, client: FlaskClient
) -> None:
    auth.login()
    token = session_data(app, client)["_user_id"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert [s.token_digest for s in stored_sessions(app)] == [digest]


def test_a_session_in_use_ends_at_its_absolute_lifetime(
    auth: AuthActions, client: FlaskClient
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        auth.login()
        statuses = []
        for _ in range(8):  # a visit every three hours: never idle for long
            traveller.shift(timedelta(hours=3))
            statuses.append(client.get("/").status_code)
    assert statuses == [200] * 7 + [302]


@pytest.fixture
def short_sessions(app_settings: dict[str, Any]) -> dict[str, Any]:
    app_settings.update(SESSION_IDLE_MINUTES="30", SESSION_MAX_HOURS="2")
    return app_settings


@pytest.mark.usefixtures("short_sessions")
@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        ([timedelta(minutes=29)], 200),
        ([timedelta(minutes=31)], 302),
        ([timedelta(minutes=25)] * 4, 200),
        ([timedelta(minutes=25)] * 5, 302),
    ],
    ids=["within-idle", "idle-too-long", "in-use-within-lifetime", "in-use-past-lifetime"],
)
def test_configured_lifetimes_are_enforced(
    auth: AuthActions, client: FlaskClient, visits: list[timedelta], expected: int
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        auth.login()
        for gap in visits:
            traveller.shift(gap)
            status = client.get("/").status_code
    assert status == expected


@pytest.mark.usefixtures("short_sessions")
@pytest.mark.parametrize(
    ("gap", "reason"), [(timedelta(minutes=31), "idle"), (timedelta(hours=2), "lifetime")]
)
def test_an_expiry_is_audited_once_with_its_reason(
    app: Flask, auth: AuthActions, client: FlaskClient, gap: timedelta, reason: str
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        auth.login()
        copy = copy_of(app, client)
        traveller.shift(gap)
        client.get("/")
        copy.get("/")
    assert [d["reason"] for _, _, d in audit_actions(app, "auth.session_expired")] == [reason]


def test_use_is_recorded_at_most_once_a_minute(
    app: Flask, auth: AuthActions, client: FlaskClient
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        auth.login()
        for seconds in (70, 30):  # recorded, then too soon to record again
            traveller.shift(timedelta(seconds=seconds))
            client.get("/")
    assert [s.last_seen_at for s in stored_sessions(app)] == [START + timedelta(seconds=70)]


def test_deactivation_ends_every_session_at_once(
    app: Flask, auth: AuthActions, client: FlaskClient, admin_id: int
) -> None:
    auth.login()
    with app.app_context():
        other = admins.create_admin(db.session, "second@example.com", PASSWORD, "admin")
        target = db.session.get(Admin, admin_id)
        admins.set_active(db.session, other, target, False)  # type: ignore[arg-type]
        admins.set_active(db.session, other, target, True)  # type: ignore[arg-type]
    assert client.get("/").status_code == 302


def test_each_sign_in_is_a_session_of_its_own(
    app: Flask, auth: AuthActions, client: FlaskClient
) -> None:
    auth.login()
    other = AuthActions(app.test_client())
    other.login()
    auth.logout()
    assert other.client.get("/").status_code == 200


def test_a_forged_token_signs_nobody_in(app: Flask, client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = "1:1"  # what a cookie named before sessions were stored
    assert client.get("/").status_code == 302
