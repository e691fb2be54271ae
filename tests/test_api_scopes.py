"""Who may call what: every route against anonymous, wrong and in-scope callers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.factories import grant_user_token, make_client, store_api_key
from tests.helpers import CREDENTIALS, bearer

REALM = 'Bearer realm="factorial-connect"'
ROUTES = {
    "list_connections": ("/api/v1/connections", ""),
    "connection": ("/api/v1/connections/{c}", ""),
    "token": ("/api/v1/connections/{c}/token", "token:read"),
    "connection_proxy": (f"/api/v1/connections/{{c}}/proxy/{CREDENTIALS}", "proxy"),
    "list_api_keys": ("/api/v1/api-keys", ""),
    "api_key": ("/api/v1/api-keys/{k}", ""),
    "api_key_proxy": (f"/api/v1/api-keys/{{k}}/proxy/{CREDENTIALS}", "proxy"),
}
LISTS = ("list_connections", "list_api_keys")
SCOPED = ("token", "connection_proxy", "api_key_proxy")
OTHER_SCOPE = {"token:read": "proxy", "proxy": "token:read"}


@dataclass
class World:
    connection: int
    key: int
    other_connection: int
    other_key: int


@pytest.fixture
def world(app: Flask, sandbox: SandboxServer) -> World:
    return World(
        connection=grant_user_token(app, sandbox, "1002"),
        key=store_api_key(app, sandbox, 1),
        other_connection=grant_user_token(app, sandbox, "other"),
        other_key=store_api_key(app, sandbox, 2),
    )


def url(route: str, world: World) -> str:
    return ROUTES[route][0].format(c=world.connection, k=world.key)


def headers_for(app: Flask, world: World, caller: str, route: str) -> dict[str, str]:
    """The caller's Authorization header; none for an anonymous caller."""
    mine = {"connections": (world.connection,), "keys": (world.key,)}
    others = {"connections": (world.other_connection,), "keys": (world.other_key,)}
    scope = ROUTES[route][1]
    secrets = {
        "wrong_secret": lambda: make_client(app, **mine)[:-4] + "AAAA",
        "malformed": lambda: "not-a-service-secret",
        "revoked": lambda: make_client(app, **mine, revoked=True),
        "other_credential": lambda: make_client(app, **others),
        "missing_scope": lambda: make_client(app, **mine, scopes=(OTHER_SCOPE.get(scope, ""),)),
        "in_scope": lambda: make_client(app, **mine),
    }
    if caller == "anonymous":
        return {}
    return bearer(secrets[caller]())


CASES = [
    *[(route, caller, 401) for route in ROUTES for caller in
      ("anonymous", "wrong_secret", "malformed", "revoked")],
    *[(route, "other_credential", 403) for route in ROUTES if route not in LISTS],
    *[(route, "other_credential", 200) for route in LISTS],
    *[(route, "missing_scope", 403) for route in SCOPED],
    *[(route, "in_scope", 200) for route in ROUTES],
]  # fmt: skip


@pytest.mark.parametrize(("route", "caller", "expected"), CASES)
def test_scopes_matrix(
    app: Flask, client: FlaskClient, world: World, route: str, caller: str, expected: int
) -> None:
    headers = headers_for(app, world, caller, route)
    assert client.get(url(route, world), headers=headers).status_code == expected


def test_lists_show_only_granted_credentials(app: Flask, client: FlaskClient, world: World) -> None:
    secret = make_client(app, connections=(world.connection,), keys=(world.key,))
    connections = client.get("/api/v1/connections", headers=bearer(secret)).get_json()["data"]
    keys = client.get("/api/v1/api-keys", headers=bearer(secret)).get_json()["data"]
    assert ([c["id"] for c in connections], [k["id"] for k in keys]) == (
        [world.connection],
        [world.key],
    )


def test_all_credentials_client_sees_everything(
    app: Flask, client: FlaskClient, world: World
) -> None:
    secret = make_client(app, everything=True)
    keys = client.get("/api/v1/api-keys", headers=bearer(secret)).get_json()["data"]
    assert [k["id"] for k in keys] == [world.key, world.other_key]


def test_listing_never_shows_a_secret(
    app: Flask, client: FlaskClient, world: World, sandbox: SandboxServer
) -> None:
    secret = make_client(app, everything=True)
    text = client.get("/api/v1/api-keys", headers=bearer(secret)).get_data(as_text=True)
    assert [k["token"] in text for k in sandbox.seed()["api_keys"]] == [False, False]


def test_missing_auth_gets_the_bearer_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/connections")
    assert (response.headers["WWW-Authenticate"], response.get_json()["error"]) == (
        REALM, "unauthorized",
    )  # fmt: skip


def test_bad_secret_gets_invalid_token_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/connections", headers=bearer("fcs_1_nope"))
    assert response.headers["WWW-Authenticate"] == f'{REALM}, error="invalid_token"'


def test_admin_session_cookie_is_not_api_auth(
    client: FlaskClient, auth: AuthActions, admin_id: int
) -> None:
    auth.login()
    assert client.get("/api/v1/connections").status_code == 401


def test_unknown_connection_is_404(app: Flask, client: FlaskClient, world: World) -> None:
    secret = make_client(app, everything=True)
    response = client.get("/api/v1/connections/999999/token", headers=bearer(secret))
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


def test_huge_id_is_404_not_a_database_error(app: Flask, client: FlaskClient, world: World) -> None:
    secret = make_client(app, everything=True)
    response = client.get(f"/api/v1/api-keys/{2**70}", headers=bearer(secret))
    assert response.status_code == 404


def test_post_without_csrf_token_reaches_the_api(
    app: Flask, client: FlaskClient, world: World
) -> None:
    response = client.post(f"/api/v1/connections/{world.connection}/proxy/{CREDENTIALS}")
    assert response.status_code == 401
