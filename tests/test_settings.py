"""Settings: production refuses unsafe configurations, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.settings import SettingsError, load_settings

GOOD_KEY = Fernet.generate_key().decode()
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 48,
    "TOKEN_ENCRYPTION_KEYS": GOOD_KEY,
    "FACTORIAL_CLIENT_ID": "client-id",
    "FACTORIAL_CLIENT_SECRET": "client-secret",
    "FACTORIAL_REDIRECT_URI": "https://connect.example.com/oauth/callback",
}


def problems_for(tmp_path: Path, **changes: str | None) -> list[str]:
    env = {k: v for k, v in {**PRODUCTION, **changes}.items() if v is not None}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, instance_path=tmp_path)
    return caught.value.problems


def test_complete_production_configuration_loads(tmp_path: Path) -> None:
    settings = load_settings(PRODUCTION, instance_path=tmp_path)
    assert settings.environments["production"].base_url == "https://api.factorialhr.com"


def test_production_is_the_default_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "APP_ENV"}
    assert load_settings(env, instance_path=tmp_path).app_env == "production"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is missing"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is missing or a known default"),
        ({"SECRET_KEY": "short-but-not-default"}, "SECRET_KEY is too short"),
        ({"TOKEN_ENCRYPTION_KEYS": None}, "TOKEN_ENCRYPTION_KEYS is missing"),
        ({"TOKEN_ENCRYPTION_KEYS": "not-a-key"}, "key #1 is not a valid Fernet key"),
        ({"TOKEN_ENCRYPTION_KEYS": f"{GOOD_KEY},bad"}, "key #2 is not a valid Fernet key"),
        ({"DEBUG": "1"}, "DEBUG must be off in production"),
        (
            {"FACTORIAL_BASE_URL": "http://api.factorialhr.com"},
            "FACTORIAL_BASE_URL must be an https://",
        ),
        ({"FACTORIAL_CLIENT_ID": None}, "FACTORIAL_CLIENT_ID is required"),
        ({"FACTORIAL_CLIENT_SECRET": None}, "FACTORIAL_CLIENT_SECRET is required"),
        ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
    ],
)
def test_production_refuses(tmp_path: Path, change: dict[str, str | None], expected: str) -> None:
    assert any(expected in line for line in problems_for(tmp_path, **change))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, SECRET_KEY=None, TOKEN_ENCRYPTION_KEYS=None, DEBUG="true")
    assert len(problems) == 3


def test_refusals_never_echo_the_secret(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, SECRET_KEY="tooshort-secret-value")
    assert all("tooshort-secret-value" not in line for line in problems)


def test_demo_environment_generates_stable_secrets(tmp_path: Path) -> None:
    first = load_settings({"APP_ENV": "demo"}, instance_path=tmp_path)
    second = load_settings({"APP_ENV": "demo"}, instance_path=tmp_path)
    assert (first.secret_key, first.token_encryption_keys) == (
        second.secret_key,
        second.token_encryption_keys,
    )


def test_demo_environment_points_at_the_bundled_sandbox(tmp_path: Path) -> None:
    settings = load_settings({"APP_ENV": "demo"}, instance_path=tmp_path)
    assert settings.environments["demo"].base_url == "http://127.0.0.1:5001"


def test_demo_environment_is_optional_in_production(tmp_path: Path) -> None:
    assert "demo" not in load_settings(PRODUCTION, instance_path=tmp_path).environments


def test_demo_factorial_environment_is_read_from_its_prefix(tmp_path: Path) -> None:
    env = {
        **PRODUCTION,
        "FACTORIAL_DEMO_CLIENT_ID": "demo-id",
        "FACTORIAL_DEMO_CLIENT_SECRET": "demo-secret",
        "FACTORIAL_DEMO_REDIRECT_URI": "https://connect.example.com/oauth/callback",
        "FACTORIAL_DEMO_SCOPES": "employees time_off",
    }
    demo = load_settings(env, instance_path=tmp_path).environments["demo"]
    assert (demo.base_url, demo.scopes) == (
        "https://api.eu2.demo.factorial.dev",
        ("employees", "time_off"),
    )


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    settings = load_settings(PRODUCTION, instance_path=tmp_path)
    assert "s" * 48 not in repr(settings) and "client-secret" not in repr(settings)


def test_bad_number_is_reported(tmp_path: Path) -> None:
    assert any("REFRESH_MARGIN" in p for p in problems_for(tmp_path, REFRESH_MARGIN="ten"))
