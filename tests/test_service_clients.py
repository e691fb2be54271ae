"""The Services page and `flask service-clients`: create (secret shown once), list, revoke."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.infra.extensions import db
from app.models import ServiceClient
from app.services.service_api import service_clients
from tests.conftest import VIEWER_EMAIL, AuthActions
from tests.factories import make_client
from tests.helpers import SECRET_RE, bearer, count_rows, new_form


def create_through_page(client: FlaskClient, auth: AuthActions, **fields: object) -> object:
    """Submit a new form and follow its redirect to the page showing the secret."""
    return client.post("/services/new", data=new_form(client, **fields), follow_redirects=True)


def test_creating_shows_the_secret_once_on_the_answer_page(
    client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    response = create_through_page(client, auth)
    secret = SECRET_RE.search(response.get_data(as_text=True))
    assert (response.status_code, secret is not None) == (200, True)


def test_the_secret_is_never_shown_again(
    client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    create_through_page(client, auth)
    assert SECRET_RE.search(client.get("/services/").get_data(as_text=True)) is None


def test_the_new_secret_works_on_the_api(
    client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    page = create_through_page(client, auth).get_data(as_text=True)
    secret = SECRET_RE.search(page).group(0)  # type: ignore[union-attr]
    anonymous = client.application.test_client()
    assert anonymous.get("/api/v1/connections", headers=bearer(secret)).status_code == 200


def test_only_a_sha256_of_the_random_part_is_stored(app: Flask) -> None:
    secret = make_client(app, everything=True)
    random_part = secret.split("_", 2)[2]
    with app.app_context():
        stored = db.session.scalar(select(ServiceClient.secret_digest))
    assert stored == hashlib.sha256(random_part.encode()).hexdigest()


def test_a_client_without_scopes_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    response = create_through_page(client, auth, scopes=[])
    assert (response.status_code, count_rows(app, ServiceClient)) == (400, 0)


def test_a_client_with_nothing_granted_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    response = create_through_page(client, auth, reach="chosen")
    assert (response.status_code, count_rows(app, ServiceClient)) == (400, 0)


def test_viewers_cannot_create(
    client: FlaskClient, auth: AuthActions, admin_id: int, viewer_id: int
) -> None:
    auth.login(VIEWER_EMAIL)
    assert client.get("/services/new").status_code == 403


def test_viewers_see_the_list(
    app: Flask, client: FlaskClient, auth: AuthActions, viewer_id: int
) -> None:
    make_client(app, everything=True)
    auth.login(VIEWER_EMAIL)
    assert "Payroll sync" in client.get("/services/").get_data(as_text=True)


def test_revoking_stops_the_secret_at_once(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    secret = make_client(app, everything=True)
    auth.login()
    client_id = secret.split("_")[1]
    data = {"csrf_token": auth.csrf("/services/")}
    response = client.post(f"/services/{client_id}/revoke", data=data)
    api = app.test_client().get("/api/v1/connections", headers=bearer(secret))
    assert (response.status_code, api.status_code) == (303, 401)


def test_cli_creates_and_prints_the_secret(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["service-clients", "create", "Reports", "--scope", "proxy"])
    secret = SECRET_RE.search(result.output).group(0)  # type: ignore[union-attr]
    response = app.test_client().get("/api/v1/connections", headers=bearer(secret))
    assert (result.exit_code, response.status_code) == (0, 200)


def test_cli_refuses_an_unknown_connection(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["service-clients", "create", "Reports", "--connection", "42"])
    assert (result.exit_code, "no connection 42" in result.output) == (1, True)


def test_cli_revokes(app: Flask, runner: FlaskCliRunner) -> None:
    secret = make_client(app, everything=True)
    result = runner.invoke(args=["service-clients", "revoke", secret.split("_")[1]])
    response = app.test_client().get("/api/v1/connections", headers=bearer(secret))
    assert (result.exit_code, response.status_code) == (0, 401)


def test_cli_list_never_prints_a_secret(app: Flask, runner: FlaskCliRunner) -> None:
    secret = make_client(app, everything=True)
    output = runner.invoke(args=["service-clients", "list"]).output
    assert ("Payroll sync" in output, secret in output) == (True, False)


@pytest.mark.parametrize(
    "secret",
    [
        "fcs_\u00b2_abc",
        "fcs_\u0661_abc",
        "fcs_01_abc",
        "fcs_0_abc",
        "fcs_2147483648_abc",
        "fcs_1_",
        "fcs_-1_a",
    ],
)
def test_a_malformed_secret_names_no_client(secret: str) -> None:
    """One rule wherever a secret is read: ASCII, a canonical id a database can hold."""
    assert service_clients.parse_secret(secret) is None
