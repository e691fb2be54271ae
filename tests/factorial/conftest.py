"""Fixtures: the bundled Factorial sandbox over real HTTP, plus tiny local servers for the
failures the sandbox cannot produce (refused connections, silence, HTML with 200)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.factorial import FactorialClient
from sandbox.testing import SandboxServer
from tests.factorial.support import REDIRECT_URI, environment_at


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a read timeout every time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


class _HtmlHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"<html><body><h1>Maintenance</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def html_server() -> Iterator[str]:
    """Answers every request with an HTML page and status 200, like a captive portal."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox process per test module, over real HTTP on 127.0.0.1."""
    server = SandboxServer(redirect_uris=[REDIRECT_URI]).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The module's sandbox, reseeded with no faults and the real clock."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def factorial(sandbox: SandboxServer) -> Iterator[FactorialClient]:
    """A client of the sandbox (named so it does not shadow the Flask `client` fixture)."""
    with FactorialClient(environment_at(sandbox.url), connect_timeout=1.0, read_timeout=2.0) as c:
        yield c
