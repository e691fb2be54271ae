"""gunicorn with production settings starts; without them it refuses, one line per problem."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.processes import GUNICORN, ROOT, free_port, production_env


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


def wait_for_health(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = run_gunicorn(production_env(tmp_path), port)
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
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


def refusal(env: dict[str, str], *args: str, cwd: Path = ROOT) -> tuple[int, list[str], bool]:
    """gunicorn's exit code, its problem lines, and whether it printed a traceback."""
    command = [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), "--workers", "1", *args, "wsgi:app"]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    problems = [line[4:] for line in output.splitlines() if line.startswith("  - ")]
    return result.returncode, problems, "Traceback" in output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"NOTIFY_WEBHOOK_URL": "http://hooks.example.com/x", "NOTIFY_WEBHOOK_SECRET": "w" * 9},
            "NOTIFY_WEBHOOK_URL must be an https:// URL",
        ),
        ({"NOTIFY_WEBHOOK_URL": "https://hooks.example.com/x"}, "NOTIFY_WEBHOOK_SECRET"),
        ({"SESSION_COOKIE_SECURE": "false"}, "SESSION_COOKIE_SECURE must be on"),
        ({"SECRET_KEY": "abcd" * 10}, "SECRET_KEY is a repeated pattern"),
        ({"SECRET_KEY": "test-secret-key-" + "x" * 32}, "SECRET_KEY is a repeated pattern"),
        ({"APP_ENV": "test"}, "APP_ENV=test"),
    ],
)
def test_gunicorn_refuses_an_unsafe_setting_in_one_line(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    env = {**production_env(tmp_path), **change}
    code, problems, traceback = refusal(env, "--bind", f"127.0.0.1:{free_port()}")
    assert (code, [expected in line for line in problems], traceback) == (2, [True], False)


@pytest.mark.parametrize("proxy", ["PROXY_FIX_X_FOR", "PROXY_FIX_X_PROTO"])
@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "", "0"])  # noqa: S104 - refused
def test_gunicorn_behind_a_proxy_refuses_to_bind_every_interface(
    tmp_path: Path, proxy: str, host: str
) -> None:
    env = {**production_env(tmp_path), proxy: "1", "GUNICORN_BIND": f"{host}:{free_port()}"}
    code, problems, _ = refusal(env)
    assert (code, [line.startswith("GUNICORN_BIND") for line in problems]) == (2, [True])


def test_gunicorn_behind_a_proxy_refuses_every_interface_from_the_command_line(
    tmp_path: Path,
) -> None:
    env = {**production_env(tmp_path), "PROXY_FIX_X_FOR": "1"}
    code, problems, _ = refusal(env, "--bind", f"0.0.0.0:{free_port()}")
    assert (code, [line.startswith("GUNICORN_BIND") for line in problems]) == (2, [True])


def test_gunicorn_reads_the_proxy_setting_from_dot_env(tmp_path: Path) -> None:
    """The app trusts a proxy named in .env, so the bind check must see it too."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "wsgi.py", checkout / "wsgi.py")
    (checkout / ".env").write_text("PROXY_FIX_X_FOR=1\n")
    env = {**production_env(tmp_path), "GUNICORN_BIND": f"0.0.0.0:{free_port()}"}
    code, problems, _ = refusal(env, cwd=checkout)
    assert (code, [line.startswith("GUNICORN_BIND") for line in problems]) == (2, [True])


def configured_bind(env: dict[str, str]) -> str:
    """The bind gunicorn resolves from gunicorn.conf.py, without binding anything."""
    command = [GUNICORN, "-c", "gunicorn.conf.py", "--print-config", "wsgi:app"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return re.findall(r"^bind\s+= (.*)$", result.stdout, re.MULTILINE)[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "['0.0.0.0:8000']"),
        ({"PROXY_FIX_X_FOR": "1"}, "['127.0.0.1:8000']"),
        ({"PROXY_FIX_X_PROTO": "2"}, "['127.0.0.1:8000']"),
        ({"PROXY_FIX_X_FOR": "1", "GUNICORN_BIND": "10.0.0.5:8000"}, "['10.0.0.5:8000']"),
    ],
)
def test_default_bind_is_loopback_when_a_proxy_is_trusted(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    assert configured_bind({**production_env(tmp_path), **change}) == expected


def test_gunicorn_behind_a_proxy_serves_on_a_chosen_address(tmp_path: Path) -> None:
    port = free_port()
    env = {**production_env(tmp_path), "PROXY_FIX_X_FOR": "1", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    command = [GUNICORN, "-c", "gunicorn.conf.py", "--workers", "1", "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
        status = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert status == 200


def test_flask_commands_on_postgresql_need_no_writable_instance_folder(tmp_path: Path) -> None:
    """The service user may not write the checkout: nothing but a SQLite file needs a folder."""
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env = production_env(tmp_path)
    env.update(
        INSTANCE_PATH=str(blocked / "instance"),
        DATABASE_URL="postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
