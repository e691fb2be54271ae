"""A new admin's first session, in Chromium: connect, watch the refresh, refresh, revoke, delete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Visitor, visitor
from tests.e2e.stack import ADMIN_EMAIL, Stack, running_stack

pytestmark = pytest.mark.e2e
ANA, BRUNO = 1001, 1002  # the sandbox's Acme admin and one of its employees
ACCESS_TOKEN_TTL, REFRESH_MARGIN = 10, 4  # the sweep refreshes a user token 6 s after issue


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("journey")
    settings = {"REFRESH_MARGIN": str(REFRESH_MARGIN)}
    with running_stack(folder, "journey", settings, access_token_ttl=ACCESS_TOKEN_TTL) as s:
        yield s


def changed_fact(v: Visitor, name: str, before: str, seconds: float = 20) -> str:
    """Reload the page until the fact differs from `before`; its last value either way."""
    deadline = time.monotonic() + seconds
    value = before
    while value == before and time.monotonic() < deadline:
        time.sleep(0.5)
        v.page.reload()
        value = v.fact(name)
    return value


def test_admin_connects_refreshes_revokes_and_deletes(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        page = v.page
        with v.step("sign in to an empty dashboard with the welcome"):
            v.sign_in(ADMIN_EMAIL)
            expect(page.get_by_role("heading", name="Welcome to Factorial Connect")).to_be_visible()
            assert v.accessibility_problems() == []
            v.screenshot("welcome")
        with v.step("the connect page"):
            v.go("/connect")
            assert v.accessibility_problems() == []
            v.screenshot("connect")
        with v.step("connect a company token, approved by the Acme admin"):
            v.connect("company", ANA)
            expect(page.locator(".flash-success")).to_contain_text("Connected Acme Robotics")
            assert v.accessibility_problems() == []
        with v.step("the dashboard lists it"):
            v.go("/")
            expect(page.locator("tbody tr")).to_have_count(1)
            expect(page.locator("tbody tr")).to_contain_text("Does not expire")
            assert v.accessibility_problems() == []
        with v.step("connect a user token"):
            v.connect("user", BRUNO)
            expect(page.locator(".flash-success")).to_contain_text("Connected Bruno López")
            user_page = page.url
        with v.step("reconnect the same user: the same row"):
            page.get_by_role("button", name="Reconnect").click()
            v.approve(BRUNO)
            expect(page.locator(".flash-success")).to_contain_text("Reconnected Bruno López")
            assert page.url == user_page
            first_token, never_refreshed = v.fact("Access token"), v.fact("Last refresh")
            v.go("/?q=Bruno")
            expect(page.locator("tbody tr")).to_have_count(1)
        with v.step("the sweep refreshes the user token before it expires"):
            stack.sandbox.configure(access_token_ttl=3600)  # the next token lives an hour
            page.goto(user_page)
            refreshed_token = changed_fact(v, "Access token", first_token)
            assert (refreshed_token != first_token, v.fact("Last refresh") != never_refreshed) == (
                True,
                True,
            )
        with v.step("refresh now"):
            page.get_by_role("button", name="Refresh now").click()
            expect(page.locator(".flash-success")).to_have_text(
                "Refreshed: a new access token is stored."
            )
            assert v.fact("Access token") != refreshed_token
        with v.step("revoke, confirming the browser's prompt"):
            page.get_by_role("button", name="Revoke").click()
            expect(page.locator(".flash-success")).to_contain_text("Revoked at Factorial")
            expect(page.locator(".page-head .status")).to_have_text("Revoked")
        with v.step("delete, from its confirmation page"):
            page.get_by_role("link", name="Delete").click()
            expect(page.get_by_role("heading", name="Delete this connection?")).to_be_visible()
            assert v.accessibility_problems() == []
            page.get_by_role("button", name="Revoke and delete").click()
            page.wait_for_url(stack.url + "/")
            v.go("/?q=Bruno")
            expect(page.locator("tbody tr")).to_have_count(0)
        with v.step("no console errors, no code or state left in a URL"):
            assert (v.errors, v.leaked_callback_urls()) == ([], [])
