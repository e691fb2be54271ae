"""Under gunicorn (4 workers), 100 services asking at once for an expiring token cause exactly one
refresh at Factorial, and every one of them gets the same new token."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from sandbox.testing import SandboxServer
from tests.factories import make_client
from tests.helpers import bearer, expire_soon
from tests.lifecycle import access_token, refresh_requests
from tests.processes import GUNICORN, ROOT, free_port, process_env, wait_until_up

pytestmark = pytest.mark.slow
CALLERS = 100


@pytest.fixture
def server(app: Flask, app_settings: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = [GUNICORN, "-c", "gunicorn.conf.py", "--workers", "4", "--bind", f"127.0.0.1:{port}"]
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [*command, "wsgi:app"], cwd=ROOT, env=process_env(app, app_settings, SCHEDULER="off"),
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def ask(url: str, secret: str) -> tuple[int, str]:
    headers = {**bearer(secret), "Connection": "close"}  # a new connection: spread over workers
    response = requests.get(url, headers=headers, timeout=60)
    return response.status_code, response.json().get("access_token", "")


def test_hundred_concurrent_vends_refresh_once(
    app: Flask, sandbox: SandboxServer, user_connection: int, server: str
) -> None:
    secret = make_client(app, scopes=("token:read",), connections=(user_connection,))
    before = access_token(app, user_connection)
    expire_soon(app, user_connection)
    sandbox.reset_counts()
    url = f"{server}/api/v1/connections/{user_connection}/token"
    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(lambda _: ask(url, secret), range(CALLERS)))
    stored = access_token(app, user_connection)
    assert (refresh_requests(sandbox), stored != before) == (1, True)
    assert set(answers) == {(200, stored)}
