"""gunicorn with production settings starts; without them it refuses, one line per problem."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_", "SECRET"))}
    env.update(
        APP_ENV="production",
        SECRET_KEY="Vh3-Tq8LxZ0pN6cWbK2yRj9dMf4sUe7aGo1iYnPk5ErJ",
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        FACTORIAL_CLIENT_ID="client",
        FACTORIAL_CLIENT_SECRET="client-secret-value",
        FACTORIAL_REDIRECT_URI="https://connect.example.com/oauth/callback",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        INSTANCE_PATH=str(tmp_path),
        SCHEDULER="off",
    )
    return env


def run_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    args = [
        GUNICORN,
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "wsgi:app",
    ]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = run_gunicorn(production_env(tmp_path), port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_gunicorn_starts_with_production_settings(server: str) -> None:
    assert requests.get(f"{server}/healthz", timeout=5).json() == {"status": "ok"}


def test_production_sends_hsts(server: str) -> None:
    assert (
        "max-age"
        in requests.get(f"{server}/healthz", timeout=5).headers["Strict-Transport-Security"]
    )


def test_gunicorn_refuses_without_production_settings(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"], env["TOKEN_ENCRYPTION_KEYS"]
    process = run_gunicorn(env, free_port())
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "SECRET_KEY is missing" in output and "TOKEN_ENCRYPTION_KEYS is missing" in output


@pytest.mark.parametrize(
    ("name", "value"),
    [("GUNICORN_MAX_REQUESTS", "lots"), ("GUNICORN_THREADS", "0"), ("GUNICORN_TIMEOUT", "-5")],
)
def test_gunicorn_refuses_a_malformed_count(tmp_path: Path, name: str, value: str) -> None:
    env = {**production_env(tmp_path), name: value}
    process = run_gunicorn(env, free_port())
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"{name} must be a whole number" in output and "Traceback" not in output


def test_flask_cli_refuses_with_debug_on(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "DEBUG": "1"}
    flask = str(Path(sys.executable).parent / "flask")
    result = subprocess.run(
        [flask, "--app", "wsgi", "db", "current"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, "DEBUG must be off" in result.stderr) == (2, True)
