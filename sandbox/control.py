"""The `/_sandbox/` control API (modes `test` and `demo` only): JSON in, JSON out.

It lets tests and demos do what only Factorial's staff or UI could: inject faults, revoke
grants as an admin, move the clock, mint API keys, approve consent without a browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Request, Response, jsonify, request
from sqlalchemy import select

from sandbox.consent import authorize_request, decide
from sandbox.context import current, db
from sandbox.faults import Fault
from sandbox.models import Company, Employee, Grant, Token
from sandbox.oauth_clients import revoke_grant
from sandbox.store import mint_api_key

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {}
    return body


def _bad(message: str) -> tuple[Response, int]:
    return jsonify({"error": "invalid_request", "error_description": message}), 400


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    try:
        fault = Fault(**_body())
    except (TypeError, ValueError) as error:
        return _bad(str(error))
    current().faults.add(fault)
    return jsonify({"faults": current().faults.pending()}), 201


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify({"faults": current().faults.pending()})


@bp.delete("/faults")
def clear_faults() -> Response:
    current().faults.clear()
    return jsonify({"faults": []})


def _grants_for(body: dict[str, Any]) -> list[Grant]:
    if "token" in body:
        token = db().scalar(
            select(Token).where(
                (Token.access_token == body["token"]) | (Token.refresh_token == body["token"])
            )
        )
        grant = db().get(Grant, token.grant_id) if token is not None else None
        return [grant] if grant is not None else []
    return list(
        db().scalars(
            select(Grant).where(
                Grant.company_id == body.get("company_id"),
                Grant.employee_id == body.get("employee_id"),
            )
        )
    )


@bp.post("/revoke-grant")
def revoke_grants() -> tuple[Response, int]:
    """Revoke by token, or every grant of (company_id, employee_id); 404 if nothing matched."""
    body = _body()
    if "token" not in body and not {"company_id", "employee_id"} <= body.keys():
        return _bad("give 'token', or 'company_id' and 'employee_id'")
    grants = _grants_for(body)
    now = current().clock.now()
    for grant in grants:
        revoke_grant(grant, now)
    return jsonify({"revoked": [g.id for g in grants]}), 200 if grants else 404


@bp.get("/counts")
def counts() -> Response:
    return jsonify(current().counts.snapshot())


@bp.get("/requests")
def recent_requests() -> Response:
    """The last requests outside /_sandbox/, oldest first, with their headers (credentials
    masked): what a client really sent."""
    return jsonify({"requests": current().counts.recent()})


@bp.post("/reset-counts")
def reset_counts() -> Response:
    current().counts.reset()
    return jsonify(current().counts.snapshot())


@bp.post("/reset")
def reset() -> Response:
    """Back to a just-started sandbox: fresh seed, startup config, real clock, no faults."""
    sandbox = current()
    db().close()
    sandbox.reseed()
    sandbox.faults.clear()
    sandbox.counts.reset()
    sandbox.limiter.reset()
    sandbox.idp.reset()
    return jsonify({"ok": True})


@bp.route("/clock", methods=["GET", "POST"])
def clock() -> Response | tuple[Response, int]:
    sandbox = current()
    if request.method == "POST":
        offset = _body().get("offset")
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            return _bad("offset must be a number of seconds")
        sandbox.set_clock_offset(db(), float(offset))
    return jsonify({"offset": sandbox.clock.offset, "now": sandbox.clock.now()})


@bp.post("/api-keys")
def api_keys() -> tuple[Response, int]:
    body = _body()
    company = db().get(Company, body.get("company_id")) if "company_id" in body else None
    if company is None:
        return _bad("unknown company_id")
    name = str(body.get("name") or "Sandbox key")
    key, token = mint_api_key(db(), company.id, name, current().clock.now())
    return jsonify({"id": key.id, "name": key.name, "company_id": company.id, "token": token}), 201


@bp.get("/seed")
def seed() -> Response:
    sandbox = current()
    client = sandbox.server.client
    companies = db().scalars(select(Company).order_by(Company.id))
    employees = db().scalars(select(Employee).order_by(Employee.id))
    return jsonify(
        {
            "companies": [
                {"id": c.id, "name": c.name, "legal_name": c.legal_name} for c in companies
            ],
            "employees": [
                {
                    "id": e.id,
                    "name": e.full_name,
                    "email": e.email,
                    "is_admin": e.is_admin,
                    "company_id": e.company_id,
                }
                for e in employees
            ],
            "client": {
                "id": client.client_id,
                "secret": client.client_secret,
                "name": client.name,
                "redirect_uris": list(client.redirect_uris),
                "scope": client.scope,
            },
            "api_keys": sandbox.seeded_keys,
        }
    )


def _authorize_request(body: dict[str, Any]) -> Request:
    """The authorize parameters as the consent form would carry them."""
    if "authorize_url" in body:
        return authorize_request(urlsplit(str(body["authorize_url"])).query)
    return authorize_request(
        {k: str(v) for k, v in body.items() if k not in ("employee_id", "decision")}
    )


@bp.post("/approve")
def approve() -> tuple[Response, int]:
    """Same as submitting the consent form; returns where the browser would be sent."""
    body = _body()
    response = decide(
        _authorize_request(body), body.get("employee_id"), body.get("decision", "approve")
    )
    if response.status_code != 302:
        return jsonify(
            {
                "error": "invalid_request",
                "status": response.status_code,
                "body": response.get_data(as_text=True),
            }
        ), 400
    return jsonify({"location": response.headers["Location"]}), 200


@bp.route("/config", methods=["GET", "POST"])
def config() -> Response | tuple[Response, int]:
    settings = current().settings
    if request.method == "POST":
        try:
            settings.update(_body())
        except ValueError as error:
            return _bad(str(error))
    return jsonify(settings.as_dict())
