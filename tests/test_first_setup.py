"""First setup: commands that produce configuration run without any; the others say what is
missing, one line per problem, instead of failing with a traceback."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.infra.settings.environment import load_settings
from app.infra.settings.refusals import valid_fernet_key

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def empty_shell(home: Path) -> dict[str, str]:
    """What a fresh login shell holds: a PATH and a HOME, nothing of ours."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def flask(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLASK, "--app", "wsgi", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bare_checkout(tmp_path: Path) -> Path:
    """A directory holding wsgi.py and no .env: a checkout before any configuration."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(ROOT / "wsgi.py", folder / "wsgi.py")
    return folder


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        **empty_shell(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FACTORIAL_CLIENT_ID": "client",
        "FACTORIAL_CLIENT_SECRET": "client-secret-value",
        "FACTORIAL_REDIRECT_URI": "https://connect.example.com/oauth/callback",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SCHEDULER": "off",
    }


def test_keys_generate_in_an_empty_shell_prints_a_fernet_key(bare_checkout: Path) -> None:
    result = flask("keys", "generate", cwd=bare_checkout, env=empty_shell(bare_checkout))
    assert (result.returncode, valid_fernet_key(result.stdout.strip())) == (0, True)


def test_keys_generate_runs_in_the_checkout_as_documented(tmp_path: Path) -> None:
    result = flask("keys", "generate", cwd=ROOT, env=empty_shell(tmp_path))
    assert (result.returncode, valid_fernet_key(result.stdout.strip())) == (0, True)


def test_keys_generate_runs_outside_any_checkout(tmp_path: Path) -> None:
    result = flask("keys", "generate", cwd=tmp_path, env=empty_shell(tmp_path))
    assert (result.returncode, valid_fernet_key(result.stdout.strip())) == (0, True)


def test_keys_commands_need_no_app_option(tmp_path: Path) -> None:
    result = subprocess.run(
        [FLASK, "keys", "secret-key"],
        cwd=tmp_path,
        env=empty_shell(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, len(result.stdout.strip())) == (0, 64)


def test_keys_secret_key_is_accepted_by_production(bare_checkout: Path, tmp_path: Path) -> None:
    result = flask("keys", "secret-key", cwd=bare_checkout, env=empty_shell(bare_checkout))
    env = {**production_env(tmp_path), "APP_ENV": "production", "SECRET_KEY": result.stdout.strip()}
    assert load_settings(env, instance_path=tmp_path).secret_key == result.stdout.strip()


def test_keys_secret_key_is_new_each_time(bare_checkout: Path) -> None:
    env = empty_shell(bare_checkout)
    first = flask("keys", "secret-key", cwd=bare_checkout, env=env).stdout
    second = flask("keys", "secret-key", cwd=bare_checkout, env=env).stdout
    assert first.strip() != second.strip()


def test_tokens_status_in_an_empty_shell_lists_the_problems(bare_checkout: Path) -> None:
    result = flask("tokens", "status", cwd=bare_checkout, env=empty_shell(bare_checkout))
    assert (
        result.returncode,
        "SECRET_KEY is missing" in result.stderr,
        "Traceback" in result.stderr + result.stdout,
    ) == (2, True, False)


def test_keys_rotate_in_an_empty_shell_lists_the_problems(bare_checkout: Path) -> None:
    result = flask("keys", "rotate", cwd=bare_checkout, env=empty_shell(bare_checkout))
    assert (
        result.returncode,
        "TOKEN_ENCRYPTION_KEYS is missing" in result.stderr,
        "Traceback" in result.stderr + result.stdout,
    ) == (2, True, False)


def test_keys_rotate_loads_the_configured_app(bare_checkout: Path, tmp_path: Path) -> None:
    env = production_env(tmp_path)
    flask("db", "upgrade", cwd=bare_checkout, env=env).check_returncode()
    result = flask("keys", "rotate", cwd=bare_checkout, env=env)
    assert (result.returncode, "Re-encrypted 0 secret(s)" in result.stdout) == (0, True)
