"""A sandbox on a database file keeps its state across a restart, as `make run` relies on:
refresh tokens still refresh, company tokens and API keys are still accepted."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.testing import SandboxError, SandboxServer
from tests.sandbox.flows import (
    REDIRECT_URI,
    TIMEOUT,
    api_key,
    bearer,
    company_tokens,
    credentials,
    refresh,
    user_tokens,
)


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.sqlite3"


@pytest.fixture
def server(db_file: Path) -> Iterator[SandboxServer]:
    """A sandbox on `db_file`; `restart()` stops it by its PID and starts it on the same file."""
    running = SandboxServer(redirect_uris=[REDIRECT_URI], db=db_file).start()
    yield running
    running.stop()


def log_of(server: SandboxServer) -> str:
    assert server.log_path is not None
    return server.log_path.read_text()


def test_refresh_token_still_refreshes_after_a_restart(server: SandboxServer) -> None:
    tokens = user_tokens(server)
    server.restart()
    assert refresh(server.url, tokens["refresh_token"]).status_code == 200


def test_company_token_is_still_accepted_after_a_restart(server: SandboxServer) -> None:
    token = company_tokens(server)["access_token"]
    server.restart()
    assert credentials(server.url, bearer(token)).status_code == 200


def test_minted_api_key_is_still_accepted_after_a_restart(server: SandboxServer) -> None:
    key = api_key(server)
    server.restart()
    assert credentials(server.url, {"x-api-key": key}).status_code == 200


def test_key_created_through_the_keys_api_is_still_accepted_after_a_restart(
    server: SandboxServer,
) -> None:
    created = requests.post(
        f"{server.url}/api/v1/core/keys",
        json={"name": "ETL"},
        headers={"x-api-key": api_key(server)},
        timeout=TIMEOUT,
    ).json()["token"]
    server.restart()
    assert credentials(server.url, {"x-api-key": created}).status_code == 200


def test_seeded_api_keys_are_the_same_after_a_restart(server: SandboxServer) -> None:
    before = server.seed()["api_keys"]
    server.restart()
    assert server.seed()["api_keys"] == before


def test_clock_offset_is_kept_across_a_restart(server: SandboxServer) -> None:
    server.set_clock(3600)
    server.restart()
    assert requests.get(f"{server.url}/_sandbox/clock", timeout=TIMEOUT).json()["offset"] == 3600


def test_a_killed_sandbox_resumes_too(server: SandboxServer) -> None:
    tokens = user_tokens(server)
    os.kill(server.pid, signal.SIGKILL)
    server.restart()
    assert refresh(server.url, tokens["refresh_token"]).status_code == 200


def test_spent_refresh_token_is_still_spent_after_a_restart(server: SandboxServer) -> None:
    tokens = user_tokens(server)
    refresh(server.url, tokens["refresh_token"]).raise_for_status()
    server.restart()
    assert refresh(server.url, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_reset_after_a_restart_starts_over(server: SandboxServer) -> None:
    tokens = user_tokens(server)
    server.restart()
    server.reset()
    assert refresh(server.url, tokens["refresh_token"]).status_code == 400


def test_a_new_file_says_it_starts_fresh(server: SandboxServer) -> None:
    assert "started fresh" in log_of(server)


def test_a_restart_says_it_resumes(server: SandboxServer) -> None:
    server.restart()
    assert "resumed" in log_of(server)


def test_a_file_from_an_older_sandbox_is_seeded_fresh(db_file: Path) -> None:
    with sqlite3.connect(db_file) as conn:
        conn.execute("CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT)")
    with SandboxServer(redirect_uris=[REDIRECT_URI], db=db_file) as server:
        assert ("started fresh" in log_of(server), len(server.seed()["companies"])) == (True, 2)


def test_a_file_that_is_not_a_database_is_refused_in_one_line(db_file: Path) -> None:
    db_file.write_text("not a database")
    server = SandboxServer(redirect_uris=[REDIRECT_URI], db=db_file)
    with pytest.raises(SandboxError, match="failed to start"):
        server.start()
    assert log_of(server).splitlines() == [
        f"Factorial sandbox cannot use --db {db_file}: file is not a database"
    ]


def test_a_file_with_other_tables_is_refused_and_left_alone(db_file: Path) -> None:
    with sqlite3.connect(db_file) as conn:
        conn.execute("CREATE TABLE api_keys (id INTEGER PRIMARY KEY, secret TEXT)")
        conn.execute("CREATE TABLE connections (id INTEGER PRIMARY KEY)")
    server = SandboxServer(redirect_uris=[REDIRECT_URI], db=db_file)
    with pytest.raises(SandboxError, match="failed to start"):
        server.start()
    with sqlite3.connect(db_file) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    assert (tables, "not the sandbox's (connections)" in log_of(server)) == (
        [("api_keys",), ("connections",)],
        True,
    )


def test_restart_refuses_an_in_memory_sandbox() -> None:
    with (
        SandboxServer(redirect_uris=[REDIRECT_URI]) as server,
        pytest.raises(SandboxError, match="needs a database file"),
    ):
        server.restart()
