"""Under gunicorn, sign-in throttling holds across workers when the counters live in Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_from
from tests.processes import GUNICORN, ROOT, free_port, production_env, wait_until_up
from tests.redis_support import flushed, require_redis_url

pytestmark = pytest.mark.slow

FLASK = str(Path(sys.executable).parent / "flask")
CLOSE = {"Connection": "close"}  # a new connection per request, so requests spread over workers
WRONG = "wrong password!!"
MEMORY_WARNING = "sign-in throttling counts per worker process"


@dataclass
class Server:
    url: str
    log: Path


def flask_cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    subprocess.run(
        [FLASK, "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=120,
        check=True,
    )


def web_env(tmp_path: Path, storage: str) -> dict[str, str]:
    """Demo, not production: the client speaks plain http, and production refuses cookies that
    are not Secure. Throttling is the same in both."""
    return {
        **production_env(tmp_path),
        "APP_ENV": "demo",
        "RATELIMIT_STORAGE_URI": storage,
        "SESSION_COOKIE_SECURE": "false",
        "SCHEDULER": "off",
    }


def serve(env: dict[str, str], workers: int, log: Path) -> Iterator[Server]:
    port = free_port()
    command = [GUNICORN, "-c", "gunicorn.conf.py", "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        yield Server(f"http://127.0.0.1:{port}", log)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis_url()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    """Four workers sharing Redis counters, on a migrated SQLite database with one admin."""
    tmp_path = tmp_path_factory.mktemp("shared")
    env = web_env(tmp_path, redis_url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "create-admin", ADMIN_EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    yield from serve(env, 4, tmp_path / "gunicorn.log")


@pytest.fixture
def shared_server(redis_server: Server, redis_url: str) -> Server:
    """The module's server with every counter reset, so each test starts from zero failures."""
    flushed(redis_url)
    return redis_server


@pytest.fixture
def memory_server(tmp_path: Path) -> Iterator[Server]:
    yield from serve(web_env(tmp_path, "memory://"), 2, tmp_path / "gunicorn.log")


def sign_in(session: requests.Session, url: str, password: str) -> requests.Response:
    token = csrf_from(session.get(f"{url}/login", headers=CLOSE, timeout=10).text)
    data = {"email": ADMIN_EMAIL, "password": password, "csrf_token": token, "next": ""}
    return session.post(f"{url}/login", data=data, headers=CLOSE, timeout=10, allow_redirects=False)


def test_eleventh_failed_sign_in_is_refused_across_workers(shared_server: Server) -> None:
    session = requests.Session()
    statuses = [sign_in(session, shared_server.url, WRONG).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_failure_counters_live_in_redis(shared_server: Server, redis_url: str) -> None:
    sign_in(requests.Session(), shared_server.url, WRONG)
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    assert list(client.scan_iter("*login-failures*")) != []


def test_shared_storage_starts_without_the_per_process_warning(shared_server: Server) -> None:
    assert MEMORY_WARNING not in shared_server.log.read_text()


def test_memory_storage_with_many_workers_warns_at_start(memory_server: Server) -> None:
    assert MEMORY_WARNING in memory_server.log.read_text()
