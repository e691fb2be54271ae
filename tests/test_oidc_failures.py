"""An identity provider that is down, slow or misconfigured: a clear page, nobody signed in,
nothing secret in logs (issue 17)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.infra.extensions import db
from app.models import Admin
from sandbox.testing import SandboxServer
from tests.oidc_flows import IDP_CLIENT_SECRET, answer_url, oidc_settings, page_after

UNREACHABLE = "The identity provider did not answer properly"


@pytest.fixture
def app_settings(app_settings: dict[str, Any], sandbox: SandboxServer) -> dict[str, Any]:
    return {
        **app_settings,
        **oidc_settings(sandbox),
        "FACTORIAL_READ_TIMEOUT": "0.5",
    }


def accounts(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Admin.id))) or 0)


def without_identity_provider(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every OIDC_ one left out."""
    return {k: v for k, v in settings.items() if not k.startswith("OIDC_")}


def test_a_provider_that_is_down_at_the_start_gets_a_clear_page(
    client: FlaskClient, sandbox: SandboxServer
) -> None:
    sandbox.fault("/oidc/.well-known/openid-configuration", status=503)
    page = page_after(client, client.get("/auth/oidc/start"))
    assert UNREACHABLE in page


def test_a_token_endpoint_that_fails_signs_nobody_in(
    app: Flask, client: FlaskClient, sandbox: SandboxServer
) -> None:
    url = answer_url(client, "idp-ana")
    sandbox.fault("/oidc/token", status=500)
    page = page_after(client, client.get(url))
    assert (UNREACHABLE in page, accounts(app)) == (True, 0)


def test_a_token_endpoint_that_hangs_times_out(client: FlaskClient, sandbox: SandboxServer) -> None:
    url = answer_url(client, "idp-ana")
    sandbox.fault("/oidc/token", mode="delay", delay=2.0)
    page = page_after(client, client.get(url))
    assert UNREACHABLE in page


def test_a_jwks_that_fails_signs_nobody_in(
    app: Flask, client: FlaskClient, sandbox: SandboxServer
) -> None:
    url = answer_url(client, "idp-ana")
    sandbox.fault("/oidc/jwks", status=502)
    page = page_after(client, client.get(url))
    assert (UNREACHABLE in page, accounts(app)) == (True, 0)


def test_discovery_naming_another_issuer_is_refused(
    client: FlaskClient, sandbox: SandboxServer
) -> None:
    other = {
        "issuer": "https://idp.attacker.invalid",
        "authorization_endpoint": "https://idp.attacker.invalid/authorize",
        "token_endpoint": "https://idp.attacker.invalid/token",
        "jwks_uri": "https://idp.attacker.invalid/jwks",
    }
    sandbox.fault("/oidc/.well-known/openid-configuration", status=200, body=other)
    page = page_after(client, client.get("/auth/oidc/start"))
    assert "does not match this app" in page


def test_without_an_identity_provider_the_routes_do_not_exist(
    app_settings: dict[str, Any],
) -> None:
    from app import create_app

    plain = without_identity_provider(app_settings)
    assert create_app(plain).test_client().get("/auth/oidc/start").status_code == 404


def test_a_sign_in_logs_neither_the_client_secret_nor_the_code(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    url = answer_url(client, "idp-ana")
    code = url.split("code=")[1].split("&")[0]
    with caplog.at_level(logging.DEBUG):
        client.get(url)
    assert (IDP_CLIENT_SECRET in caplog.text, code in caplog.text) == (False, False)
