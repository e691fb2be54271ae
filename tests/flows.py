"""Drive the Connect flow end to end: our pages, the sandbox's consent, our callback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.infra.extensions import db
from app.models import Connection
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions

ACME_ADMIN, ACME_EMPLOYEE, NIMBUS_ADMIN = 1001, 1002, 2001


def start_connect(
    client: FlaskClient, auth: AuthActions, kind: str = "company", environment: str = "demo"
) -> str:
    """POST the Connect form; returns Factorial's authorize URL we were sent to."""
    data = {"csrf_token": auth.csrf("/connect"), "environment": environment, "kind": kind}
    response = client.post("/connect", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def local_path(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def approve(sandbox: SandboxServer, authorize_url: str, employee_id: int) -> str:
    """Approve at the sandbox; returns our callback path with Factorial's query string."""
    return local_path(sandbox.approve(authorize_url, employee_id))


def connect_account(
    client: FlaskClient,
    auth: AuthActions,
    sandbox: SandboxServer,
    kind: str = "company",
    employee_id: int = ACME_ADMIN,
) -> TestResponse:
    """The whole flow; returns our callback's response."""
    callback = approve(sandbox, start_connect(client, auth, kind), employee_id)
    return client.get(callback)


def connection_id_from(response: TestResponse) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def token_requests(sandbox: SandboxServer) -> int:
    return sum(sandbox.counts()["token"].values())


def count_connections(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Connection.id))) or 0)


def load_connection(app: Flask, connection_id: int) -> Connection:
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        assert connection is not None
        db.session.expunge(connection)
        return connection


def with_params(callback: str, **changes: str | None) -> str:
    """Our callback path with query parameters changed, or removed where the value is None."""
    params = {k: v[0] for k, v in query_of(callback).items()}
    params.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        params.pop(key, None)
    return f"/oauth/callback?{urlencode(params)}"
