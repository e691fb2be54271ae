"""Chromium from Debian driven by Playwright, one signed-in page per test, console watched."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.e2e.a11y import page_problems, unreachable_by_tab
from tests.e2e.stack import ARTIFACTS, PASSWORD, Stack

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
# Where the README's screenshots are written: docs/screenshots when refreshing them on purpose
# (E2E_SCREENSHOTS=docs/screenshots), the ignored artifacts folder otherwise.
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", str(ARTIFACTS / "screenshots")))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium; Playwright's own browser downloads are never used."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `apt-get install chromium`, or set E2E_CHROMIUM")
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


class Visitor:
    """One person in one browser context: records console errors and every URL shown, and
    saves a screenshot of the step that failed."""

    def __init__(self, page: Page, stack: Stack, test_name: str) -> None:
        self.page = page
        self.stack = stack
        self.test_name = re.sub(r"[^\w-]+", "_", test_name)
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.steps = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", lambda dialog: dialog.accept())
        page.on("framenavigated", self._navigated)

    def _console(self, message: ConsoleMessage) -> None:
        """Errors on our pages; the sandbox stands in for Factorial and is not ours to judge."""
        where = message.location.get("url", "")
        if message.type == "error" and where.startswith(self.stack.url):
            self.errors.append(f"console: {message.text} ({where})")

    def _navigated(self, frame: object) -> None:
        if frame == self.page.main_frame:
            self.urls.append(self.page.url)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A named step; on failure its screenshot goes to test-artifacts/e2e/."""
        self.steps += 1
        try:
            yield
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^\w-]+", "-", name).strip("-")
            path = ARTIFACTS / f"{self.test_name}-{self.steps:02d}-{slug}.png"
            self.page.screenshot(path=path, full_page=True)
            raise

    def go(self, path: str) -> Page:
        self.page.goto(self.stack.url + path)
        return self.page

    def sign_in(self, email: str) -> None:
        self.go("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.stack.url + "/")

    def approve(self, employee_id: int) -> None:
        """On the sandbox's consent page: pick the employee, click Approve, come back."""
        self.page.wait_for_url(self.stack.sandbox.url + "/oauth/authorize*")
        self.page.select_option("#employee_id", str(employee_id))
        self.page.get_by_role("button", name="Approve").click()
        self.page.wait_for_url(self.stack.url + "/connections/*")

    def connect(self, kind: str, employee_id: int) -> None:
        self.go("/connect")
        self.page.check(f"#kind-{kind}")
        self.page.get_by_role("button", name="Continue to Factorial").click()
        self.approve(employee_id)

    def fact(self, name: str) -> str:
        """The value of a fact (`<dt>name</dt><dd>…</dd>`) on a detail page."""
        return self.page.locator(f"dt:text-is('{name}') + dd").inner_text().strip()

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.evaluate("document.activeElement && document.activeElement.blur()")
        self.page.screenshot(path=path, full_page=full_page)
        return path

    def accessibility_problems(self) -> list[str]:
        """This page's basic accessibility problems, actions unreachable by Tab included."""
        unreachable = [f"not reachable by Tab: {name}" for name in unreachable_by_tab(self.page)]
        return page_problems(self.page) + unreachable

    def leaked_callback_urls(self) -> list[str]:
        """App URLs shown after a callback that still carry `code` or `state`."""
        own = [url for url in self.urls if url.startswith(self.stack.url)]
        return [url for url in own if re.search(r"[?&](code|state)=", url)]


@contextmanager
def visitor(
    browser: Browser, stack: Stack, name: str, signed_in: Path | None = None
) -> Iterator[Visitor]:
    """A fresh browser context; `signed_in` is a saved storage state (see `sign_in_once`)."""
    context = browser.new_context(
        viewport=VIEWPORT,
        locale="en-GB",
        timezone_id="UTC",
        storage_state=signed_in,
        ignore_https_errors=True,  # HTTPS tests serve a self-signed certificate made at test time
    )
    context.set_default_timeout(15_000)
    try:
        yield Visitor(context.new_page(), stack, name)
    finally:
        context.close()


@pytest.fixture
def test_name(request: pytest.FixtureRequest) -> str:
    return str(request.node.name)


def sign_in_once(browser: Browser, stack: Stack, email: str, folder: Path) -> Path:
    """Sign in through the page once and keep the cookies, so each test need not."""
    with visitor(browser, stack, f"sign-in-{email}") as v:
        v.sign_in(email)
        path = folder / f"{email}.json"
        v.page.context.storage_state(path=path)
    return path
