"""The authorization endpoint: consent page, form submit, denials and redirect URI checks."""

from __future__ import annotations

import pytest
import requests

from sandbox.testing import SandboxError, SandboxServer
from tests.sandbox.flows import (
    ADMIN_ACME,
    BRUNO_ACME,
    CLIENT_ID,
    REDIRECT_URI,
    TIMEOUT,
    authorize_url,
    query_of,
)


def test_consent_page_shows_app_scopes_and_employees(base: str) -> None:
    page = requests.get(authorize_url(base, scope="read write"), timeout=TIMEOUT)

    assert page.status_code == 200
    assert "Factorial Connect" in page.text
    assert "<code>write</code>" in page.text
    assert 'value="1002"' in page.text


def test_mismatched_redirect_uri_is_a_400_page_without_redirect(base: str) -> None:
    url = authorize_url(base, redirect_uri="http://127.0.0.1:5000/evil")

    page = requests.get(url, timeout=TIMEOUT, allow_redirects=False)

    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "text/html" in page.headers["Content-Type"]


def test_unknown_client_is_a_400_page(base: str) -> None:
    page = requests.get(
        authorize_url(base, client_id="nobody"), timeout=TIMEOUT, allow_redirects=False
    )

    assert page.status_code == 400


def test_form_submit_with_query_string_redirects_with_code_and_state(base: str) -> None:
    response = requests.post(
        authorize_url(base),
        data={"employee_id": BRUNO_ACME, "decision": "approve"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    assert query_of(response.headers["Location"])["state"] == "st-123"
    assert "code" in query_of(response.headers["Location"])


def test_form_submit_with_hidden_fields_is_accepted(base: str) -> None:
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "hidden",
        "employee_id": BRUNO_ACME,
        "decision": "approve",
    }

    response = requests.post(
        f"{base}/oauth/authorize", data=form, timeout=TIMEOUT, allow_redirects=False
    )

    assert query_of(response.headers["Location"])["state"] == "hidden"


def test_form_submit_with_bad_redirect_uri_does_not_redirect(base: str) -> None:
    url = authorize_url(base, redirect_uri="http://127.0.0.1:5000/evil")

    response = requests.post(
        url,
        data={"employee_id": BRUNO_ACME, "decision": "approve"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_deny_redirects_with_access_denied(sandbox_server: SandboxServer) -> None:
    location = sandbox_server.approve(authorize_url(sandbox_server.url), BRUNO_ACME, "deny")

    assert query_of(location)["error"] == "access_denied"
    assert query_of(location)["state"] == "st-123"
    assert query_of(location)["error_description"]


def test_company_token_by_non_admin_is_denied_with_reason(sandbox_server: SandboxServer) -> None:
    url = authorize_url(sandbox_server.url, resource_owner_type="company")

    location = sandbox_server.approve(url, BRUNO_ACME)

    assert query_of(location)["error"] == "access_denied"
    assert "admin" in query_of(location)["error_description"]


def test_company_token_by_admin_yields_a_code(sandbox_server: SandboxServer) -> None:
    url = authorize_url(sandbox_server.url, resource_owner_type="company")

    location = sandbox_server.approve(url, ADMIN_ACME)

    assert "code" in query_of(location)


def test_second_registered_redirect_uri_is_accepted(sandbox_server: SandboxServer) -> None:
    url = authorize_url(sandbox_server.url, redirect_uri="http://127.0.0.1:5000/other")

    location = sandbox_server.approve(url, BRUNO_ACME)

    assert location.startswith("http://127.0.0.1:5000/other?code=")


def test_required_pkce_without_challenge_redirects_with_invalid_request(
    sandbox_server: SandboxServer,
) -> None:
    sandbox_server.configure(require_pkce=True)

    location = sandbox_server.approve(authorize_url(sandbox_server.url), BRUNO_ACME)

    assert query_of(location)["error"] == "invalid_request"


def test_scopes_outside_the_apps_are_invalid_scope(sandbox_server: SandboxServer) -> None:
    url = authorize_url(sandbox_server.url, scope="employees time_off")

    location = sandbox_server.approve(url, BRUNO_ACME)

    assert query_of(location)["error"] == "invalid_scope"


def test_form_submit_with_both_query_and_hidden_fields_is_accepted(base: str) -> None:
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "st-123",
        "employee_id": BRUNO_ACME,
        "decision": "approve",
    }

    response = requests.post(authorize_url(base), data=form, timeout=TIMEOUT, allow_redirects=False)

    assert "code" in query_of(response.headers["Location"])


ISSUER = "https://api.factorialhr.example"


def test_no_iss_is_sent_by_default(sandbox_server: SandboxServer) -> None:
    location = sandbox_server.approve(authorize_url(sandbox_server.url), BRUNO_ACME)

    assert "iss" not in query_of(location)


@pytest.mark.parametrize(
    ("extra", "employee_id", "decision"),
    [
        ({}, BRUNO_ACME, "approve"),
        ({}, BRUNO_ACME, "deny"),
        ({"resource_owner_type": "company"}, BRUNO_ACME, "approve"),
        ({"scope": "employees"}, BRUNO_ACME, "approve"),
    ],
)
def test_configured_issuer_is_sent_as_iss_on_every_answer(
    sandbox_server: SandboxServer, extra: dict[str, str], employee_id: int, decision: str
) -> None:
    sandbox_server.configure(issuer=ISSUER)

    location = sandbox_server.approve(
        authorize_url(sandbox_server.url, **extra), employee_id, decision
    )

    assert query_of(location)["iss"] == ISSUER


@pytest.mark.parametrize("issuer", ["", "  ", 7])
def test_issuer_must_be_a_non_empty_string(sandbox_server: SandboxServer, issuer: object) -> None:
    with pytest.raises(SandboxError):
        sandbox_server.configure(issuer=issuer)
