"""Service clients: the company's other systems that may ask this app for tokens."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("service_clients", __name__, url_prefix="/services")


@bp.get("/")
@login_required
def index() -> str:
    return render_template("service_clients/index.html")
