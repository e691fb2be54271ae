"""API keys: Factorial's other credential, stored, verified and watched beside connections."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("api_keys", __name__, url_prefix="/api-keys")


@bp.get("/")
@login_required
def index() -> str:
    return render_template("api_keys/index.html")
