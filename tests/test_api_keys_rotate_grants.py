"""A rotated API key keeps its service clients: their grants follow it to the new key."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.api_key_flows import CREDENTIALS_PATH, KEY_PATH, add_key, post_action, seeded_key
from tests.conftest import AuthActions
from tests.factories import make_client
from tests.helpers import audit_rows, bearer

pytestmark = pytest.mark.usefixtures("admin_id")


def rotate(client: FlaskClient, auth: AuthActions, key_id: int) -> int:
    """POST Rotate; the id of the key whose page it lands on."""
    response = post_action(client, auth, f"/api-keys/{key_id}/rotate")
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def key_status(app: Flask, secret: str, key_id: int) -> int:
    return app.test_client().get(f"/api/v1/api-keys/{key_id}", headers=bearer(secret)).status_code


@pytest.fixture
def key_id(app: Flask, sandbox: SandboxServer) -> int:
    return add_key(app, 1, seeded_key(sandbox)["token"])


@pytest.fixture
def secret(app: Flask, key_id: int) -> str:
    """A service client granted only `key_id`."""
    return make_client(app, keys=(key_id,))


def test_a_service_granted_the_old_key_may_use_the_new_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, key_id: int, secret: str
) -> None:
    new_id = rotate(client, signed_in, key_id)
    assert (new_id != key_id, key_status(app, secret, new_id)) == (True, 200)


def test_a_service_granted_the_old_key_lists_only_the_new_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, key_id: int, secret: str
) -> None:
    new_id = rotate(client, signed_in, key_id)
    listed = app.test_client().get("/api/v1/api-keys", headers=bearer(secret)).get_json()
    assert [row["id"] for row in listed["data"]] == [new_id]


def test_each_moved_grant_is_audited(
    app: Flask, client: FlaskClient, signed_in: AuthActions, key_id: int, secret: str
) -> None:
    new_id = rotate(client, signed_in, key_id)
    client_id = int(secret.split("_")[1])
    assert audit_rows(app, "service_client.grant_moved") == [
        {"target_id": client_id, "actor": "admin", "from_api_key": key_id, "to_api_key": new_id}
    ]


def test_the_rotation_event_names_the_services_that_followed(
    app: Flask, client: FlaskClient, signed_in: AuthActions, key_id: int, secret: str
) -> None:
    rotate(client, signed_in, key_id)
    (event,) = audit_rows(app, "api_key.rotated")
    assert event["service_clients"] == [int(secret.split("_")[1])]


def test_a_partial_rotation_with_a_working_new_key_moves_the_grants(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    key_id: int,
    secret: str,
) -> None:
    sandbox.fault(f"{KEY_PATH}/{seeded_key(sandbox)['id']}", mode="fail", status=503)
    new_id = rotate(client, signed_in, key_id)
    assert (key_status(app, secret, new_id), key_status(app, secret, key_id)) == (200, 403)


def test_a_partial_rotation_whose_new_key_failed_keeps_the_grants_on_the_old_key(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    key_id: int,
    secret: str,
) -> None:
    sandbox.fault(CREDENTIALS_PATH, mode="fail", status=503)
    rotate(client, signed_in, key_id)
    assert (key_status(app, secret, key_id), key_status(app, secret, key_id + 1)) == (200, 403)


def test_a_service_with_every_credential_is_not_touched(
    app: Flask, client: FlaskClient, signed_in: AuthActions, key_id: int
) -> None:
    everything = make_client(app, everything=True)
    new_id = rotate(client, signed_in, key_id)
    assert (key_status(app, everything, new_id), audit_rows(app, "service_client.grant_moved")) == (
        200,
        [],
    )
