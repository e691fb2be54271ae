"""The key itself never leaves its encrypted column: no page, log line or plaintext byte on disk.
Viewers read everything and change nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.api_key_flows import (
    KEY_PATH,
    add_key,
    count_keys,
    create_key,
    delete_in_factorial,
    key_id_from,
    paste,
    post_action,
    seeded_key,
    stored_tokens,
)
from tests.conftest import VIEWER_EMAIL, AuthActions
from tests.helpers import existing_bytes, occurring

pytestmark = pytest.mark.usefixtures("admin_id")


def whole_flow(client: FlaskClient, auth: AuthActions, sandbox: SandboxServer) -> list[str]:
    """Add, fail to add twice, view, verify, create, rotate (one partial), list remote, reject,
    delete. Returns every page body seen on the way."""
    seeded, other = seeded_key(sandbox), sandbox.mint_api_key(1, "Other")
    added = paste(client, auth, seeded["token"])
    pages = [client.get(added.headers["Location"]).get_data(as_text=True)]
    key_id = key_id_from(paste(client, auth, other["token"]))
    pages.append(paste(client, auth, other["token"]).get_data(as_text=True))
    pages.append(paste(client, auth, other["token"] + "\nmore").get_data(as_text=True))
    for path in ("/api-keys/", f"/api-keys/{key_id}", f"/api-keys/{key_id}/factorial"):
        pages.append(client.get(path).get_data(as_text=True))
    created = key_id_from(post_action(client, auth, f"/api-keys/{key_id}/create", label="New"))
    sandbox.fault(f"{KEY_PATH}/{other['id']}", mode="fail", status=503)
    for target in (key_id, created):
        response = post_action(client, auth, f"/api-keys/{target}/rotate")
        pages.append(client.get(response.headers["Location"]).get_data(as_text=True))
    delete_in_factorial(sandbox, seeded)
    post_action(client, auth, f"{added.headers['Location']}/verify")
    pages.append(client.get("/api-keys/").get_data(as_text=True))
    pages.append(post_action(client, auth, f"/api-keys/{key_id}/delete").get_data(as_text=True))
    return pages


def every_token_seen(app: Flask, sandbox: SandboxServer) -> set[str]:
    return {k["token"] for k in sandbox.seed()["api_keys"]} | set(stored_tokens(app))


def test_no_page_ever_shows_a_key(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    pages = whole_flow(client, signed_in, sandbox)
    tokens = every_token_seen(app, sandbox)
    assert occurring(tokens, "\n".join(pages)) == []


def test_no_log_line_ever_holds_a_key(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        whole_flow(client, signed_in, sandbox)
    tokens = every_token_seen(app, sandbox)
    assert caplog.records
    assert occurring(tokens, caplog.text) == []


def test_the_database_file_holds_no_plaintext_key(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer, tmp_path: Path
) -> None:
    whole_flow(client, signed_in, sandbox)
    tokens = every_token_seen(app, sandbox)
    files = [tmp_path / "test.sqlite3", tmp_path / "test.sqlite3-wal"]
    data = existing_bytes(files)
    assert len(tokens) >= 3
    assert occurring([t.encode() for t in tokens], data) == []


@pytest.fixture
def viewer(client: FlaskClient, auth: AuthActions, viewer_id: int) -> AuthActions:
    auth.login(VIEWER_EMAIL)
    return auth


@pytest.fixture
def stored_id(app: Flask, sandbox: SandboxServer) -> int:
    return add_key(app, 1, seeded_key(sandbox)["token"])


POSTS = ["/api-keys/new", "/api-keys/1/verify", "/api-keys/1/rotate", "/api-keys/1/create",
         "/api-keys/1/delete"]  # fmt: skip


@pytest.mark.parametrize("path", POSTS)
def test_viewers_get_403_on_every_post(
    client: FlaskClient, viewer: AuthActions, stored_id: int, path: str
) -> None:
    data = {"csrf_token": viewer.csrf("/api-keys/"), "label": "x", "environment": "demo"}
    assert client.post(path, data={**data, "key": "a.b.c"}).status_code == 403


@pytest.mark.parametrize("path", ["/api-keys/new", "/api-keys/1/delete"])
def test_viewers_cannot_open_the_change_forms(
    client: FlaskClient, viewer: AuthActions, stored_id: int, path: str
) -> None:
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/api-keys/", "/api-keys/1"])
def test_viewers_see_no_action_buttons(
    client: FlaskClient, viewer: AuthActions, stored_id: int, path: str
) -> None:
    body = client.get(path).get_data(as_text=True)
    assert "Payroll export" in body
    assert occurring(("Add an API key", "Rotate", "Re-verify", "Delete", "Create"), body) == []


def test_a_viewers_post_changes_nothing(
    app: Flask, client: FlaskClient, viewer: AuthActions, stored_id: int
) -> None:
    client.post("/api-keys/1/delete", data={"csrf_token": viewer.csrf("/api-keys/")})
    assert count_keys(app) == 1


def test_created_keys_never_show_in_the_page_that_announces_them(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    created = create_key(app, 1, add_key(app, 1, seeded_key(sandbox)["token"]))
    body = client.get(f"/api-keys/{created}").get_data(as_text=True)
    assert occurring(stored_tokens(app), body) == []
