"""OIDC_* and PASSWORD_LOGIN settings: one line per problem (issue 17)."""

from __future__ import annotations

import pytest

from app.infra.settings import SettingsError
from app.infra.settings.environment import load_settings

BASE = {
    "APP_ENV": "test",
    "OIDC_ISSUER": "https://login.example.com",
    "OIDC_CLIENT_ID": "connect",
    "OIDC_CLIENT_SECRET": "idp-secret-value-never-shown",
    "OIDC_ALLOWED_DOMAINS": "example.com",
}


def problems(tmp_path: object, **changes: str) -> list[str]:
    env = {k: v for k, v in {**BASE, **changes}.items() if v != "<unset>"}
    try:
        load_settings(env, instance_path=str(tmp_path))
    except SettingsError as exc:
        return exc.problems
    return []


def test_a_complete_configuration_loads(tmp_path: object) -> None:
    assert problems(tmp_path) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID is required with OIDC_ISSUER"),
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET is required with OIDC_ISSUER"),
        ({"OIDC_SCOPES": "email profile"}, "OIDC_SCOPES must include openid"),
        (
            {"OIDC_ALLOWED_DOMAINS": ""},
            "OIDC_ALLOWED_DOMAINS or OIDC_GROUPS_CLAIM is required: say who may sign in",
        ),
        (
            {"OIDC_GROUPS_CLAIM": "groups"},
            "OIDC_GROUPS_CLAIM needs OIDC_ADMIN_GROUPS or OIDC_VIEWER_GROUPS",
        ),
        (
            {"OIDC_ADMIN_GROUPS": "admins"},
            "OIDC_ADMIN_GROUPS and OIDC_VIEWER_GROUPS need OIDC_GROUPS_CLAIM",
        ),
        (
            {"OIDC_ISSUER": "ftp://login.example.com"},
            "OIDC_ISSUER must be an https:// URL without query or fragment",
        ),
        (
            {"OIDC_ISSUER": "", "OIDC_CLIENT_ID": "connect"},
            "OIDC_CLIENT_ID is set but OIDC_ISSUER is not; set both or neither",
        ),
        ({"PASSWORD_LOGIN": "maybe"}, "PASSWORD_LOGIN must be on or off, got 'maybe'"),
        (
            {
                "PASSWORD_LOGIN": "off",
                "OIDC_ISSUER": "<unset>",
                "OIDC_CLIENT_ID": "<unset>",
                "OIDC_CLIENT_SECRET": "<unset>",
                "OIDC_ALLOWED_DOMAINS": "<unset>",
            },
            "PASSWORD_LOGIN=off needs OIDC_ISSUER (otherwise only break-glass admins)",
        ),
    ],
)
def test_each_problem_is_one_line(tmp_path: object, changes: dict[str, str], expected: str) -> None:
    assert problems(tmp_path, **changes) == [expected]


def test_production_refuses_an_http_issuer(tmp_path: object) -> None:
    found = problems(tmp_path, APP_ENV="production", OIDC_ISSUER="http://login.example.com")
    assert "OIDC_ISSUER must be an https:// URL in production" in found


def test_the_client_secret_is_never_quoted(tmp_path: object) -> None:
    found = problems(tmp_path, OIDC_SCOPES="email", OIDC_ALLOWED_DOMAINS="")
    assert not any("idp-secret-value-never-shown" in line for line in found)


def test_demo_signs_in_through_the_sandbox_identity_provider(tmp_path: object) -> None:
    settings = load_settings({"APP_ENV": "demo"}, instance_path=str(tmp_path))
    assert settings.oidc is not None
    assert settings.oidc.issuer == "http://127.0.0.1:5001/oidc"


def test_demo_keeps_an_identity_provider_it_is_given(tmp_path: object) -> None:
    settings = load_settings({**BASE, "APP_ENV": "demo"}, instance_path=str(tmp_path))
    assert settings.oidc is not None
    assert settings.oidc.issuer == "https://login.example.com"


def test_the_secret_is_not_in_the_settings_repr(tmp_path: object) -> None:
    settings = load_settings(BASE, instance_path=str(tmp_path))
    assert "idp-secret-value-never-shown" not in repr(settings)


def test_demo_finds_the_identity_provider_beside_its_sandbox(tmp_path: object) -> None:
    env = {"APP_ENV": "demo", "FACTORIAL_DEMO_BASE_URL": "http://127.0.0.1:5101"}
    settings = load_settings(env, instance_path=str(tmp_path))
    assert settings.oidc is not None
    assert settings.oidc.issuer == "http://127.0.0.1:5101/oidc"
