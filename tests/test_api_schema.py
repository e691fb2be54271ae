"""The OpenAPI document matches the behaviour: schemathesis drives every operation in-process
(a valid bearer, real credentials at the sandbox) and checks status codes, headers and bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from sandbox.testing import SandboxServer
from tests.factories import grant_user_token, make_client, store_api_key
from tests.helpers import bearer

DOCUMENT = json.loads(
    (Path(__file__).parent.parent / "app" / "web" / "api" / "openapi.json").read_text()
)
OPERATIONS = [
    (path, method)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]


@pytest.fixture
def secret(app: Flask, sandbox: SandboxServer) -> str:
    grant_user_token(app, sandbox)
    store_api_key(app, sandbox)
    return make_client(app, everything=True)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_operation_conforms_to_the_document(
    app: Flask, secret: str, path: str, method: str
) -> None:
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method.upper()]

    @given(case=operation.as_strategy())
    @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=bearer(secret))

    conforms()


def test_document_is_openapi_3_1(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert (document["openapi"], document["servers"]) == ("3.1.0", [{"url": "/api/v1"}])
