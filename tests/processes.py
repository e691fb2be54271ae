"""Running the app as real processes in tests: free ports, environments, gunicorn readiness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from flask import Flask

from app.wiring import wiring

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


def process_env(app: Flask, app_settings: dict[str, Any], **extra: str) -> dict[str, str]:
    """The test app's settings and keys as a demo process's environment."""
    settings = wiring(app).settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_"))}
    env.update({k: str(v) for k, v in app_settings.items()})
    env.update(
        APP_ENV="demo",
        TOKEN_ENCRYPTION_KEYS=",".join(settings.token_encryption_keys),
        SECRET_KEY=settings.secret_key,
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(f"{url}/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")
