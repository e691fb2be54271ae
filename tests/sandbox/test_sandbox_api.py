"""The public API: credentials for each credential kind, auth errors, pagination, writes."""

from __future__ import annotations

import requests

from sandbox.testing import SandboxServer
from tests.sandbox.flows import (
    TIMEOUT,
    api_key,
    bearer,
    company_tokens,
    credentials,
    user_tokens,
)

EMPLOYEES = "/api/2026-10-01/resources/employees/employees"
LEAVES = "/api/2026-10-01/resources/time_off/leaves"


def test_user_token_credentials_describe_the_employee(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)

    item = credentials(sandbox_server.url, bearer(tokens["access_token"])).json()["data"][0]

    assert item["id"].startswith("user_token_")
    assert item["company_id"] == 1
    assert item["employee_id"] == 1002
    assert item["full_name"] == "Bruno López"
    assert {"email", "login_email", "first_name", "last_name", "role"} <= item.keys()


def test_company_token_credentials_describe_the_company(sandbox_server: SandboxServer) -> None:
    tokens = company_tokens(sandbox_server)

    item = credentials(sandbox_server.url, bearer(tokens["access_token"])).json()["data"][0]

    assert item["id"].startswith("company_token_")
    assert item["legal_name"] == "Acme Robotics S.L."
    assert "employee_id" not in item


def test_api_key_credentials_describe_the_company(sandbox_server: SandboxServer) -> None:
    key = api_key(sandbox_server, company_id=2)

    item = credentials(sandbox_server.url, {"x-api-key": key}).json()["data"][0]

    assert item["id"].startswith("api_key_")
    assert item["company_id"] == 2
    assert {"name", "legal_name", "locale", "logo", "subscription_plan"} <= item.keys()


def test_api_key_wins_over_bearer(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    headers = {**bearer(tokens["access_token"]), "x-api-key": api_key(sandbox_server, 2)}

    item = credentials(sandbox_server.url, headers).json()["data"][0]

    assert item["id"].startswith("api_key_")


def test_seeded_api_keys_work(sandbox_server: SandboxServer) -> None:
    key = sandbox_server.seed()["api_keys"][0]["token"]

    response = credentials(sandbox_server.url, {"x-api-key": key})

    assert response.status_code == 200


def test_api_keys_look_like_jwts(sandbox_server: SandboxServer) -> None:
    key = api_key(sandbox_server)

    assert len(key.split(".")) == 3


def test_v2_credentials_path_works(sandbox_server: SandboxServer) -> None:
    response = credentials(sandbox_server.url, {"x-api-key": api_key(sandbox_server)}, "v2")

    assert response.status_code == 200


def test_malformed_version_is_404(sandbox_server: SandboxServer) -> None:
    response = credentials(sandbox_server.url, {"x-api-key": api_key(sandbox_server)}, "v9")

    assert response.status_code == 404


def test_missing_credential_is_401_json(base: str) -> None:
    response = credentials(base, {})

    assert response.status_code == 401
    assert "error" in response.json()


def test_unknown_bearer_is_401(base: str) -> None:
    assert credentials(base, bearer("nope" * 10)).status_code == 401


def test_unknown_api_key_is_401(base: str) -> None:
    assert credentials(base, {"x-api-key": "a.b.c"}).status_code == 401


def test_token_without_write_scope_cannot_post(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server, scope="read")

    response = requests.post(
        sandbox_server.url + LEAVES,
        json={"employee_id": 1002},
        headers=bearer(tokens["access_token"]),
        timeout=TIMEOUT,
    )

    assert response.status_code == 403


def test_post_leave_echoes_a_created_object(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server)
    body = {"employee_id": 1002, "start_on": "2026-12-01", "finish_on": "2026-12-02"}

    response = requests.post(
        sandbox_server.url + LEAVES,
        json=body,
        headers=bearer(tokens["access_token"]),
        timeout=TIMEOUT,
    )

    assert response.status_code == 201
    assert response.json()["start_on"] == "2026-12-01"
    assert isinstance(response.json()["id"], int)


def test_unknown_path_is_404(base: str) -> None:
    assert requests.get(f"{base}/api/v2/nothing/here", timeout=TIMEOUT).status_code == 404


def test_employees_first_page(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    page = requests.get(
        f"{sandbox_server.url}{EMPLOYEES}?limit=2", headers=headers, timeout=TIMEOUT
    ).json()

    assert [e["id"] for e in page["data"]] == [1001, 1002]
    assert page["meta"]["has_next_page"] is True


def test_employees_after_id(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    page = requests.get(
        f"{sandbox_server.url}{EMPLOYEES}?limit=2&after_id=1002", headers=headers, timeout=TIMEOUT
    ).json()

    assert [e["id"] for e in page["data"]] == [1003]
    assert page["meta"]["has_next_page"] is False


def test_employees_before_id(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    page = requests.get(
        f"{sandbox_server.url}{EMPLOYEES}?limit=1&before_id=1003", headers=headers, timeout=TIMEOUT
    ).json()

    assert [e["id"] for e in page["data"]] == [1002]
    assert page["meta"]["has_previous_page"] is True


def test_employees_limit_is_capped_at_100(sandbox_server: SandboxServer) -> None:
    headers = {"x-api-key": api_key(sandbox_server)}

    page = requests.get(
        f"{sandbox_server.url}{EMPLOYEES}?limit=500", headers=headers, timeout=TIMEOUT
    ).json()

    assert page["meta"]["limit"] == 100


def test_employees_are_scoped_to_the_token_company(sandbox_server: SandboxServer) -> None:
    tokens = user_tokens(sandbox_server, employee_id=2002)

    page = requests.get(
        f"{sandbox_server.url}/api/v2/resources/employees/employees",
        headers=bearer(tokens["access_token"]),
        timeout=TIMEOUT,
    ).json()

    assert {e["company_id"] for e in page["data"]} == {2}
