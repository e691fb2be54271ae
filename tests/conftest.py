"""Fresh app per test with test settings; `client`, `runner`, `auth` and account fixtures."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.infra.extensions import db
from app.infra.logging import JsonFormatter
from app.infra.settings import SANDBOX_CLIENT_SECRET
from app.models import Admin
from app.services.people import admins
from sandbox.testing import SandboxServer
from tests import factories, network_guard

ADMIN_EMAIL = "ada@example.com"
VIEWER_EMAIL = "vera@example.com"
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def reset_postgres(url: str) -> None:
    """Give each test an empty public schema on the shared PostgreSQL test database."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite in the test's folder, or the PostgreSQL server named by TEST_DATABASE_URL."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url:
        reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


CANARY_SECRET_KEY = "canary-secret-key-" + "k" * 40


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log_line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every log record of the whole run, at DEBUG, written as JSON lines; at the end each line
    must parse and none may carry a canary secret (password, signing key, client secret)."""
    path = tmp_path_factory.mktemp("logs") / "suite.jsonl"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    handler.close()
    canaries = (PASSWORD, CANARY_SECRET_KEY, SANDBOX_CLIENT_SECRET)
    lines = path.read_text(encoding="utf-8").splitlines()
    leaks = [
        line[:200] for line in lines if any(c in json.loads(line)["message"] for c in canaries)
    ]
    assert leaks == [], f"secrets reached the logs: {leaks[:3]}"


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Fails a test that connects anywhere but loopback or a Unix socket, even if the code under
    test swallows the refusal. It guards this process and its threads only: subprocesses
    (gunicorn, the sweeper, browsers) are out of its reach."""
    with pytest.MonkeyPatch.context() as patch:
        refused = network_guard.install(patch)
        yield
    assert refused == [], f"the test reached beyond loopback: {refused}"


@pytest.fixture(scope="session")
def factorial_sandbox() -> Iterator[SandboxServer]:
    """One real sandbox process (Factorial's stand-in) for the whole run, over HTTP on loopback."""
    with SandboxServer(redirect_uris=[REDIRECT_URI]) as server:
        yield server


@pytest.fixture
def sandbox(factorial_sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox, back at its seed with zero counts."""
    factorial_sandbox.reset()
    return factorial_sandbox


@pytest.fixture
def app_settings(tmp_path: Path, database_url: str, sandbox: SandboxServer) -> dict[str, Any]:
    """The overrides each test app starts from; tests may add to them before `app` is built."""
    return {
        "APP_ENV": "test",
        "FACTORIAL_DEMO_BASE_URL": sandbox.url,
        "FACTORIAL_DEMO_REDIRECT_URI": REDIRECT_URI,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SESSION_COOKIE_SECURE": "false",
        "SCHEDULER": "off",
        "LOG_LEVEL": "DEBUG",
        "SECRET_KEY": CANARY_SECRET_KEY,
    }


@pytest.fixture
def app(app_settings: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_settings)
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Sign in and out through the real pages, CSRF included."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str = ADMIN_EMAIL, password: str = PASSWORD, next_: str = "") -> Any:
        token = self.csrf("/login")
        data = {"email": email, "password": password, "csrf_token": token, "next": next_}
        return self.client.post("/login", data=data)

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def signed_in(auth: AuthActions, admin_id: int) -> AuthActions:
    """The test client, signed in as the admin."""
    auth.login()
    return auth


def make_account(app: Flask, email: str, role: str) -> int:
    with app.app_context():
        return admins.create_admin(db.session, email, PASSWORD, role).id


@pytest.fixture
def admin_id(app: Flask) -> int:
    return make_account(app, ADMIN_EMAIL, "admin")


@pytest.fixture
def viewer_id(app: Flask) -> int:
    return make_account(app, VIEWER_EMAIL, "viewer")


def load_admin(app: Flask, admin_id: int) -> Admin:
    with app.app_context():
        admin = db.session.get(Admin, admin_id)
        assert admin is not None
        db.session.expunge(admin)
        return admin


@pytest.fixture
def user_connection(app: Flask, sandbox: SandboxServer) -> int:
    """A real user grant at the sandbox, stored as a connection row."""
    return factories.grant_user_token(app, sandbox)


@pytest.fixture
def api_key_id(app: Flask, sandbox: SandboxServer) -> int:
    """The sandbox's seeded key of company 1, stored through the service."""
    return factories.store_api_key(app, sandbox)
