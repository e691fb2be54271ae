"""The audit log page: filters, pagination, validation, access, no secrets, constant queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, event

from app.infra.extensions import db
from app.models import AuditEvent
from app.services import audit
from app.services.audit import Actor
from tests.conftest import VIEWER_EMAIL, AuthActions

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SEEDED = "action=connection.refreshed"  # leaves out the sign-in events the tests cause


class Target:
    """Stands in for a model row: audit.record reads its table name, id and label."""

    def __init__(self, tablename: str, id_: int, label: str) -> None:
        self.__tablename__ = tablename
        self.id = id_
        self.label = label


def seed(app: Flask, count: int, action: str = "connection.refreshed", **kwargs: Any) -> None:
    """`count` events one minute apart, the newest at T0, committed."""
    with app.app_context():
        for n in range(count):
            audit.record(db.session, action, now=T0 - timedelta(minutes=n), **kwargs)
        db.session.commit()


def rows(html: str) -> int:
    return html.count("<tr>") - 1


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def page_text(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_lists_events_newest_first(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 1, "connection.connected", message="first one")
    seed(app, 1, "connection.revoked", message="second one")
    html = page_text(client)
    assert html.index("connection.revoked") < html.index("first one")


def test_empty_log_says_so(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    with app.app_context():
        db.session.execute(delete(AuditEvent))  # signing in was recorded
        db.session.commit()
    assert "Nothing has been recorded yet." in page_text(client)


def test_filters_by_action(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 2, "connection.refreshed")
    seed(app, 3, "connection.revoked")
    assert rows(page_text(client, "action=connection.revoked")) == 3


def test_action_filter_matches_a_prefix(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 2, "connection.refreshed")
    seed(app, 3, "auth.login_failed")
    assert rows(page_text(client, "action=connection.")) == 2


def test_filters_by_outcome(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 2, outcome="ok")
    seed(app, 4, outcome="failed")
    assert rows(page_text(client, "outcome=failed")) == 4


def test_filters_by_actor_substring_ignoring_case(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 2, actor=Actor.admin(1, "Grace@Example.com"))
    seed(app, 5)
    assert rows(page_text(client, "actor=grace")) == 2


def test_filters_by_target_type(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 2, target=Target("api_keys", 7, "Payroll key"))
    seed(app, 3, target=Target("connections", 8, "Acme"))
    assert rows(page_text(client, "target_type=api_key")) == 2


def test_filters_by_date_range_inclusive_of_both_days(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    with app.app_context():
        for day in (8, 9, 10, 11, 12):
            audit.record(db.session, "connection.refreshed", now=T0.replace(day=day))
        db.session.commit()
    assert rows(page_text(client, "since=2026-03-09&until=2026-03-11")) == 3


def test_filter_without_match_shows_empty_state(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 3)
    assert "No event matches these filters." in page_text(client, "outcome=failed")


def test_connection_target_links_to_its_page(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 1, target=Target("connections", 42, "Acme company"))
    assert 'href="/connections/42">Acme company</a>' in page_text(client)


def test_first_page_has_fifty_rows_and_a_next_link(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 120)
    html = page_text(client, SEEDED)
    assert (rows(html), 'rel="next"' in html) == (50, True)


def test_last_page_has_the_rest_and_no_next_link(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 120)
    html = page_text(client, f"{SEEDED}&page=3")
    assert (rows(html), 'rel="next"' in html, 'rel="prev"' in html) == (20, False, True)


def test_page_links_keep_the_filters(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 60, outcome="failed")
    assert "outcome=failed" in page_text(client, "outcome=failed").split('rel="next"')[1]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("outcome=maybe", "Unknown outcome"),
        ("target_type=planet", "Unknown target type"),
        ("action=DROP%20TABLE", "must be an action name"),
        ("since=2026-13-01", "YYYY-MM-DD"),
        ("until=yesterday", "YYYY-MM-DD"),
        ("since=2026-03-12&until=2026-03-10", "after the"),
        ("page=0", "from 1 to 10,000"),
        ("page=10001", "from 1 to 10,000"),
        ("page=two", "from 1 to 10,000"),
        ("actor=" + "x" * 255, "longer than 254"),
    ],
)
def test_bad_filter_is_a_400_with_the_reason(
    client: FlaskClient, signed_in: Any, query: str, reason: str
) -> None:
    response = client.get(f"/audit/?{query}")
    assert (response.status_code, reason in response.get_data(as_text=True)) == (400, True)


def test_viewer_can_read(
    app: Flask, client: FlaskClient, auth: AuthActions, viewer_id: int
) -> None:
    seed(app, 1, message="visible to viewers")
    auth.login(VIEWER_EMAIL)
    assert "visible to viewers" in page_text(client)


def test_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/audit/")
    assert (response.status_code, response.headers["Location"].split("?")[0]) == (302, "/login")


def test_details_are_never_rendered(app: Flask, client: FlaskClient, signed_in: Any) -> None:
    seed(app, 1, message="rotated", details={"token": "secret-canary-123"})
    assert "secret-canary-123" not in page_text(client)


def test_navigation_links_to_the_audit_log(client: FlaskClient, signed_in: Any) -> None:
    assert 'href="/audit/"' in page_text(client)


def test_query_count_does_not_grow_with_the_log(
    app: Flask, client: FlaskClient, signed_in: Any
) -> None:
    seed(app, 10)
    with counting_statements(app) as few:
        page_text(client)
    seed(app, 110, "connection.revoked", actor=Actor.admin(1, "ada@example.com"))
    with counting_statements(app) as many:
        page_text(client)
    assert len(many) == len(few)
