"""The dashboard and the audit log cost the same number of SQL statements whatever their size,
and show one page at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.infra.extensions import db
from app.models import utcnow
from tests.conftest import AuthActions
from tests.scale import add_audit_events, add_connections

pytestmark = pytest.mark.usefixtures("admin_id")
ROW_RE = re.compile(r"<tr>\s*<td\b")
Seeder = Callable[[Session, int, int, Any], None]


def seed(app: Flask, add: Seeder, start: int, count: int) -> None:
    with app.app_context():
        add(db.session, start, count, utcnow())


def statements(app: Flask, client: FlaskClient, path: str) -> int:
    """How many SQL statements one request for `path` runs (after a warm-up request)."""
    client.get(path)
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert seen, "the listener saw no statement"
    return len(seen)


def rows_on(client: FlaskClient, path: str) -> int:
    return len(ROW_RE.findall(client.get(path).get_data(as_text=True)))


@pytest.mark.parametrize("path", ["/", "/?status=attention", "/?q=acme", "/?page=2"])
def test_dashboard_statement_count_does_not_grow_with_connections(
    app: Flask, client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.login()
    seed(app, add_connections, 0, 5)
    few = statements(app, client, path)
    seed(app, add_connections, 5, 115)
    assert statements(app, client, path) == few


@pytest.mark.parametrize("path", ["/audit/", "/audit/?outcome=failed", "/audit/?page=2"])
def test_audit_statement_count_does_not_grow_with_events(
    app: Flask, client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.login()
    seed(app, add_audit_events, 0, 5)
    few = statements(app, client, path)
    seed(app, add_audit_events, 5, 115)
    assert statements(app, client, path) == few


def test_dashboard_shows_fifty_connections_a_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    seed(app, add_connections, 0, 120)
    last = client.get("/?page=3").get_data(as_text=True)
    assert (rows_on(client, "/"), rows_on(client, "/?page=3"), "Page 3 of 3" in last) == (
        50,
        20,
        True,
    )


def test_audit_page_shows_fifty_events_a_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    seed(app, add_audit_events, 0, 120)
    first = client.get("/audit/").get_data(as_text=True)
    last = client.get("/audit/?page=3").get_data(as_text=True)
    assert (first.count('rel="next"'), last.count('rel="next"')) == (1, 0)
