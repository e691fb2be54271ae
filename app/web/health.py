"""Liveness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answering; says nothing about its dependencies."""
    return jsonify(status="ok")
