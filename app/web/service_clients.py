"""Service clients: the company's other systems that may ask this app for tokens.

Admins create one (its secret is shown once, on the page answering the form, never in a URL,
a flash message or a log), see when each was last used, and revoke them.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import DataRequired, Length

from app.extensions import db
from app.models import SCOPES, ServiceClient, utcnow
from app.services import api_keys, connections, service_clients
from app.services.audit import Actor
from app.web.forms import ActionForm
from app.web.security import admin_required

bp = Blueprint("service_clients", __name__, url_prefix="/services")

SCOPE_LABELS = {
    "token:read": "token:read — fetch access tokens",
    "proxy": "proxy — call Factorial through this app",
}


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class NewServiceClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    scopes = CheckboxesField("Scopes", choices=[(s, SCOPE_LABELS[s]) for s in SCOPES])
    reach = RadioField(
        "May use",
        choices=[("all", "All connections and API keys"), ("chosen", "Only the ones chosen below")],
        default="chosen",
    )
    connections = CheckboxesField("Connections", coerce=int, choices=[])
    api_keys = CheckboxesField("API keys", coerce=int, choices=[])
    submit = SubmitField("Create service client")


def _form() -> NewServiceClientForm:
    form = NewServiceClientForm()
    form.connections.choices = [
        (c.id, f"#{c.id} {c.owner_label} ({c.kind}, {c.environment})")
        for c in connections.list_connections(db.session)
    ]
    form.api_keys.choices = [
        (k.id, f"#{k.id} {k.label} {k.fingerprint} ({k.environment})")
        for k in api_keys.list_keys(db.session)
    ]
    return form


def _client_or_404(client_id: int) -> ServiceClient:
    client = service_clients.get_client(db.session, client_id)
    if client is None:
        abort(404, "No such service client.")
    return client


@bp.get("/")
@login_required
def index() -> str:
    return render_template(
        "service_clients/index.html",
        clients=service_clients.list_clients(db.session),
        revoke_form=ActionForm(),
        now=utcnow(),
    )


@bp.get("/new")
@admin_required
def new() -> str:
    return render_template("service_clients/new.html", form=_form())


@bp.post("/new")
@admin_required
def create() -> tuple[str, int]:
    """Answers with the secret itself (200, no-store), not a redirect: it must never be put in
    a URL, the session cookie or a flash message, and this is the only time it exists."""
    form = _form()
    if not form.validate_on_submit():
        return render_template("service_clients/new.html", form=form), 400
    try:
        client, secret = service_clients.create(
            db.session,
            name=form.name.data or "",
            scopes=form.scopes.data or [],
            connection_ids=form.connections.data or [],
            api_key_ids=form.api_keys.data or [],
            all_credentials=form.reach.data == "all",
            actor=Actor.admin(current_user.id, current_user.email),
            now=utcnow(),
        )
    except service_clients.ServiceClientError as exc:
        form.name.errors = [*form.name.errors, exc.message]
        return render_template("service_clients/new.html", form=form), 400
    return render_template("service_clients/created.html", client=client, secret=secret), 200


@bp.post("/<id:client_id>/revoke")
@admin_required
def revoke(client_id: int) -> Response:
    client = _client_or_404(client_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload and retry.")
    actor = Actor.admin(current_user.id, current_user.email)
    if service_clients.revoke(db.session, client, actor=actor, now=utcnow()):
        flash(f"Revoked {client.name}: its secret no longer works.", "success")
    else:
        flash(f"{client.name} was already revoked.", "info")
    return redirect(url_for("service_clients.index"), code=303)
