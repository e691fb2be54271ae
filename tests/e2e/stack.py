"""The app as a new user runs it: gunicorn in APP_ENV=demo on SQLite, beside its own sandbox."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sandbox.testing import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
ADMIN_EMAIL = "ada@example.com"
VIEWER_EMAIL = "vera@example.com"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Stack:
    """A running app and the sandbox it connects to."""

    url: str
    sandbox: SandboxServer
    folder: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(folder: Path, url: str, sandbox_url: str, **extra: str) -> dict[str, str]:
    """The process environment: demo mode, our sandbox, SQLite in `folder`, a 1 s sweep."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_"))}
    for name in ("DATABASE_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "TEST_DATABASE_URL"):
        env.pop(name, None)
    env.update(
        APP_ENV="demo",
        FACTORIAL_DEMO_BASE_URL=sandbox_url,
        FACTORIAL_DEMO_REDIRECT_URI=f"{url}/oauth/callback",
        SESSION_COOKIE_SECURE=str(url.startswith("https://")).lower(),
        DATABASE_URL=f"sqlite:///{folder / 'app.sqlite3'}",
        INSTANCE_PATH=str(folder),
        SCHEDULER="embedded",
        SWEEP_INTERVAL="1",
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


def flask(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.Popen[str]:
    """Start `flask --app wsgi …`; `finish` waits for it and fails on a non-zero exit."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    return process


def finish(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdout is not None
        output = process.stdout.read()
        assert process.wait(timeout=60) == 0, f"{' '.join(map(str, process.args))}: {output}"


def wait_until_up(
    url: str, server: subprocess.Popen[Any], seconds: float = 30, verify: str | bool = True
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            requests.get(f"{url}/healthz", timeout=1, verify=verify).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not come up on {url}; see {ARTIFACTS}")


@contextmanager
def running_stack(
    folder: Path,
    name: str,
    app_settings: dict[str, str],
    tls: tuple[Path, Path] | None = None,
    **sandbox_config: Any,
) -> Iterator[Stack]:
    """Sandbox, migrated database, an admin and a viewer, then gunicorn with two workers;
    each process is stopped by its own pid. With `tls` (certificate, key) gunicorn ends TLS
    itself (`--certfile`), and the app is served, and its cookies marked, as https."""
    port = free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    with SandboxServer(redirect_uris=[f"{url}/oauth/callback"], **sandbox_config) as sandbox:
        env = app_env(folder, url, sandbox.url, **app_settings)
        finish(flask(env, "db", "upgrade"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with (ARTIFACTS / f"{name}-gunicorn.log").open("w") as log:
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2"]
            command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
            command += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])] if tls else []
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            try:
                finish(
                    flask(env, "create-admin", ADMIN_EMAIL, "--password-stdin", stdin=PASSWORD),
                    flask(
                        env,
                        "create-admin",
                        VIEWER_EMAIL,
                        "--role",
                        "viewer",
                        "--password-stdin",
                        stdin=PASSWORD,
                    ),
                )
                wait_until_up(url, server, verify=str(tls[0]) if tls else True)
                yield Stack(url, sandbox, folder)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
