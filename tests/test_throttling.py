"""Failed sign-ins are throttled per account and per client address; sign-ins are audited."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.infra.extensions import db
from app.models import AuditEvent
from tests.conftest import ADMIN_EMAIL, PASSWORD, AuthActions

pytestmark = pytest.mark.usefixtures("admin_id")

WRONG = "wrong password!!"


def fail(auth: AuthActions, times: int, email: str = ADMIN_EMAIL) -> None:
    for _ in range(times):
        auth.login(email, WRONG)


def spoofed_login(client: FlaskClient, auth: AuthActions, forwarded_for: str) -> Any:
    data = {"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": auth.csrf(), "next": ""}
    return client.post("/login", data=data, headers={"X-Forwarded-For": forwarded_for})


def spoofed_failures(client: FlaskClient, auth: AuthActions, times: int) -> None:
    for n in range(times):
        data = {"email": f"u{n}@example.com", "password": WRONG, "csrf_token": auth.csrf()}
        client.post("/login", data=data, headers={"X-Forwarded-For": f"203.0.113.{n}"})


def events(app: Flask) -> list[tuple[str, str, str, str]]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action.startswith("auth."))
        rows = db.session.scalars(query.order_by(AuditEvent.id)).all()
        return [(e.action, e.outcome, e.actor_type, e.actor_label) for e in rows]


def messages_from(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The messages that logger wrote during the test."""
    return [r.getMessage() for r in caplog.records if r.name == logger]


@pytest.fixture
def tight_account_limit(app_settings: dict[str, Any]) -> dict[str, Any]:
    """Three failures per account: the same code path as the default ten, in less time."""
    app_settings["LOGIN_ACCOUNT_LIMIT"] = "3 per 15 minutes"
    return app_settings


@pytest.fixture
def tight_address_limit(app_settings: dict[str, Any]) -> dict[str, Any]:
    """Three failures per address, so the per-address limit is reached before any account's."""
    app_settings["LOGIN_ADDRESS_LIMIT"] = "3 per 15 minutes"
    return app_settings


@pytest.fixture
def behind_proxy(tight_address_limit: dict[str, Any]) -> dict[str, Any]:
    """One trusted proxy: X-Forwarded-For names the client (ProxyFix)."""
    tight_address_limit["PROXY_FIX_X_FOR"] = 1
    return tight_address_limit


def test_ten_failures_still_allow_a_correct_sign_in(auth: AuthActions) -> None:
    fail(auth, 10 - 1)
    assert auth.login().status_code == 302


def test_eleventh_attempt_is_refused_even_with_the_right_password(auth: AuthActions) -> None:
    fail(auth, 10)
    assert auth.login().status_code == 429


@pytest.mark.usefixtures("tight_account_limit")
def test_throttled_page_is_friendly_html(auth: AuthActions) -> None:
    fail(auth, 3)
    assert "Too many failed sign-in attempts" in auth.login().get_data(as_text=True)


@pytest.mark.usefixtures("tight_account_limit")
def test_throttled_answer_says_when_to_retry(auth: AuthActions) -> None:
    fail(auth, 3)
    assert 0 < int(auth.login().headers["Retry-After"]) <= 15 * 60


@pytest.mark.usefixtures("tight_account_limit")
def test_account_is_normalised_before_counting(auth: AuthActions) -> None:
    fail(auth, 3, email="  ADA@Example.COM ")
    assert auth.login().status_code == 429


@pytest.mark.usefixtures("tight_account_limit")
def test_other_accounts_are_not_throttled(auth: AuthActions) -> None:
    fail(auth, 3, email="someone-else@example.com")
    assert auth.login().status_code == 302


@pytest.mark.usefixtures("tight_account_limit")
def test_successful_sign_ins_are_not_counted(auth: AuthActions) -> None:
    for _ in range(4):
        auth.login()
        auth.logout()
    assert auth.login().status_code == 302


@pytest.mark.usefixtures("tight_account_limit")
def test_throttle_lifts_after_fifteen_minutes(auth: AuthActions) -> None:
    with time_machine.travel(0, tick=True) as traveller:
        fail(auth, 3)
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert auth.login().status_code == 302


@pytest.mark.usefixtures("tight_address_limit")
def test_address_limit_counts_failures_across_accounts(auth: AuthActions) -> None:
    for n in range(3):
        auth.login(f"u{n}@example.com", WRONG)
    assert auth.login().status_code == 429


@pytest.mark.usefixtures("tight_address_limit")
def test_spoofed_forwarded_for_does_not_dodge_the_address_limit(
    client: FlaskClient, auth: AuthActions
) -> None:
    spoofed_failures(client, auth, 3)
    assert spoofed_login(client, auth, "198.51.100.7").status_code == 429


@pytest.mark.usefixtures("behind_proxy")
def test_forwarded_for_is_trusted_behind_a_configured_proxy(
    client: FlaskClient, auth: AuthActions
) -> None:
    spoofed_failures(client, auth, 3)
    assert spoofed_login(client, auth, "198.51.100.7").status_code == 302


def test_success_is_audited(app: Flask, auth: AuthActions, admin_id: int) -> None:
    auth.login()
    assert events(app) == [("auth.login_succeeded", "ok", "admin", ADMIN_EMAIL)]


def test_failure_is_audited_with_the_typed_email(app: Flask, auth: AuthActions) -> None:
    auth.login("Mallory@Example.com", WRONG)
    assert events(app) == [("auth.login_failed", "failed", "anonymous", "Mallory@Example.com")]


@pytest.mark.usefixtures("tight_account_limit")
def test_throttled_attempt_is_audited(app: Flask, auth: AuthActions) -> None:
    fail(auth, 3)
    auth.login()
    assert events(app)[-1] == ("auth.login_throttled", "failed", "anonymous", ADMIN_EMAIL)


def test_audited_email_is_truncated(app: Flask, auth: AuthActions) -> None:
    auth.login("x" * 200 + "@example.com", WRONG)
    assert len(events(app)[0][3]) == 100


def test_password_never_reaches_the_audit_log(app: Flask, auth: AuthActions) -> None:
    auth.login(ADMIN_EMAIL, WRONG)
    auth.login()
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent)).all()
        text = repr([(e.actor_label, e.message, e.details, e.target_label) for e in rows])
    assert WRONG not in text and PASSWORD not in text


@pytest.fixture
def redis_down(app_settings: dict[str, Any]) -> dict[str, Any]:
    """Redis configured, but nothing listens there: counters fall back to this process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_settings["RATELIMIT_STORAGE_URI"] = f"redis://:hunter2-canary@127.0.0.1:{port}/0"
    return app_settings


@pytest.mark.usefixtures("redis_down", "tight_account_limit")
def test_with_redis_down_sign_in_works_and_is_still_throttled(
    auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    assert auth.login().status_code == 302
    auth.logout()
    fail(auth, 3)
    assert auth.login().status_code == 429
    warnings = messages_from(caplog, "app.infra.throttle")
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "hunter2" not in caplog.text
