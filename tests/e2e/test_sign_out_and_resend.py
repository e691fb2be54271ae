"""In the browser: signing out ends the session on the server, and reloading the page that
shows a new service client's secret creates no second client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import visitor
from tests.e2e.stack import ADMIN_EMAIL, Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("sign-out")
    with running_stack(folder, "sign-out", {}) as s:
        yield s


def test_a_signed_out_cookie_no_longer_opens_the_dashboard(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    cookies = stack.folder / "before-sign-out.json"
    with visitor(browser, stack, test_name) as v:
        with v.step("sign in and keep this browser's cookies"):
            v.sign_in(ADMIN_EMAIL)
            v.page.context.storage_state(path=cookies)
        with v.step("sign out"):
            v.page.get_by_role("button", name="Sign out").click()
            v.page.wait_for_url(stack.url + "/login*")
    with visitor(browser, stack, test_name, cookies) as v, v.step("the old cookie, replayed"):
        v.go("/")
        v.page.wait_for_url(stack.url + "/login*")
        expect(v.page.get_by_role("heading", name="Connections")).to_have_count(0)


def test_reloading_the_secret_page_creates_no_second_client(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        page = v.page
        with v.step("create a service client"):
            v.sign_in(ADMIN_EMAIL)
            v.go("/services/new")
            page.get_by_label("Name").fill("Reload check")
            page.get_by_label("token:read").check()
            page.get_by_label("All connections and API keys").check()
            page.get_by_role("button", name="Create service client").click()
            expect(page.locator("h1")).to_have_text("Reload check is ready")
            secret = page.locator("#service-secret").input_value()
        with v.step("reload the page that showed the secret"):
            page.reload()
            expect(page.locator("h1")).to_have_text("Reload check was already created")
            shown_again = secret in page.content()
        with v.step("one client on the Services page"):
            v.go("/services/")
            rows = page.locator("tbody tr").filter(has_text="Reload check")
            assert (rows.count(), shown_again, v.errors) == (1, False, [])
