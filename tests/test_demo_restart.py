"""A demo restart (`make run` again) keeps the sandbox's state in its file, so connections and
API keys the app made before it still work after it, through the app's own services."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.infra.extensions import db
from app.models import ApiKey
from app.refresh import lifecycle
from app.services import notify
from app.services.keys import api_key_verification
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests.conftest import REDIRECT_URI, AuthActions
from tests.factories import make_client, store_api_key
from tests.flows import ACME_ADMIN, connect_account, connection_id_from
from tests.helpers import bearer, expire_soon
from tests.lifecycle import HOOK_URL, access_token, connect_user, refresh


@pytest.fixture
def factorial(tmp_path: Path) -> Iterator[SandboxServer]:
    """A sandbox on a file, as `make run` starts it; `restart()` is Ctrl-C and `make run`."""
    server = SandboxServer(redirect_uris=[REDIRECT_URI], db=tmp_path / "sandbox.sqlite3")
    with server:
        yield server


@pytest.fixture
def app_settings(app_settings: dict[str, Any], factorial: SandboxServer) -> dict[str, Any]:
    return {**app_settings, "FACTORIAL_DEMO_BASE_URL": factorial.url}


def test_user_connection_refreshes_after_a_sandbox_restart(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int, factorial: SandboxServer
) -> None:
    auth.login()
    connection_id = connect_user(client, auth, factorial)
    factorial.restart()
    assert refresh(app, connection_id, force=True).result == "refreshed"


def test_token_endpoint_vends_after_a_sandbox_restart(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int, factorial: SandboxServer
) -> None:
    auth.login()
    connection_id = connect_user(client, auth, factorial)
    secret = make_client(app, connections=(connection_id,))
    before = access_token(app, connection_id)
    factorial.restart()
    expire_soon(app, connection_id)
    response = client.get(f"/api/v1/connections/{connection_id}/token", headers=bearer(secret))
    assert (response.status_code, response.get_json()["access_token"] != before) == (200, True)


def test_company_connection_passes_its_health_check_after_a_sandbox_restart(
    app: Flask, client: FlaskClient, auth: AuthActions, admin_id: int, factorial: SandboxServer
) -> None:
    auth.login()
    connection_id = connection_id_from(
        connect_account(client, auth, factorial, "company", ACME_ADMIN)
    )
    factorial.restart()
    with app.app_context():
        deps = replace(wiring(app).deps, notifier=notify.Notifier(HOOK_URL))
        result = lifecycle.health_check(db.session, connection_id, deps)
    assert result == "ok"


def test_api_key_still_verifies_after_a_sandbox_restart(
    app: Flask, factorial: SandboxServer
) -> None:
    key_id = store_api_key(app, factorial)
    factorial.restart()
    with app.app_context():
        key = db.session.get(ApiKey, key_id)
        assert key is not None
        deps = replace(wiring(app).deps, notifier=notify.Notifier(HOOK_URL))
        result = api_key_verification.verify(db.session, key, deps)
    assert result == "ok"
