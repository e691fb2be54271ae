"""The autouse `loopback_only` guard, run over a small test file in a pytest of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.network_guard import is_loopback

ROOT = Path(__file__).resolve().parent.parent

REACHING_TESTS = """
import contextlib
import socket
import tempfile


def test_connect_outside():
    with socket.socket() as sock:
        sock.connect(("192.0.2.1", 9))


def test_connect_outside_and_swallow_the_error():
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.connect_ex(("192.0.2.1", 9))


def test_create_connection_by_name():
    socket.create_connection(("example.com", 443), timeout=0.1).close()


def test_loopback():
    with socket.create_server(("127.0.0.1", 0)) as server:
        socket.create_connection(server.getsockname()[:2], timeout=1).close()
        socket.create_connection(("localhost", server.getsockname()[1]), timeout=1).close()


def test_unix_socket():
    with tempfile.TemporaryDirectory() as folder:
        path = folder + "/s"
        with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as sock:
            server.bind(path)
            server.listen()
            sock.connect(path)
"""


def outcomes(tmp_path: Path) -> dict[str, list[str]]:
    """What went wrong in each test (failure in its body, error in teardown) of a pytest run
    whose conftest is ours."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_reaching.py").write_text(REACHING_TESTS)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--junitxml=report.xml",
         "test_reaching.py"],
        cwd=tmp_path, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    report = ElementTree.parse(tmp_path / "report.xml")  # noqa: S314 (written by our own run)
    cases = report.iter("testcase")
    return {case.attrib["name"]: [child.tag for child in case] for case in cases}


def test_the_guard_fails_tests_that_leave_loopback_and_passes_the_rest(tmp_path: Path) -> None:
    assert outcomes(tmp_path) == {
        "test_connect_outside": ["error"],
        "test_connect_outside_and_swallow_the_error": ["error"],
        "test_create_connection_by_name": ["error"],
        "test_loopback": [],
        "test_unix_socket": [],
    }


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost", b"127.0.0.1"]
)
def test_loopback_hosts_pass(host: str | bytes) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "192.0.2.1",
        "10.0.0.1",
        "::ffff:8.8.8.8",
        "2001:db8::1",
        "example.com",
        "169.254.169.254",
        "",
    ],
)
def test_other_hosts_are_refused(host: str) -> None:
    assert not is_loopback(host)
