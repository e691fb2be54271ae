"""Credentials, the legacy keys API and the raw proxy call, against the sandbox."""

from __future__ import annotations

import pytest

from app.factorial import (
    FactorialClient,
    Forbidden,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sandbox.testing import SandboxServer
from tests.factorial.support import (
    admin_of,
    api_key_of,
    connect,
    environment_at,
    regular_of,
)


def test_user_token_credentials_name_the_employee(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    employee_id = regular_of(sandbox, 1)
    token = connect(sandbox, factorial, kind="user", employee_id=employee_id)
    info = factorial.credentials(access_token=token.access_token)
    assert (info.kind, info.company_id, info.employee_id, info.email is not None) == (
        "user",
        "1",
        str(employee_id),
        True,
    )


def test_company_token_credentials_name_the_company(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial, kind="company", employee_id=admin_of(sandbox, 2))
    info = factorial.credentials(access_token=token.access_token)
    assert (info.kind, info.company_id, info.employee_id, info.company_name is not None) == (
        "company",
        "2",
        None,
        True,
    )


def test_api_key_credentials(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    info = factorial.credentials(api_key=api_key_of(sandbox, 2))
    assert (info.kind, info.company_id) == ("api_key", "2")


def test_credentials_keep_the_raw_field_names(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    info = factorial.credentials(api_key=api_key_of(sandbox, 1))
    assert {"id", "company_id", "legal_name"} <= set(info.raw_keys)


def test_unknown_token_is_unauthorized(factorial: FactorialClient) -> None:
    with pytest.raises(Unauthorized):
        factorial.credentials(access_token="never-issued")


def test_grant_revoked_in_factorial_is_unauthorized(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    sandbox.revoke_grant(token=token.access_token)
    with pytest.raises(Unauthorized):
        factorial.credentials(access_token=token.access_token)


def test_token_without_read_scope_is_forbidden(sandbox: SandboxServer) -> None:
    write_only = FactorialClient(environment_at(sandbox.url, scopes=("write",)))
    token = connect(sandbox, write_only)
    with pytest.raises(Forbidden):
        write_only.credentials(access_token=token.access_token)


def test_unsupported_api_version_is_not_found(sandbox: SandboxServer) -> None:
    old = FactorialClient(environment_at(sandbox.url, api_version="v9"))
    with pytest.raises(NotFound):
        old.credentials(api_key=api_key_of(sandbox, 1))


def test_credentials_5xx_is_provider_unavailable(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    sandbox.fault("/api/2026-10-01/resources/api_public/credentials", status=500)
    with pytest.raises(ProviderUnavailable):
        factorial.credentials(api_key=api_key_of(sandbox, 1))


def test_credentials_429_is_rate_limited(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    sandbox.fault("/api/2026-10-01/resources/api_public/credentials", status=429, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        factorial.credentials(api_key=api_key_of(sandbox, 1))
    assert caught.value.retry_after == 3.0


def test_unauthorized_message_never_contains_the_token(factorial: FactorialClient) -> None:
    with pytest.raises(Unauthorized) as caught:
        factorial.credentials(access_token="secret-token-value")
    assert "secret-token-value" not in str(caught.value)


def test_credentials_need_exactly_one_credential(factorial: FactorialClient) -> None:
    with pytest.raises(ValueError):
        factorial.credentials(access_token="a", api_key="b")


def test_created_key_is_listed(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    authority = api_key_of(sandbox, 1)
    created = factorial.create_api_key(authority, "payroll sync")
    listed = {(k.id, k.name) for k in factorial.list_api_keys(authority)}
    assert (created.id, "payroll sync") in listed


def test_created_key_works_as_a_credential(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    created = factorial.create_api_key(api_key_of(sandbox, 1), "reporting")
    assert factorial.credentials(api_key=created.token).company_id == "1"


def test_deleted_key_is_no_longer_listed(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    authority = api_key_of(sandbox, 1)
    created = factorial.create_api_key(authority, "short lived")
    factorial.delete_api_key(authority, created.id)
    assert created.id not in {k.id for k in factorial.list_api_keys(authority)}


def test_deleted_key_stops_working(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    authority = api_key_of(sandbox, 1)
    created = factorial.create_api_key(authority, "short lived")
    factorial.delete_api_key(authority, created.id)
    with pytest.raises(Unauthorized):
        factorial.credentials(api_key=created.token)


def test_deleting_a_missing_key_is_not_found(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    with pytest.raises(NotFound):
        factorial.delete_api_key(api_key_of(sandbox, 1), "999999")


def test_keys_api_rejects_a_bad_key(factorial: FactorialClient) -> None:
    with pytest.raises(Unauthorized):
        factorial.list_api_keys("not-a-key")


def test_request_passes_the_answer_through(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    response = factorial.request(
        "GET", "2026-10-01/resources/employees/employees", api_key=api_key_of(sandbox, 1)
    )
    assert (response.status_code, len(response.json()["data"]) > 0) == (200, True)


def test_request_returns_error_statuses_instead_of_raising(factorial: FactorialClient) -> None:
    response = factorial.request("GET", "v2/resources/employees/employees", access_token="nope")
    assert response.status_code == 401


def test_request_posts_the_body(sandbox: SandboxServer, factorial: FactorialClient) -> None:
    token = connect(sandbox, factorial)
    response = factorial.request(
        "POST",
        "/v2/resources/time_off/leaves",
        access_token=token.access_token,
        data=b'{"employee_id": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["employee_id"]) == (201, 1)


def test_request_drops_caller_credentials(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    response = factorial.request(
        "GET",
        "v2/resources/api_public/credentials",
        headers={"x-api-key": api_key_of(sandbox, 1), "Authorization": "Bearer x"},
    )
    assert response.status_code == 401


def test_request_refuses_to_leave_the_api_prefix(factorial: FactorialClient) -> None:
    with pytest.raises(ValueError):
        factorial.request("POST", "v2/../../oauth/token", access_token="a")


def test_expired_access_token_is_unauthorized(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial)
    sandbox.set_clock(3601)
    with pytest.raises(Unauthorized):
        factorial.credentials(access_token=token.access_token)


def test_company_token_still_works_much_later(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    token = connect(sandbox, factorial, kind="company", employee_id=admin_of(sandbox, 1))
    sandbox.set_clock(30 * 24 * 3600)
    assert factorial.credentials(access_token=token.access_token).kind == "company"


def test_request_allows_urls_in_the_query(
    sandbox: SandboxServer, factorial: FactorialClient
) -> None:
    response = factorial.request(
        "GET",
        "v2/resources/employees/employees?note=https://example.test/x",
        api_key=api_key_of(sandbox, 1),
    )
    assert response.status_code == 200
