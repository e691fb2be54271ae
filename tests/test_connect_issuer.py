"""RFC 9207 mix-up defence: an `iss` on the callback must name the environment's Factorial."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.infra.extensions import db
from app.models import AuditEvent
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.flows import (
    ACME_ADMIN,
    approve,
    connect_account,
    count_connections,
    query_of,
    start_connect,
    token_requests,
    with_params,
)

pytestmark = pytest.mark.usefixtures("admin_id")
OTHER_ISSUER = "https://api.factorialhr.com"


def test_a_matching_iss_is_accepted(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(issuer=sandbox.url)

    response = connect_account(client, signed_in, sandbox)

    assert (response.status_code, count_connections(app)) == (303, 1)


def test_an_absent_iss_is_accepted(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = approve(sandbox, start_connect(client, signed_in), ACME_ADMIN)

    response = client.get(callback)

    assert ("iss" in query_of(callback), response.status_code) == (False, 303)


@pytest.mark.parametrize("issuer", [OTHER_ISSUER, "{url}/", "{url}/oauth", "HTTP://{host}"])
def test_a_wrong_iss_is_refused_before_any_token_request(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, issuer: str
) -> None:
    host = sandbox.url.removeprefix("http://")
    sandbox.configure(issuer=issuer.format(url=sandbox.url, host=host))

    response = connect_account(client, signed_in, sandbox)

    page = response.get_data(as_text=True)
    assert (response.status_code, "wrong_issuer" in page) == (400, True)
    assert (token_requests(sandbox), count_connections(app)) == (0, 0)


def test_an_empty_iss_is_a_wrong_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    callback = approve(sandbox, start_connect(client, signed_in), ACME_ADMIN)

    response = client.get(with_params(callback, iss=""))

    assert (response.status_code, token_requests(sandbox), count_connections(app)) == (400, 0, 0)


def test_a_wrong_iss_on_a_denial_is_refused_as_a_wrong_issuer(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(issuer=OTHER_ISSUER)
    location = sandbox.approve(start_connect(client, signed_in), ACME_ADMIN, decision="deny")

    response = client.get(with_params(location))

    assert "wrong_issuer" in response.get_data(as_text=True)


def test_a_wrong_iss_is_audited_with_both_issuers(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.configure(issuer=OTHER_ISSUER)

    connect_account(client, signed_in, sandbox)

    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "connection.connect_failed")
        ).all()
        found = [(e.outcome, e.details) for e in events]
    assert found == [
        (
            "failed",
            {
                "reason": "wrong_issuer",
                "environment": "demo",
                "expected_issuer": sandbox.url,
                "issuer": OTHER_ISSUER,
            },
        )
    ]
