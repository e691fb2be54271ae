"""Rows the service API tests start from: real sandbox grants, API keys and service clients."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask

from app.factorial import FactorialClient
from app.infra.extensions import db
from app.models import Connection, utcnow
from app.services.audit import Actor
from app.services.connection_store import token_values
from app.services.keys import api_keys
from app.services.service_api import service_client_creations, service_clients
from app.wiring import wiring
from sandbox.testing import SandboxServer

ADMIN = Actor("admin", None, "tests")


def grant_user_token(app: Flask, sandbox: SandboxServer, employee_id: str = "1002") -> int:
    """A real user grant at the sandbox, stored as a connection row; returns its id."""
    client = FactorialClient(wiring(app).settings.environments["demo"])
    verifier = client.new_code_verifier()
    url = client.authorization_url(state=client.new_state(), kind="user", code_verifier=verifier)
    code = parse_qs(urlsplit(sandbox.approve(url, 1002)).query)["code"][0]
    token = client.exchange_code(code, code_verifier=verifier)
    with app.app_context():
        row = Connection(environment="demo", kind="user", company_id="1", employee_id=employee_id)
        for name, value in token_values(token, utcnow()).items():
            setattr(row, name, value)
        db.session.add(row)
        db.session.commit()
        return int(row.id)


def store_api_key(app: Flask, sandbox: SandboxServer, company_id: int = 1) -> int:
    token = next(k["token"] for k in sandbox.seed()["api_keys"] if k["company_id"] == company_id)
    with app.app_context():
        key = api_keys.add(
            db.session, wiring(app).deps, environment="demo",
            label=f"Company {company_id}", raw_key=token, actor=ADMIN,
        )  # fmt: skip
        return int(key.id)


def make_client(
    app: Flask,
    *,
    scopes: tuple[str, ...] = ("token:read", "proxy"),
    connections: tuple[int, ...] = (),
    keys: tuple[int, ...] = (),
    everything: bool = False,
    revoked: bool = False,
) -> str:
    """A service client's secret."""
    with app.app_context():
        client, secret = service_client_creations.create(
            db.session, wiring(app).deps, name="Payroll sync", scopes=scopes,
            connection_ids=connections, api_key_ids=keys, all_credentials=everything, actor=ADMIN,
        )  # fmt: skip
        if revoked:
            service_clients.revoke(db.session, client, wiring(app).deps, actor=ADMIN)
        return secret
