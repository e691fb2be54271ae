"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from app.infra.extensions import db
from app.services.readiness import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answering; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database answers, the schema is at head and the keys work; else 503."""
    result = readiness(db.engine, current_app.extensions["migrate"].directory)
    checks = {
        check.name: {"status": "ok"} if check.ok else {"status": "failed", "reason": check.reason}
        for check in result.checks
    }
    if result.ready:
        return jsonify(status="ready", checks=checks), 200
    response = jsonify(status="unavailable", failing=list(result.failing), checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 503
