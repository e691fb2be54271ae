"""One real sandbox process per test session, reset to its seed before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.testing import SandboxServer
from tests.sandbox.flows import REDIRECT_URI


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(redirect_uris=[REDIRECT_URI, "http://127.0.0.1:5000/other"]) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_sandbox(sandbox_server: SandboxServer) -> None:
    sandbox_server.reset()


@pytest.fixture
def base(sandbox_server: SandboxServer) -> str:
    return sandbox_server.url
