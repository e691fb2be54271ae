"""A service client's grants after creation: the Services page's "Edit access" and
`flask service-clients grants|grant|revoke-grant`, checked through the service API itself."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

from sandbox.testing import SandboxServer
from tests.conftest import VIEWER_EMAIL, AuthActions
from tests.factories import make_client, store_api_key
from tests.helpers import audit_rows, bearer


def client_id_of(secret: str) -> int:
    return int(secret.split("_")[1])


def key_status(app: Flask, secret: str, key_id: int) -> int:
    return app.test_client().get(f"/api/v1/api-keys/{key_id}", headers=bearer(secret)).status_code


def listed_keys(app: Flask, secret: str) -> list[int]:
    body = app.test_client().get("/api/v1/api-keys", headers=bearer(secret)).get_json()
    return [row["id"] for row in body["data"]]


def save_access(
    client: FlaskClient, auth: AuthActions, secret: str, reach: str = "chosen", **ticked: object
) -> TestResponse:
    """POST the Edit access form as an admin would, with these boxes ticked."""
    path = f"/services/{client_id_of(secret)}/grants"
    data = {"csrf_token": auth.csrf(path), "reach": reach, **ticked}
    return client.post(path, data=data)


def ticked_keys(page: str) -> list[str]:
    """The ids of the API-key boxes the page shows ticked."""
    boxes = re.findall(r'<input[^>]*name="api_keys"[^>]*>', page)
    return [re.findall(r'value="(\d+)"', box)[0] for box in boxes if "checked" in box]


def followed(client: FlaskClient, response: TestResponse) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.fixture
def second_key(app: Flask, sandbox: SandboxServer) -> int:
    """The other company's seeded key."""
    return store_api_key(app, sandbox, company_id=2)


# The page


