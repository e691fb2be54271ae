"""The JSON service API under /api/v1 (vend tokens, proxy Factorial calls)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
