"""Fixtures of the production suite: one stack for the package (stack.py), Debian's Chromium
with the public site mapped to nginx, and the tail of every log in a failed test's report.

Without nginx, openssl, Redis, PostgreSQL or Chromium the suite skips, saying what is missing;
with CI=true it fails instead (.ci/run installs them all).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.production.servers import binary, postgres_bin, tail
from tests.production.stack import ProductionStack
from tests.redis_support import in_ci

# Short enough that the sweep refreshes a user token within seconds (see test_sweep.py).
REFRESH_MARGIN = 6


def missing_servers() -> list[str]:
    """What this machine lacks to run the production stack, one line each."""
    gaps = [f"{name} (apt-get install {package})" for name, package in (
        ("nginx", "nginx-light"), ("openssl", "openssl"), ("redis-server", "redis-server"),
    ) if binary(name) is None]  # fmt: skip
    pg = postgres_bin()
    if pg is None or not all((pg / tool).exists() for tool in ("initdb", "pg_ctl", "psql")):
        gaps.append("PostgreSQL's initdb, pg_ctl and psql (apt-get install postgresql)")
    if os.geteuid() == 0 and binary("runuser") is None:
        gaps.append("runuser, to run PostgreSQL as its own user (apt-get install util-linux)")
    return gaps


def require(gaps: list[str]) -> None:
    """Skip with the reason locally; fail in CI, which must never pass by skipping."""
    if gaps and in_ci():
        pytest.fail("CI=true but the production suite cannot run; missing: " + "; ".join(gaps))
    if gaps:
        pytest.skip("production suite needs: " + "; ".join(gaps))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Production tests first: their Playwright and stack end with the package, before
    tests/e2e starts its own Playwright (two cannot run in one thread)."""
    items.sort(key=lambda item: item.get_closest_marker("production") is None)


@pytest.fixture(scope="package")
def stack() -> Iterator[ProductionStack]:
    require(missing_servers())
    with ProductionStack("stack", refresh_margin=REFRESH_MARGIN) as running:
        yield running


@pytest.fixture(scope="package")
def browser(stack: ProductionStack) -> Iterator[Browser]:
    """Debian's Chromium with tests/e2e's flags, sending https://<server_name> to nginx."""
    require([] if Path(CHROMIUM).exists() else [f"{CHROMIUM} (apt-get install chromium)"])
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={stack.browser_host_rule}"],
            headless=True,
        )
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class Site:
    url: str


@dataclass(frozen=True)
class Front:
    """What tests/e2e's Visitor reads of a stack: the app and Factorial, as the browser sees
    them (https://<server_name> through nginx, the sandbox behind its TLS front)."""

    url: str
    sandbox: Site


@pytest.fixture(scope="package")
def front(stack: ProductionStack) -> Front:
    return Front(stack.url, Site(stack.sandbox_url))


@pytest.fixture
def test_name(request: pytest.FixtureRequest) -> str:
    return f"production-{request.node.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the last lines of each server's log (access logs
    aside: they are in the artifacts folder, named last)."""
    report: pytest.TestReport = yield
    running = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(running, ProductionStack):
        for log in running.logs():
            if "access" not in log.name:
                report.sections.append((f"log {log.name}", tail(log, 20)))
        report.sections.append(("artifacts", str(running.artifacts)))
    return report
