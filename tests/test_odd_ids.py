"""Ids and page numbers in URLs: anything but a canonical number in range is a 404 or a 400,
on every route, for every method; never a 500, and never another record's page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from app.models import SCOPES
from app.web.numbers import MAX_ID, IdConverter, up_to
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions
from tests.factories import grant_user_token, make_client, store_api_key
from tests.helpers import bearer

ODD_IDS = {
    "huge": "99999999999999999999",
    "just past the largest id": str(MAX_ID + 1),
    "superscript two": "²",
    "Arabic-Indic one": "\u0661",
    "fullwidth one": "\uff11",
    "negative": "-1",
    "plus sign": "+1",
    "leading zero": "01",
    "zero": "0",
    "decimal": "1.0",
}
ODD_PAGES = {
    **ODD_IDS,
    "empty": "",
    "past the last page": "10001",
    "five thousand digits": "9" * 5000,
}
ODD_SECRETS = {
    "superscript digit": "fcs_²_abc",
    "superscript digits": "fcs_¹²³_abc",
    "Arabic-Indic digit": "fcs_\u0661_abc",
    "too many digits": "fcs_99999999999999999999_abc",
    "past the largest id": f"fcs_{MAX_ID + 1}_abc",
}
ARGUMENT = re.compile(r"<(?:(?P<converter>[^:>]+):)?(?P<name>[^>]+)>")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE_PATH = "2026-10-01/resources/employees/employees"


def ids_of(rule: Rule) -> set[str]:
    """The rule's arguments that are numbers: `<id:…>`, or werkzeug's `<int:…>`/`<float:…>`."""
    numeric = (IdConverter, NumberConverter)
    return {name for name, c in rule._converters.items() if isinstance(c, numeric)}


def id_rules(app: Flask) -> list[Rule]:
    """Every route with a record id in its path, whatever number converter it declares."""
    return [rule for rule in app.url_map.iter_rules() if ids_of(rule)]


def get_rules(app: Flask) -> list[Rule]:
    """The id routes that answer GET."""
    return [rule for rule in id_rules(app) if "GET" in (rule.methods or ())]


def methods_of(rule: Rule) -> list[str]:
    """GET and POST, plus whichever other method the rule declares: what the walk tries."""
    return sorted({"GET", "POST"} | (set(rule.methods or ()) & set(METHODS)))


def lenient_numbers(app: Flask) -> list[tuple[str, str]]:
    """(route, argument) of every argument read by werkzeug's lenient number converters."""
    return [
        (rule.rule, name)
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if isinstance(converter, NumberConverter)
    ]


def answered_otherwise(
    answers: Sequence[tuple[object, ...]], *statuses: int
) -> list[tuple[object, ...]]:
    """The answers (status last) whose status is none of `statuses`."""
    return [answer for answer in answers if answer[-1] not in statuses]


def path_with(rule: Rule, odd: str) -> str:
    """The rule's path with `odd` for each id, and a valid value for any other argument (the
    first choice of an `any(…)`, an API path for a `path`)."""

    def fill(match: re.Match[str]) -> str:
        name, converter = match["name"], match["converter"] or ""
        if name in ids_of(rule):
            return quote(odd, safe="")
        if converter.startswith("any("):
            return converter.removeprefix("any(").split(",")[0].strip(" )")
        return SAMPLE_PATH if converter == "path" else "x"

    return ARGUMENT.sub(fill, rule.rule)


@pytest.fixture
def everything(app: Flask, sandbox: SandboxServer, signed_in: AuthActions) -> dict[str, str]:
    """Record 1 of every kind exists (the signed-in admin is 1), so a lenient converter that
    reads "01" or an Arabic-Indic one as 1 would show a real page; headers for every request."""
    grant_user_token(app, sandbox)
    store_api_key(app, sandbox)
    secret = make_client(app, scopes=tuple(SCOPES), everything=True)
    return {"csrf_token": signed_in.csrf("/"), **bearer(secret)}


def test_the_walk_finds_the_id_routes(app: Flask) -> None:
    assert len(id_rules(app)) >= 20


def test_every_number_in_a_route_uses_the_id_converter(app: Flask) -> None:
    assert lenient_numbers(app) == []


@pytest.mark.parametrize("odd", ODD_IDS.values(), ids=ODD_IDS.keys())
def test_an_odd_id_is_not_found_on_every_route_and_method(
    app: Flask, client: FlaskClient, everything: dict[str, str], odd: str
) -> None:
    headers = {"Authorization": everything["Authorization"]}
    form = {"csrf_token": everything["csrf_token"]}
    answers = [
        (method, path, client.open(path, method=method, headers=headers, data=form).status_code)
        for rule in id_rules(app)
        for path in [path_with(rule, odd)]
        for method in methods_of(rule)
    ]
    assert answered_otherwise(answers, 400, 404) == []


@pytest.mark.parametrize("path", ["/", "/audit/"])
@pytest.mark.parametrize("page", ODD_PAGES.values(), ids=ODD_PAGES.keys())
def test_an_odd_page_number_is_a_bad_request(
    client: FlaskClient, signed_in: AuthActions, path: str, page: str
) -> None:
    response = client.get(path, query_string={"page": page})

    assert (response.status_code, "from 1 to 10,000" in response.get_data(as_text=True)) == (
        400,
        True,
    )


@pytest.mark.parametrize("path", ["/", "/audit/"])
@pytest.mark.parametrize("page", [" 2", "2 ", "10000"])
def test_a_page_number_in_range_is_accepted(
    client: FlaskClient, signed_in: AuthActions, path: str, page: str
) -> None:
    assert client.get(path, query_string={"page": page}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/connections", "/api/v1/connections/1/token"])
@pytest.mark.parametrize("secret", ODD_SECRETS.values(), ids=ODD_SECRETS.keys())
def test_an_odd_service_secret_is_an_invalid_token(
    client: FlaskClient, everything: dict[str, str], path: str, secret: str
) -> None:
    response = client.get(path, headers=bearer(secret))

    assert (response.status_code, response.get_json()["error"]) == (401, "invalid_token")


@settings(max_examples=300, deadline=None)
@given(limit=st.integers(1, 2**40), number=st.integers(-10, 2**41))
def test_the_id_pattern_matches_exactly_the_numbers_in_range(limit: int, number: int) -> None:
    matched = re.fullmatch(up_to(limit), str(number)) is not None

    assert matched == (1 <= number <= limit)


@pytest.mark.parametrize("limit", [1, 9, 10, 99, 100, 2**31 - 1])
def test_the_id_pattern_includes_its_limit_and_refuses_the_next(limit: int) -> None:
    pattern = up_to(limit)

    assert (
        re.fullmatch(pattern, str(limit)) is not None,
        re.fullmatch(pattern, f"{limit + 1}"),
    ) == (
        True,
        None,
    )


def test_the_walk_reaches_every_get_route_with_a_real_id(
    app: Flask, client: FlaskClient, everything: dict[str, str]
) -> None:
    headers = {"Authorization": everything["Authorization"]}
    answers = [
        (path, client.get(path, headers=headers).status_code)
        for path in (path_with(rule, "1") for rule in get_rules(app))
    ]
    assert answered_otherwise(answers, 200) == []
