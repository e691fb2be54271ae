"""Security headers, error pages in HTML and JSON, and cookie flags."""

from __future__ import annotations

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient

from app import create_app
from sandbox.testing import SandboxServer
from tests.conftest import AuthActions


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
    ],
)
def test_security_headers(client: FlaskClient, header: str, expected: str) -> None:
    assert client.get("/login").headers[header] == expected


def test_the_oauth_callback_is_never_sent_as_a_referer(client: FlaskClient) -> None:
    """Its URL carries `code` and `state`, whatever the answer."""
    response = client.get("/oauth/callback?code=c0de&state=5tate")
    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]


def test_a_rejected_callback_to_an_admin_is_never_sent_as_a_referer(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    response = client.get("/oauth/callback?code=c0de&state=5tate")
    assert (response.status_code, response.headers.getlist("Referrer-Policy")) == (
        400,
        ["no-referrer"],
    )


def test_a_view_cannot_weaken_the_referrer_policy(app: Flask, client: FlaskClient) -> None:
    @app.get("/loose")
    def loose() -> Response:
        return Response("x", headers={"Referrer-Policy": "unsafe-url"})

    assert client.get("/loose").headers.getlist("Referrer-Policy") == ["same-origin"]


def test_csp_forbids_inline_script_and_framing(client: FlaskClient) -> None:
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )


def test_csp_lets_forms_redirect_to_factorial(client: FlaskClient, sandbox: SandboxServer) -> None:
    assert sandbox.url in client.get("/login").headers["Content-Security-Policy"]


def test_no_hsts_outside_production(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_headers_on_error_pages_too(client: FlaskClient) -> None:
    assert client.get("/no-such-page").headers["X-Content-Type-Options"] == "nosniff"


def test_html_404_is_friendly(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert (response.status_code, b"Not found" in response.data) == (404, True)


def test_api_404_is_json(client: FlaskClient) -> None:
    assert client.get("/api/v1/nothing").get_json()["error"] == "not_found"


def test_405_is_friendly(client: FlaskClient) -> None:
    response = client.delete("/login")
    assert (response.status_code, b"Method not allowed" in response.data) == (405, True)


def test_405_names_allowed_methods(client: FlaskClient) -> None:
    assert "GET" in client.delete("/login").headers["Allow"]


def test_500_is_friendly_and_secret_free(app_settings: dict[str, str]) -> None:
    app = create_app({**app_settings, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("access_token=supersecretvalue123")

    response = app.test_client().get("/boom")
    assert (response.status_code, b"supersecretvalue123" in response.data) == (500, False)


def test_request_id_is_generated(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
