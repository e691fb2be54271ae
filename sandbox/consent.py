"""Factorial's OAuth2 endpoints: the consent page, its submit, token and revocation.

The form submit and the `/_sandbox/approve` shortcut share `decide()`, so tests that skip
the browser exercise exactly the code path a person clicking "Approve" does.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import Blueprint, Request, Response, render_template, request
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from sandbox.context import current, db
from sandbox.models import Company, Employee
from sandbox.oauth import SandboxServer
from sandbox.oauth_clients import Owner

bp = Blueprint("oauth", __name__)
ADMIN_REQUIRED = "A company token must be approved by an admin employee."


def _server() -> SandboxServer:
    server: SandboxServer = current().server
    return server


def error_page(error: str, description: str | None, status: int = 400) -> Response:
    html = render_template("error.html", error=error, description=description)
    return Response(html, status=status, mimetype="text/html")


def _refuse(server: SandboxServer, error: OAuth2Error) -> Response:
    """Redirect with the error only once the redirect URI is known good; else a 400 page."""
    if error.redirect_uri:
        response: Response = server.handle_error_response(None, error)
        server.issuer.add_issuer_parameter(server, response)
        return response
    return error_page(error.error or "invalid_request", error.description)


def _directory() -> list[tuple[str, list[Employee]]]:
    companies = db().scalars(select(Company).order_by(Company.id)).all()
    return [
        (
            c.legal_name,
            list(
                db().scalars(
                    select(Employee).where(Employee.company_id == c.id).order_by(Employee.id)
                )
            ),
        )
        for c in companies
    ]


@bp.get("/oauth/authorize")
def authorize_page() -> Response | str:
    """Sign-in + consent page; invalid client/redirect URI → 400 page, never a redirect."""
    server = _server()
    try:
        grant = server.get_consent_grant()
    except OAuth2Error as error:
        return _refuse(server, error)
    return render_template(
        "consent.html",
        client_name=server.client.name,
        scopes=grant.request.scope.split(),
        company=request.args.get("resource_owner_type") == "company",
        directory=_directory(),
        redirect_uri=grant.redirect_uri,
        action=request.full_path,
    )


@bp.post("/oauth/authorize")
def authorize_submit() -> Response:
    """The consent form; authorize parameters may come in the query string, hidden fields,
    or both (a field repeated in both with the same value counts once)."""
    params = {**request.args.to_dict(), **request.form.to_dict()}
    employee_id, decision = params.pop("employee_id", None), params.pop("decision", None)
    return decide(authorize_request(params), employee_id, decision)


def authorize_request(params: dict[str, str] | str) -> Request:
    """A POST /oauth/authorize request carrying `params` (a dict or a raw query string)."""
    builder = EnvironBuilder(
        method="POST", path="/oauth/authorize", base_url=request.host_url, query_string=params
    )
    return Request(builder.get_environ())


def decide(raw: Request, employee_id: Any, decision: Any) -> Response:
    """Approve or deny an authorization request (query or form parameters of `raw`)."""
    server = _server()
    try:
        grant = server.get_consent_grant(request=raw)
    except OAuth2Error as error:
        return _refuse(server, error)
    if decision not in ("approve", "deny"):
        return error_page("invalid_request", "decision must be 'approve' or 'deny'.")
    if decision == "deny":
        return _respond(server, raw, grant, None)
    employee = _employee(employee_id)
    if employee is None:
        return error_page("invalid_request", "Unknown employee_id.")
    company = raw.values.get("resource_owner_type") == "company"
    if company and not employee.is_admin:
        denied = AccessDeniedError(
            description=ADMIN_REQUIRED,
            redirect_uri=grant.redirect_uri,
            state=raw.values.get("state"),
        )
        return _refuse(server, denied)
    owner = Owner(employee.id, employee.company_id, "company" if company else "user")
    return _respond(server, raw, grant, owner)


def _respond(server: SandboxServer, raw: Request, grant: Any, owner: Owner | None) -> Response:
    response: Response = server.create_authorization_response(
        request=raw, grant_user=owner, grant=grant
    )
    return response


def _employee(employee_id: Any) -> Employee | None:
    try:
        return db().get(Employee, int(employee_id))
    except (TypeError, ValueError):
        return None


@bp.post("/oauth/token")
def token() -> Response:
    response: Response = _server().create_token_response()
    return response


@bp.post("/oauth/revoke")
def revoke() -> Response:
    response: Response = _server().create_endpoint_response("revocation")
    return response
