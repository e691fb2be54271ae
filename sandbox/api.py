"""The slice of Factorial's public API the product talks to.

Versioned paths (`/api/2026-10-01/...`) and `/api/v2/...` behave the same; any other
version segment is a 404. GETs need the `read` scope, POSTs `write`; API keys have all.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import select

from sandbox.context import current, db
from sandbox.models import ApiKey, Company, Employee
from sandbox.protect import Credential, authenticate
from sandbox.store import mint_api_key

bp = Blueprint("api", __name__)
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_PAGE = 100


def _check_version(version: str) -> None:
    if version != "v2" and not VERSION.match(version):
        abort(404)


def _company_fields(company: Company) -> dict[str, Any]:
    return {
        "name": company.name,
        "legal_name": company.legal_name,
        "locale": company.locale,
        "logo": company.logo,
        "subscription_plan": company.subscription_plan,
    }


def _employee_fields(employee: Employee) -> dict[str, Any]:
    return {
        "employee_id": employee.id,
        "email": employee.email,
        "login_email": employee.email,
        "first_name": employee.first_name,
        "last_name": employee.last_name,
        "full_name": employee.full_name,
        "role": employee.role,
    }


def describe(credential: Credential) -> dict[str, Any]:
    """The credentials-endpoint item for `credential`."""
    item: dict[str, Any] = {"id": credential.public_id, "company_id": credential.company_id}
    if credential.employee_id is not None:
        employee = db().get(Employee, credential.employee_id)
        if employee is not None:
            item.update(_employee_fields(employee))
    else:
        company = db().get(Company, credential.company_id)
        if company is not None:
            item.update(_company_fields(company))
    return item


@bp.get("/api/<version>/resources/api_public/credentials")
def credentials(version: str) -> Response:
    _check_version(version)
    return jsonify({"data": [describe(authenticate("read"))]})


def _page_params() -> tuple[int, int | None, int | None]:
    try:
        limit = int(request.args.get("limit", MAX_PAGE))
        after = request.args.get("after_id")
        before = request.args.get("before_id")
        return (
            min(max(limit, 1), MAX_PAGE),
            int(after) if after else None,
            int(before) if before else None,
        )
    except ValueError:
        abort(
            Response(
                '{"error":"invalid_request","error_description":"bad pagination"}',
                status=400,
                mimetype="application/json",
            )
        )


@bp.get("/api/<version>/resources/employees/employees")
def employees(version: str) -> Response:
    """Cursor pagination: `after_id` pages forward, `before_id` backward, ascending ids."""
    _check_version(version)
    credential = authenticate("read")
    limit, after, before = _page_params()
    query = select(Employee).where(Employee.company_id == credential.company_id)
    everyone = list(db().scalars(query.order_by(Employee.id)))
    rows = [
        e for e in everyone if (after is None or e.id > after) and (before is None or e.id < before)
    ]
    page = rows[-limit:] if before is not None and after is None else rows[:limit]
    data = [
        {
            "id": e.id,
            "company_id": e.company_id,
            "first_name": e.first_name,
            "last_name": e.last_name,
            "full_name": e.full_name,
            "email": e.email,
            "login_email": e.email,
            "role": e.role,
        }
        for e in page
    ]
    first, last = (page[0].id, page[-1].id) if page else (None, None)
    meta = {
        "limit": limit,
        "total": len(everyone),
        "has_next_page": last is not None and any(e.id > last for e in everyone),
        "has_previous_page": first is not None and any(e.id < first for e in everyone),
        "start_cursor": str(first) if first is not None else None,
        "end_cursor": str(last) if last is not None else None,
    }
    return jsonify({"data": data, "meta": meta})


@bp.post("/api/<version>/resources/time_off/leaves")
def create_leave(version: str) -> tuple[Response, int]:
    """Echo the leave back as created (not stored), like a successful write would."""
    _check_version(version)
    credential = authenticate("write")
    body = request.get_json(silent=True) or request.form.to_dict()
    sandbox = current()
    sandbox.leave_seq += 1
    leave = {
        **body,
        "id": sandbox.leave_seq,
        "company_id": credential.company_id,
        "created_at": sandbox.clock.now(),
    }
    return jsonify(leave), 201


@bp.get("/api/v1/core/keys")
def list_keys() -> Response:
    credential = authenticate(None, api_key_only=True)
    keys = db().scalars(
        select(ApiKey).where(ApiKey.company_id == credential.company_id).order_by(ApiKey.id)
    )
    return jsonify(
        [
            {"id": k.id, "name": k.name, "token_digest": k.token_digest, "created_at": k.created_at}
            for k in keys
        ]
    )


@bp.post("/api/v1/core/keys")
def create_key() -> tuple[Response, int]:
    """The new key is shown only in this response; only its digest is stored."""
    credential = authenticate(None, api_key_only=True)
    body = request.get_json(silent=True) or request.form.to_dict()
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        return jsonify({"error": "invalid_request", "error_description": "name is required"}), 422
    key, token = mint_api_key(db(), credential.company_id, name.strip(), current().clock.now())
    return jsonify({"id": key.id, "name": key.name, "token": token}), 201


@bp.delete("/api/v1/core/keys/<int:key_id>")
def delete_key(key_id: int) -> tuple[str, int]:
    credential = authenticate(None, api_key_only=True)
    key = db().get(ApiKey, key_id)
    if key is None or key.company_id != credential.company_id:
        abort(404)
    db().delete(key)
    return "", 204
