"""Test controls of the identity provider (`/_sandbox/idp/...`, modes demo and test only):
change a person as the company's IT would, and arm a one-shot tamper of the next answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.idp import ANSWER_TAMPERS, TOKEN_TAMPERS, provider

control_bp = Blueprint("idp_control", __name__, url_prefix="/_sandbox/idp")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@control_bp.post("/tamper")
def tamper() -> tuple[Response, int]:
    """Arm a one-shot change of the next answer: {"next": one of TOKEN_TAMPERS+ANSWER_TAMPERS}."""
    name = _body().get("next")
    if name not in TOKEN_TAMPERS + ANSWER_TAMPERS:
        known = ", ".join(TOKEN_TAMPERS + ANSWER_TAMPERS)
        return jsonify({"error": "invalid_request", "error_description": f"next: {known}"}), 400
    provider().tampers.add(name)
    return jsonify({"armed": sorted(provider().tampers)}), 200


@control_bp.post("/people/<sub>")
def change_person(sub: str) -> tuple[Response, int]:
    """Change a person as the company's IT would: {"groups": [...], "email_verified": bool or
    null (claim left out), "email": str}."""
    person = provider().people.get(sub)
    if person is None:
        return jsonify({"error": "not_found", "error_description": "unknown sub"}), 404
    body = _body()
    groups = body.get("groups", person.groups)
    verified = body.get("email_verified", person.email_verified)
    email = body.get("email", person.email)
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return jsonify({"error": "invalid_request", "error_description": "groups: strings"}), 400
    if not isinstance(verified, bool | None) or not isinstance(email, str):
        return jsonify({"error": "invalid_request", "error_description": "bad types"}), 400
    person.groups, person.email_verified, person.email = list(groups), verified, email
    return jsonify(person.claims()), 200


@control_bp.get("/people")
def people() -> Response:
    return jsonify({"people": [p.claims() for p in provider().people.values()]})
