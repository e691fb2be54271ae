"""Rotation over the sandbox's keys API: whichever step fails, a working key stays stored."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.api_key_flows import (
    CREDENTIALS_PATH,
    KEY_PATH,
    add_key,
    count_keys,
    create_key,
    delete_in_factorial,
    load_key,
    post_action,
    remote_ids,
    seeded_key,
    stored_tokens,
    valid_stored_keys,
    works_in_factorial,
)
from tests.conftest import AuthActions

pytestmark = pytest.mark.usefixtures("admin_id")


def rotate(client: FlaskClient, auth: AuthActions, key_id: int) -> str:
    """POST Rotate; returns the page it lands on."""
    response = post_action(client, auth, f"/api-keys/{key_id}/rotate")
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_rotation_replaces_the_key_everywhere(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    old = seeded_key(sandbox)["token"]
    rotate(client, signed_in, add_key(app, 1, old))
    (new,) = stored_tokens(app)
    assert (new != old, works_in_factorial(sandbox, new), works_in_factorial(sandbox, old)) == (
        True,
        True,
        False,
    )


def test_rotated_key_keeps_the_label_and_knows_its_factorial_id(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    rotate(client, signed_in, add_key(app, 1, seeded_key(sandbox)["token"], label="Payroll"))
    (new,) = stored_tokens(app)
    key = load_key(app, 2)
    assert key is not None and key.label == "Payroll"
    assert key.remote_key_id in remote_ids(sandbox, new)


def test_rotation_with_failing_create_changes_nothing(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    created_id = create_key(app, 1, add_key(app, 1, seeded_key(sandbox)["token"]))
    before = stored_tokens(app)
    sandbox.fault(KEY_PATH, mode="fail", status=503)
    body = rotate(client, signed_in, created_id)
    assert "Not rotated" in body
    assert (stored_tokens(app), valid_stored_keys(app, sandbox)) == (before, 2)


def test_rotation_with_failing_verify_of_the_new_key_keeps_the_old_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    old = seeded_key(sandbox)["token"]
    key_id = add_key(app, 1, old)
    sandbox.fault(CREDENTIALS_PATH, mode="fail", status=503)
    body = rotate(client, signed_in, key_id)
    assert "the old key is kept" in body
    assert old in stored_tokens(app) and valid_stored_keys(app, sandbox) == 2


def test_rotation_with_failing_delete_of_the_old_key_keeps_both(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    sandbox.fault(f"{KEY_PATH}/{seeded['id']}", mode="fail", status=503)
    body = rotate(client, signed_in, key_id)
    assert "both are kept" in body
    assert (count_keys(app), valid_stored_keys(app, sandbox)) == (2, 2)


def test_old_key_left_by_a_partial_rotation_points_to_its_replacement(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    sandbox.fault(f"{KEY_PATH}/{seeded['id']}", mode="fail", status=503)
    rotate(client, signed_in, key_id)
    old = load_key(app, key_id)
    assert old is not None and old.replaced_by_id == key_id + 1


def test_rotation_of_a_key_deleted_in_factorial_uses_another_key_of_the_company(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    sibling = sandbox.mint_api_key(1, "Sibling")
    key_id = add_key(app, 1, seeded["token"])
    add_key(app, 1, sibling["token"], label="Sibling")
    delete_in_factorial(sandbox, seeded)
    post_action(client, signed_in, f"/api-keys/{key_id}/verify")
    rotate(client, signed_in, key_id)
    assert (count_keys(app), valid_stored_keys(app, sandbox)) == (2, 2)
