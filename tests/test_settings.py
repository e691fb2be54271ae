"""Settings: production refuses unsafe configurations, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.infra.settings import SettingsError
from app.infra.settings.environment import load_settings

GOOD_KEY = Fernet.generate_key().decode()
SECRET = "BXj_zXJ60zxcjljINYFph3SfhoTPY9KF4uAn9YdC7uCzltyD"
WEBHOOK = "https://hooks.example.com/services/T0KEN-IN-PATH"
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": SECRET,
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
    env = dict(PRODUCTION)
    del env["APP_ENV"]
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
    assert SECRET not in repr(settings) and "client-secret" not in repr(settings)


def test_bad_number_is_reported(tmp_path: Path) -> None:
    assert any("REFRESH_MARGIN" in p for p in problems_for(tmp_path, REFRESH_MARGIN="ten"))


# Each unsafe production setting, and the words its single refusal line must contain.
UNSAFE = [
    ({"NOTIFY_WEBHOOK_URL": "http://hooks.example.com/x", "NOTIFY_WEBHOOK_SECRET": SECRET},
     "NOTIFY_WEBHOOK_URL must be an https:// URL"),
    ({"NOTIFY_WEBHOOK_URL": "hooks.example.com/x", "NOTIFY_WEBHOOK_SECRET": SECRET},
     "NOTIFY_WEBHOOK_URL must be an https:// URL"),
    ({"NOTIFY_WEBHOOK_URL": WEBHOOK}, "NOTIFY_WEBHOOK_SECRET is required"),
    ({"NOTIFY_WEBHOOK_URL": WEBHOOK, "NOTIFY_WEBHOOK_SECRET": "  "},
     "NOTIFY_WEBHOOK_SECRET is required"),
    ({"SESSION_COOKIE_SECURE": "false"}, "SESSION_COOKIE_SECURE must be on"),
    ({"SESSION_COOKIE_SECURE": "0"}, "SESSION_COOKIE_SECURE must be on"),
    ({"SECRET_KEY": "abcd" * 10}, "SECRET_KEY is a repeated pattern"),
    ({"SECRET_KEY": "x" * 40}, "SECRET_KEY is a repeated pattern"),
    ({"SECRET_KEY": "test-secret-key-" + "x" * 32}, "SECRET_KEY is a repeated pattern"),
    ({"SECRET_KEY": "0123456789" * 4}, "SECRET_KEY is a repeated pattern"),
    ({"SECRET_KEY": "0123456789abcdef" * 20}, "SECRET_KEY is a repeated pattern"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), UNSAFE)
def test_unsafe_setting_is_refused_in_one_line(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    assert [expected in line for line in problems_for(tmp_path, **change)] == [True]


@pytest.mark.parametrize(("change", "expected"), UNSAFE)
def test_create_app_exits_2_with_one_line_for_an_unsafe_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], expected: str
) -> None:
    overrides = {**PRODUCTION, "NOTIFY_WEBHOOK_SECRET": "", "INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(SystemExit) as exited:
        create_app({**overrides, **change})
    lines = capsys.readouterr().err.splitlines()
    assert (exited.value.code, [expected in line for line in lines[1:]]) == (2, [True])


@pytest.mark.parametrize(
    "change",
    [
        {"SECRET_KEY": "abcd" * 10},
        {"SECRET_KEY": "test-secret-key-" + "x" * 32},
        {"NOTIFY_WEBHOOK_URL": "http://hooks.example.com/T0KEN-IN-PATH"},
        {"NOTIFY_WEBHOOK_URL": WEBHOOK},
    ],
)
def test_refusal_lines_never_echo_a_secret_or_the_webhook_url(
    tmp_path: Path, change: dict[str, str]
) -> None:
    text = "\n".join(problems_for(tmp_path, **change))
    assert [value in text for value in change.values()] == [False]


@pytest.mark.parametrize(
    "key",
    [
        SECRET,
        "46f907a4f98789b1cd61938539a75248",  # secrets.token_hex(16)
        "6378444892333181945979992598297694682076",  # 40 random digits
        "f1c2e3d4-a5b6-4c7d-8e9f-0a1b2c3d4e5f-long",
        "correct horse battery staple, then some more words",
    ],
)
def test_random_looking_secret_keys_are_accepted(tmp_path: Path, key: str) -> None:
    assert (
        load_settings({**PRODUCTION, "SECRET_KEY": key}, instance_path=tmp_path).secret_key == key
    )


def test_https_webhook_with_a_secret_is_accepted(tmp_path: Path) -> None:
    env = {**PRODUCTION, "NOTIFY_WEBHOOK_URL": WEBHOOK, "NOTIFY_WEBHOOK_SECRET": SECRET}
    assert load_settings(env, instance_path=tmp_path).notify_webhook_url == WEBHOOK


@pytest.mark.parametrize(
    "change",
    [{"SESSION_COOKIE_SECURE": "false"}, {"NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9000/hook"}],
)
def test_demo_may_use_plain_http_locally(tmp_path: Path, change: dict[str, str]) -> None:
    assert load_settings({"APP_ENV": "demo", **change}, instance_path=tmp_path).app_env == "demo"


def test_test_environment_signs_with_a_new_random_key_per_process(tmp_path: Path) -> None:
    first = load_settings({"APP_ENV": "test"}, instance_path=tmp_path)
    second = load_settings({"APP_ENV": "test"}, instance_path=tmp_path)
    assert (first.secret_key != second.secret_key, len(first.secret_key) >= 32) == (True, True)


def test_test_environment_keeps_a_given_secret_key(tmp_path: Path) -> None:
    settings = load_settings({"APP_ENV": "test", "SECRET_KEY": SECRET}, instance_path=tmp_path)
    assert settings.secret_key == SECRET


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"SESSION_IDLE_MINUTES": "ten"}, "SESSION_IDLE_MINUTES must be a whole number of minutes"),
        ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES must be from 5 to"),
        ({"SESSION_MAX_HOURS": "1.5"}, "SESSION_MAX_HOURS must be a whole number of hours"),
        ({"SESSION_MAX_HOURS": "-1"}, "SESSION_MAX_HOURS must be from 1 to 8784 hours"),
        ({"SESSION_MAX_HOURS": "99999999999"}, "SESSION_MAX_HOURS must be from 1 to 8784 hours"),
        (
            {"SESSION_IDLE_MINUTES": "120", "SESSION_MAX_HOURS": "1"},
            "SESSION_IDLE_MINUTES (120) must not exceed SESSION_MAX_HOURS (1 h = 60 minutes)",
        ),
    ],
)
def test_session_lifetimes_are_checked_in_one_line(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    assert [expected in line for line in problems_for(tmp_path, **change)] == [True]


def test_sessions_last_twelve_idle_hours_and_a_day_at_most_by_default(tmp_path: Path) -> None:
    settings = load_settings(PRODUCTION, instance_path=tmp_path)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (720, 24)


def test_session_lifetimes_are_read(tmp_path: Path) -> None:
    env = {**PRODUCTION, "SESSION_IDLE_MINUTES": "30", "SESSION_MAX_HOURS": "8"}
    settings = load_settings(env, instance_path=tmp_path)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 8)
