"""`make run` (scripts/run-demo.sh) in a copy of the checkout: it writes a .env so that the
documented `flask --app wsgi …` commands reach the demo there, and says whether the sandbox
started fresh or resumed its state from the last run.

The copy gets its own `instance/` and `.env`; PYTHONPATH points the shared virtualenv's tools
at the copy's code, as the copy's own `.venv` would."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_checkout(folder: Path) -> Path:
    """The parts of the checkout `make run` uses; code copied, read-only folders linked."""
    for name in ("app", "sandbox", "scripts"):
        shutil.copytree(ROOT / name, folder / name, ignore=IGNORE)
    for name in ("migrations", "templates", "static"):
        (folder / name).symlink_to(ROOT / name)
    for name in ("wsgi.py", "gunicorn.conf.py"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def shell(checkout: Path) -> dict[str, str]:
    """A fresh shell in the checkout: PATH, HOME, and the checkout's code first on the path."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(checkout),
        "PYTHONPATH": str(checkout),
    }


def make_run(checkout: Path, log: Path) -> str:
    """Run the demo until the app answers, then stop it as Ctrl-C does; returns its output."""
    app_port, sandbox_port = free_port(), free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/run-demo.sh", str(BIN), str(app_port), str(sandbox_port)],
            cwd=checkout,
            env=shell(checkout),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(f"http://127.0.0.1:{app_port}/healthz", process)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return log.read_text()


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(url, timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"the demo never answered on {url}")


@dataclass
class DemoRuns:
    checkout: Path
    first: str
    second: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> DemoRuns:
    """Two `make run`s, one after the other, in one fresh checkout."""
    folder = tmp_path_factory.mktemp("demo")
    checkout = make_checkout(folder / "checkout")
    first = make_run(checkout, folder / "first.log")
    return DemoRuns(checkout, first, make_run(checkout, folder / "second.log"))


def test_first_run_says_the_sandbox_starts_fresh(runs: DemoRuns) -> None:
    assert "Factorial sandbox: started fresh on instance/sandbox.sqlite3" in runs.first


def test_second_run_says_the_sandbox_resumes(runs: DemoRuns) -> None:
    assert "Factorial sandbox: resumed instance/sandbox.sqlite3" in runs.second


def test_first_run_says_it_wrote_dotenv(runs: DemoRuns) -> None:
    assert "Wrote .env (APP_ENV, FACTORIAL_DEMO_BASE_URL" in runs.first


def test_second_run_on_other_ports_updates_its_dotenv(runs: DemoRuns) -> None:
    assert "Updated .env (APP_ENV" in runs.second


def test_dotenv_names_the_demo(runs: DemoRuns) -> None:
    lines = (runs.checkout / ".env").read_text().splitlines()
    assert "APP_ENV=demo" in lines


def test_documented_flask_command_works_in_the_demo_checkout(runs: DemoRuns) -> None:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "tokens", "status"],
        cwd=runs.checkout,
        env=shell(runs.checkout),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, "0 connection(s).")


def test_an_existing_dotenv_without_app_env_is_kept_and_explained(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "checkout")
    (checkout / ".env").write_text("LOG_LEVEL=DEBUG\n")
    output = make_run(checkout, tmp_path / "run.log")
    assert ((checkout / ".env").read_text(), "    APP_ENV=demo" in output) == (
        "LOG_LEVEL=DEBUG\n",
        True,
    )
