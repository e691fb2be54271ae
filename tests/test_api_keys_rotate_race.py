"""Two admins changing the same API key at once: one change happens, the other is told why not.

The threads run real requests against the real database (PostgreSQL when TEST_DATABASE_URL is
set); the sandbox's delay fault holds the first request inside Factorial's keys API while the
second arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.infra import leases
from app.infra.extensions import db
from app.models import utcnow
from sandbox.testing import SandboxServer
from tests.api_key_flows import (
    KEY_PATH,
    add_key,
    count_keys,
    create_key,
    load_key,
    post_action,
    remote_ids,
    seeded_key,
    stored_tokens,
)
from tests.conftest import AuthActions

pytestmark = pytest.mark.usefixtures("admin_id")
Answer = tuple[TestResponse, str]


def signed_in_client(app: Flask) -> tuple[FlaskClient, AuthActions]:
    client = app.test_client()
    auth = AuthActions(client)
    auth.login()
    return client, auth


def twice_at_once(
    app: Flask, sandbox: SandboxServer, path: str, slow: str, **form: str
) -> list[Answer]:
    """POST `path` as two admins whose pages were open before either acted; the first request
    is held 1 s at Factorial's `slow` path, and the second starts meanwhile. Each answer comes
    with the page its redirect shows."""
    sessions = [signed_in_client(app) for _ in range(2)]
    tokens = [auth.csrf(path.rsplit("/", 1)[0]) for _, auth in sessions]
    sandbox.fault(slow, mode="delay", delay=1.0, count=2)
    answers: list[Answer] = []

    def post(index: int) -> None:
        client, _ = sessions[index]
        response = client.post(path, data={"csrf_token": tokens[index], **form})
        page = client.get(response.headers.get("Location", "/")).get_data(as_text=True)
        answers.append((response, page))

    first = threading.Thread(target=post, args=(0,))
    first.start()
    time.sleep(0.3)
    post(1)
    first.join()
    return answers


@pytest.fixture
def created_key(app: Flask, sandbox: SandboxServer) -> int:
    """A key created through Factorial's keys API (so it has a Factorial id), beside the seeded
    key that authorised it."""
    return create_key(app, 1, add_key(app, 1, seeded_key(sandbox)["token"]))


RotateTwice = Callable[[], list[Answer]]


@pytest.fixture
def rotate_twice(app: Flask, sandbox: SandboxServer, created_key: int) -> RotateTwice:
    return lambda: twice_at_once(app, sandbox, f"/api-keys/{created_key}/rotate", KEY_PATH)


def test_two_rotations_at_once_both_answer_with_a_redirect(rotate_twice: RotateTwice) -> None:
    assert [response.status_code for response, _ in rotate_twice()] == [303, 303]


def test_two_rotations_at_once_create_one_new_key(
    app: Flask, sandbox: SandboxServer, rotate_twice: RotateTwice
) -> None:
    rotate_twice()
    tokens = stored_tokens(app)
    assert (len(tokens), len(remote_ids(sandbox, tokens[0]))) == (2, 2)


def test_the_second_of_two_rotations_at_once_is_told_nothing_was_changed(
    rotate_twice: RotateTwice,
) -> None:
    """It hears "someone else is rotating" or, if it reached the key only after the first
    finished (SQLite serialises the two), "already rotated"."""
    pages = [page for _, page in rotate_twice()]
    assert sum("nothing was changed" in page for page in pages) == 1


def test_a_rotation_while_the_key_is_leased_changes_nothing(
    app: Flask, client: FlaskClient, signed_in: AuthActions, created_key: int
) -> None:
    with app.app_context():
        held = leases.hold(
            db.session, f"api_key:{created_key}", "another admin", utcnow(), timedelta(minutes=5)
        )
    response = post_action(client, signed_in, f"/api-keys/{created_key}/rotate")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (held, "Someone else is rotating" in page, count_keys(app)) == (True, True, 2)


def test_rotating_from_a_page_older_than_a_finished_rotation_points_to_the_new_key(
    client: FlaskClient, signed_in: AuthActions, created_key: int
) -> None:
    stale_token = signed_in.csrf(f"/api-keys/{created_key}")
    first = post_action(client, signed_in, f"/api-keys/{created_key}/rotate")
    again = client.post(f"/api-keys/{created_key}/rotate", data={"csrf_token": stale_token})
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert (again.headers["Location"], "already rotated" in page) == (
        first.headers["Location"],
        True,
    )


def test_a_key_already_replaced_by_a_partial_rotation_is_not_rotated_again(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    sandbox.fault(f"{KEY_PATH}/{seeded['id']}", mode="fail", status=503)
    post_action(client, signed_in, f"/api-keys/{key_id}/rotate")
    response = post_action(client, signed_in, f"/api-keys/{key_id}/rotate")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("already rotated" in page, count_keys(app)) == (True, 2)


def test_two_deletions_at_once_both_answer_with_a_redirect(
    app: Flask, sandbox: SandboxServer, created_key: int
) -> None:
    key = load_key(app, created_key)
    assert key is not None
    path, slow = f"/api-keys/{created_key}/delete", f"{KEY_PATH}/{key.remote_key_id}"
    answers = twice_at_once(app, sandbox, path, slow, in_factorial="y")
    assert [response.status_code for response, _ in answers] == [303, 303]


def test_a_deletion_says_which_key_it_deleted(
    client: FlaskClient, signed_in: AuthActions, created_key: int
) -> None:
    response = post_action(client, signed_in, f"/api-keys/{created_key}/delete")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Deleted Nightly sync (" in page
