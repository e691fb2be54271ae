"""Service clients: the company's other systems that may ask this app for tokens.

Admins create one (one per submitted form; its secret is shown once, on the page the form
redirects to, never in a URL, a cookie, a flash message or a log), see when each was last used,
and revoke them.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import DataRequired, Length

from app.infra.extensions import db
from app.models import SCOPES, ServiceClient, utcnow
from app.services import connections
from app.services.keys import api_keys
from app.services.service_api import (
    service_client_creations,
    service_client_grants,
    service_clients,
)
from app.services.service_api.service_client_grants import GrantChange, Grants
from app.web.admin import current_actor
from app.web.admin.forms import ActionForm
from app.web.security import admin_required
from app.wiring import wiring

bp = Blueprint("service_clients", __name__, url_prefix="/services")

SCOPE_LABELS = {
    "token:read": "token:read — fetch access tokens",
    "proxy": "proxy — call Factorial through this app",
}


GONE = "A ticked %s no longer exists; tick again from the list as it is now."


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _reach(chosen: str) -> list[tuple[str, str]]:
    return [("all", "All connections and API keys"), ("chosen", f"Only the ones {chosen} below")]


class NewServiceClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    scopes = CheckboxesField("Scopes", choices=[(s, SCOPE_LABELS[s]) for s in SCOPES])
    reach = RadioField("May use", choices=_reach("chosen"), default="chosen")
    connections = CheckboxesField(
        "Connections", coerce=int, choices=[], invalid_choice_message=GONE % "connection"
    )
    api_keys = CheckboxesField(
        "API keys", coerce=int, choices=[], invalid_choice_message=GONE % "API key"
    )
    # Random per form: submitting the same form again finds the client it created.
    form_id = HiddenField()
    submit = SubmitField("Create service client")


def _with_choices(form: NewServiceClientForm | GrantsForm) -> None:
    """Every connection and API key, as both forms offer them."""
    form.connections.choices = [
        (c.id, f"#{c.id} {c.owner_label} ({c.kind}, {c.environment})")
        for c in connections.list_connections(db.session)
    ]
    form.api_keys.choices = [
        (k.id, f"#{k.id} {k.label} {k.fingerprint} ({k.environment})")
        for k in api_keys.list_keys(db.session)
    ]


def _ticked(form: NewServiceClientForm | GrantsForm) -> Grants:
    return Grants.of(
        everything=form.reach.data == "all",
        connections=form.connections.data or [],
        keys=form.api_keys.data or [],
    )


def _form() -> NewServiceClientForm:
    form = NewServiceClientForm()
    _with_choices(form)
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
    form = _form()
    form.form_id.data = service_client_creations.new_form_id()
    return render_template("service_clients/new.html", form=form)


@bp.post("/new")
@admin_required
def create() -> Response | tuple[str, int]:
    """Creates at most one client per form, then 303 to the page that shows its secret once: a
    reload there, or this form sent again, creates nothing."""
    form = _form()
    if not form.validate_on_submit():
        return render_template("service_clients/new.html", form=form), 400
    form_id = form.form_id.data or ""
    try:
        service_client_creations.create_once(
            db.session,
            form_id,
            wiring().deps,
            name=form.name.data or "",
            scopes=form.scopes.data or [],
            grants=_ticked(form),
            actor=current_actor(),
        )
    except service_clients.ServiceClientError as exc:
        if exc.field == "form":
            abort(400, exc.message)
        field = getattr(form, exc.field)
        field.errors = [*field.errors, exc.message]
        return render_template("service_clients/new.html", form=form), 400
    return redirect(url_for("service_clients.created", form_id=form_id), code=303)


@bp.get("/created/<form_id>")
@admin_required
def created(form_id: str) -> str:
    """The new client's secret, the first time only; afterwards, that it was already created."""
    shown = service_client_creations.reveal(
        db.session, form_id, wiring().deps, admin_id=current_user.id
    )
    if shown is None:
        abort(404, "No service client was created from this form.")
    return render_template("service_clients/created.html", client=shown.client, secret=shown.secret)


@bp.post("/<id:client_id>/revoke")
@admin_required
def revoke(client_id: int) -> Response:
    client = _client_or_404(client_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload and retry.")
    if service_clients.revoke(db.session, client, wiring().deps, actor=current_actor()):
        flash(f"Revoked {client.name}: its secret no longer works.", "success")
    else:
        flash(f"{client.name} was already revoked.", "info")
    return redirect(url_for("service_clients.index"), code=303)


_ID = re.compile(r"[1-9][0-9]{0,9}")
_NOT_AN_ID = "Tick connections and API keys from the list; that was not one of their ids."


def _ticked_id(value: object) -> int:
    """A ticked credential's id: ASCII digits only (int() would also read "٣" as 3)."""
    text = str(value)
    if not _ID.fullmatch(text):
        raise ValueError(text)
    return int(text)


class GrantsForm(FlaskForm):
    """What an existing client may use; the same choices as creation, ticked as they stand."""

    reach = RadioField("May use", choices=_reach("ticked"))
    connections = CheckboxesField(
        "Connections", coerce=_ticked_id, validate_choice=False, invalid_value_message=_NOT_AN_ID
    )
    api_keys = CheckboxesField(
        "API keys", coerce=_ticked_id, validate_choice=False, invalid_value_message=_NOT_AN_ID
    )
    submit = SubmitField("Save access")


def _grants_form(client: ServiceClient) -> GrantsForm:
    """Ticked as the client's grants stand (a POST's own values win); unknown ids that a POST
    names are left to the service, which names them in its refusal."""
    current = service_client_grants.grants_of(db.session, client)
    form = GrantsForm(
        data={
            "reach": "all" if current.all_credentials else "chosen",
            "connections": sorted(current.connection_ids),
            "api_keys": sorted(current.api_key_ids),
        }
    )
    _with_choices(form)
    return form


def _render_grants(client: ServiceClient, form: GrantsForm, status: int = 200) -> tuple[str, int]:
    return render_template("service_clients/grants.html", client=client, form=form), status


@bp.get("/<id:client_id>/grants")
@admin_required
def grants(client_id: int) -> tuple[str, int]:
    client = _client_or_404(client_id)
    return _render_grants(client, _grants_form(client))


@bp.post("/<id:client_id>/grants")
@admin_required
def change_grants(client_id: int) -> Response | tuple[str, int]:
    client = _client_or_404(client_id)
    form = _grants_form(client)
    if not form.validate_on_submit():
        return _render_grants(client, form, 400)
    try:
        change = service_client_grants.set_grants(
            db.session, client, _ticked(form), wiring().deps, actor=current_actor()
        )
    except service_clients.ServiceClientError as exc:
        form.reach.errors = [*form.reach.errors, exc.message]
        return _render_grants(client, form, 400)
    flash(*_saved(client, change))
    return redirect(url_for("service_clients.index"), code=303)


def _saved(client: ServiceClient, change: GrantChange) -> tuple[str, str]:
    """The flash message (and its category) for a saved change."""
    if change.nothing:
        return f"Nothing changed: {client.name} may use {change.after.describe()}.", "info"
    if change.after.empty:
        return (
            f"Saved: {client.name} may now use nothing; every call it makes for a credential "
            "is refused until you grant something.",
            "warning",
        )
    return f"Saved: {client.name} may now use {change.after.describe()}.", "success"
