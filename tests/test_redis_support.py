"""Redis-backed tests skip locally without TEST_REDIS_URL but fail in CI, never pass by skipping."""

from __future__ import annotations

import pytest

from tests.processes import free_port
from tests.redis_support import require_redis_url


def test_missing_url_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_redis_url()


def test_missing_url_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_redis_url()


def test_unreachable_server_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(pytest.fail.Exception):
        require_redis_url()
