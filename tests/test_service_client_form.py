"""The new-service-client form: one client per submitted form however often it is sent, the
secret shown once on the page it redirects to and never in a URL, a cookie or a flash message;
each error under its own field."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.infra.extensions import db
from app.models import ServiceClient, ServiceClientCreation
from tests.conftest import PASSWORD, AuthActions, make_account
from tests.helpers import SECRET_RE, copy_of, count_rows, new_form, session_data

pytestmark = pytest.mark.usefixtures("admin_id")


def post(client: FlaskClient, form: dict[str, object]) -> TestResponse:
    return client.post("/services/new", data=form)


def secret_in(response: TestResponse) -> str | None:
    found = SECRET_RE.search(response.get_data(as_text=True))
    return found.group(0) if found else None


@pytest.fixture
def admin(auth: AuthActions, client: FlaskClient) -> FlaskClient:
    auth.login()
    return client


@pytest.mark.parametrize("times", [2, 3])
def test_the_same_form_sent_again_creates_one_client(
    app: Flask, admin: FlaskClient, times: int
) -> None:
    form = new_form(admin)
    for _ in range(times):
        post(admin, form)
    assert count_rows(app, ServiceClient) == 1


def test_the_same_form_sent_twice_at_once_creates_one_client(
    app: Flask, admin: FlaskClient
) -> None:
    form = new_form(admin)
    browsers = [copy_of(app, admin) for _ in range(2)]
    start = threading.Barrier(len(browsers))
    statuses: list[int] = []

    def send(browser: FlaskClient) -> None:
        start.wait()
        statuses.append(post(browser, form).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (statuses, count_rows(app, ServiceClient)) == ([303, 303], 1)


def test_two_forms_create_two_clients(app: Flask, admin: FlaskClient) -> None:
    post(admin, new_form(admin))
    post(admin, new_form(admin))
    assert count_rows(app, ServiceClient) == 2


def test_the_form_answers_with_a_redirect_to_a_url_without_the_secret(admin: FlaskClient) -> None:
    response = post(admin, new_form(admin))
    location = response.headers["Location"]
    assert (
        response.status_code,
        location.startswith("/services/created/"),
        "fcs_" in location,
    ) == (
        303,
        True,
        False,
    )


def test_the_page_after_the_form_shows_the_secret(admin: FlaskClient) -> None:
    response = post(admin, new_form(admin))
    assert secret_in(admin.get(response.headers["Location"])) is not None


def test_reloading_that_page_shows_no_secret(admin: FlaskClient) -> None:
    location = post(admin, new_form(admin)).headers["Location"]
    admin.get(location)
    again = admin.get(location)
    assert (
        again.status_code,
        secret_in(again),
        "already created" in again.get_data(as_text=True),
    ) == (
        200,
        None,
        True,
    )


def test_sending_the_form_again_says_already_created_without_the_secret(
    admin: FlaskClient,
) -> None:
    form = new_form(admin)
    admin.get(post(admin, form).headers["Location"])
    again = admin.get(post(admin, form).headers["Location"])
    assert (secret_in(again), "already created" in again.get_data(as_text=True)) == (None, True)


def test_a_double_click_still_shows_the_secret_once(admin: FlaskClient) -> None:
    """Both submissions lead to the same page; the browser shows the last one, which has it."""
    form = new_form(admin)
    post(admin, form)
    response = admin.get(post(admin, form).headers["Location"])
    assert secret_in(response) is not None


def test_the_secret_never_reaches_a_url_a_cookie_or_a_flash(app: Flask, admin: FlaskClient) -> None:
    """Every redirect target, and the session cookie (where flashes wait) after every answer."""
    form = new_form(admin)
    location = post(admin, form).headers["Location"]
    seen = [location, repr(session_data(app, admin))]
    page = admin.get(location)
    seen.append(repr(session_data(app, admin)))
    seen += [post(admin, form).headers["Location"], repr(session_data(app, admin))]
    secret = secret_in(page)
    assert (secret is not None, [secret in text for text in seen]) == (True, [False] * 5)


def test_only_the_admin_who_sent_the_form_sees_its_page(app: Flask, admin: FlaskClient) -> None:
    location = post(admin, new_form(admin)).headers["Location"]
    make_account(app, "second@example.com", "admin")
    other = AuthActions(app.test_client())
    other.login("second@example.com", PASSWORD)
    assert other.client.get(location).status_code == 404


@pytest.mark.parametrize("form_id", ["unknown-form-id-000000000", "x", "%E2%80%AE" * 10])
def test_an_unknown_form_page_is_not_found(admin: FlaskClient, form_id: str) -> None:
    assert admin.get(f"/services/created/{form_id}").status_code == 404


@pytest.mark.parametrize("form_id", ["", "short", "no spaces allowed in form ids!!", "é" * 30])
def test_a_form_without_a_valid_id_is_refused(app: Flask, admin: FlaskClient, form_id: str) -> None:
    response = post(admin, new_form(admin, form_id=form_id))
    assert (response.status_code, count_rows(app, ServiceClient)) == (400, 0)


def test_the_secret_is_not_shown_once_its_window_passed(admin: FlaskClient) -> None:
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        location = post(admin, new_form(admin)).headers["Location"]
        traveller.shift(timedelta(minutes=10))
        assert secret_in(admin.get(location)) is None


@pytest.mark.parametrize("minutes", [1, 11], ids=["shown", "window-passed"])
def test_the_stored_copy_of_the_secret_is_dropped(
    app: Flask, admin: FlaskClient, minutes: int
) -> None:
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        location = post(admin, new_form(admin)).headers["Location"]
        traveller.shift(timedelta(minutes=minutes))
        admin.get(location)
    with app.app_context():
        assert db.session.scalars(select(ServiceClientCreation.secret)).all() == [None]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"scopes": []}, "scopes", "Choose at least one scope."),
        ({"reach": "chosen"}, "reach", "Choose the connections or API keys it may use"),
        ({"name": "   "}, "name", "This field is required."),
        ({"reach": "chosen", "connections": ["42"]}, "connections", "A ticked connection no"),
    ],
    ids=["scopes", "reach", "name", "connections"],
)
def test_each_error_sits_under_its_own_field(
    admin: FlaskClient, fields: dict[str, Any], field: str, message: str
) -> None:
    page = post(admin, new_form(admin, **fields)).get_data(as_text=True)
    errors = [chunk.split('"', 1)[0] for chunk in page.split('class="field-error" id="')[1:]]
    assert (errors, f'id="{field}-error">{message}' in page) == ([f"{field}-error"], True)