def test_the_page_ticks_what_the_client_may_use(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    page = client.get(f"/services/{client_id_of(secret)}/grants").get_data(as_text=True)
    assert ticked_keys(page) == [str(api_key_id)]


def test_ticking_a_key_lets_the_service_use_it_at_once(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    user_connection: int,
    api_key_id: int,
) -> None:
    secret = make_client(app, connections=(user_connection,))
    save_access(client, signed_in, secret, connections=[user_connection], api_keys=[api_key_id])
    assert key_status(app, secret, api_key_id) == 200


def test_unticking_a_key_takes_it_back_at_once(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    user_connection: int,
    api_key_id: int,
) -> None:
    secret = make_client(app, connections=(user_connection,), keys=(api_key_id,))
    save_access(client, signed_in, secret, connections=[user_connection])
    assert key_status(app, secret, api_key_id) == 403


def test_narrowing_from_everything_leaves_only_what_is_ticked(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, everything=True)
    save_access(client, signed_in, secret, api_keys=[second_key])
    assert listed_keys(app, secret) == [second_key]


def test_a_saved_change_is_audited_as_granted_and_taken_back(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    save_access(client, signed_in, secret, api_keys=[second_key])
    target = client_id_of(secret)
    rows = [audit_rows(app, f"service_client.{a}") for a in ("granted", "grant_revoked")]
    assert rows == [
        [{"target_id": target, "actor": "admin", "api_keys": [second_key]}],
        [{"target_id": target, "actor": "admin", "api_keys": [api_key_id]}],
    ]


def test_saving_without_a_change_records_nothing(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    page = followed(client, save_access(client, signed_in, secret, api_keys=[api_key_id]))
    assert ("Nothing changed" in page, audit_rows(app, "service_client.granted")) == (True, [])


def test_taking_everything_away_says_the_service_is_now_refused(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    page = followed(client, save_access(client, signed_in, secret))
    assert ("may now use nothing" in page, key_status(app, secret, api_key_id)) == (True, 403)


@pytest.mark.parametrize(
    ("field", "message"),
    [("api_keys", "There is no API key 999"), ("connections", "There is no connection 999")],
)
def test_an_unknown_id_is_refused_by_name_and_nothing_changes(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    api_key_id: int,
    field: str,
    message: str,
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    ticked = {"api_keys": [api_key_id], field: ["999"]}
    response = save_access(client, signed_in, secret, **ticked)
    body = response.get_data(as_text=True)
    assert (response.status_code, message in body, key_status(app, secret, api_key_id)) == (
        400,
        True,
        200,
    )


@pytest.mark.parametrize("raw", ["٣", "01", "-1", "1e3", "99999999999999999999"])
def test_a_box_value_that_is_not_an_id_is_a_clear_400(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int, raw: str
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    response = save_access(client, signed_in, secret, api_keys=[raw])
    assert (response.status_code, "not one of their ids" in response.get_data(as_text=True)) == (
        400,
        True,
    )


def test_an_id_past_the_database_integer_is_unknown_not_an_error(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    response = save_access(client, signed_in, secret, api_keys=["9999999999"])
    body = response.get_data(as_text=True)
    assert (response.status_code, "There is no API key 9999999999" in body) == (400, True)


def test_a_revoked_client_cannot_be_granted_on_the_page(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,), revoked=True)
    response = save_access(client, signed_in, secret, api_keys=[api_key_id, second_key])
    body = response.get_data(as_text=True)
    assert (response.status_code, "a revoked client cannot be granted" in body) == (400, True)


def test_an_unknown_client_is_a_404(client: FlaskClient, signed_in: AuthActions) -> None:
    assert client.get("/services/4242/grants").status_code == 404


def test_viewers_cannot_open_the_page(
    app: Flask, client: FlaskClient, auth: AuthActions, viewer_id: int, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    auth.login(VIEWER_EMAIL)
    assert client.get(f"/services/{client_id_of(secret)}/grants").status_code == 403


def test_viewers_cannot_change_access(
    app: Flask, client: FlaskClient, auth: AuthActions, viewer_id: int, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    auth.login(VIEWER_EMAIL)
    response = save_access(client, auth, secret)
    assert (response.status_code, key_status(app, secret, api_key_id)) == (403, 200)


def test_the_services_list_links_each_active_client_to_its_access(
    app: Flask, client: FlaskClient, signed_in: AuthActions, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    page = client.get("/services/").get_data(as_text=True)
    assert f'href="/services/{client_id_of(secret)}/grants"' in page


# The command line


def cli(runner: FlaskCliRunner, *args: object) -> tuple[int, str]:
    result = runner.invoke(args=["service-clients", *map(str, args)])
    return result.exit_code, result.output


def test_cli_grant_lets_the_service_use_the_key(
    app: Flask, runner: FlaskCliRunner, user_connection: int, api_key_id: int
) -> None:
    secret = make_client(app, connections=(user_connection,))
    code, _ = cli(runner, "grant", client_id_of(secret), "--api-key", api_key_id)
    assert (code, key_status(app, secret, api_key_id)) == (0, 200)


def test_cli_revoke_grant_takes_the_key_back(
    app: Flask, runner: FlaskCliRunner, user_connection: int, api_key_id: int
) -> None:
    secret = make_client(app, connections=(user_connection,), keys=(api_key_id,))
    code, _ = cli(runner, "revoke-grant", client_id_of(secret), "--api-key", api_key_id)
    assert (code, key_status(app, secret, api_key_id)) == (0, 403)


def test_cli_grant_all_reaches_every_key(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    cli(runner, "grant", client_id_of(secret), "--all")
    assert listed_keys(app, secret) == [api_key_id, second_key]


def test_cli_revoke_grant_all_keeps_the_single_grants(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, everything=True)
    cli(runner, "grant", client_id_of(secret), "--api-key", second_key)
    cli(runner, "revoke-grant", client_id_of(secret), "--all")
    assert listed_keys(app, secret) == [second_key]


def test_cli_grant_of_what_the_client_has_changes_nothing(
    app: Flask, runner: FlaskCliRunner, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    code, output = cli(runner, "grant", client_id_of(secret), "--api-key", api_key_id)
    assert (code, "Nothing changed" in output, audit_rows(app, "service_client.granted")) == (
        0,
        True,
        [],
    )


def test_cli_changes_are_audited_as_the_command_line(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    cli(runner, "grant", client_id_of(secret), "--api-key", second_key)
    assert audit_rows(app, "service_client.granted") == [
        {"target_id": client_id_of(secret), "actor": "cli", "api_keys": [second_key]}
    ]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--api-key", "There is no API key 4242; nothing was changed."),
        ("--connection", "There is no connection 4242; nothing was changed."),
    ],
)
def test_cli_grant_refuses_an_unknown_id(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, option: str, message: str
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    code, output = cli(runner, "grant", client_id_of(secret), option, 4242)
    assert (code, message in output) == (1, True)


def test_cli_grant_refuses_an_id_past_the_database_integer(
    app: Flask, runner: FlaskCliRunner, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    code, output = cli(runner, "grant", client_id_of(secret), "--api-key", 10**20)
    assert (code, f"There is no API key {10**20}" in output) == (1, True)


def test_cli_grant_refuses_a_revoked_client(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,), revoked=True)
    code, output = cli(runner, "grant", client_id_of(secret), "--api-key", second_key)
    assert (code, "a revoked client cannot be granted" in output) == (1, True)


def test_cli_revoke_grant_refuses_what_was_never_granted(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, second_key: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    code, output = cli(runner, "revoke-grant", client_id_of(secret), "--api-key", second_key)
    assert (code, f"was not granted API key {second_key}" in output) == (1, True)


@pytest.mark.parametrize("args", [("grants",), ("grant", "--all"), ("revoke-grant", "--all")])
def test_cli_names_an_unknown_client(runner: FlaskCliRunner, args: tuple[str, ...]) -> None:
    code, output = cli(runner, args[0], 4242, *args[1:])
    assert (code, "There is no service client 4242." in output) == (1, True)


@pytest.mark.parametrize("command", ["grant", "revoke-grant"])
def test_cli_asks_what_to_change_when_nothing_is_named(
    app: Flask, runner: FlaskCliRunner, api_key_id: int, command: str
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    code, output = cli(runner, command, client_id_of(secret))
    assert (code, "Name at least one --connection, --api-key or --all." in output) == (2, True)


def test_cli_grants_lists_each_credential_with_its_fingerprint_and_no_secret(
    app: Flask, runner: FlaskCliRunner, user_connection: int, api_key_id: int
) -> None:
    secret = make_client(app, connections=(user_connection,), keys=(api_key_id,))
    code, output = cli(runner, "grants", client_id_of(secret))
    lines = [line.split()[:3] for line in output.splitlines()[1:]]
    assert (code, lines, secret in output) == (
        0,
        [["connection", str(user_connection), "Employee"], ["API", "key", str(api_key_id)]],
        False,
    )


def test_cli_grants_says_when_a_client_may_use_nothing(
    app: Flask, runner: FlaskCliRunner, api_key_id: int
) -> None:
    secret = make_client(app, keys=(api_key_id,))
    cli(runner, "revoke-grant", client_id_of(secret), "--api-key", api_key_id)
    assert "nothing: every call" in cli(runner, "grants", client_id_of(secret))[1]


def test_cli_create_names_every_unknown_id_the_way_a_grant_does(
    app: Flask, runner: FlaskCliRunner
) -> None:
    code, output = cli(runner, "create", "Payroll", "--connection", 4242, "--api-key", 10**20)
    assert (code, f"There is no connection 4242, API key {10**20}; nothing" in output) == (1, True)
