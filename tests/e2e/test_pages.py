"""Every page with a few connections: accessibility basics, what a viewer sees, API keys, and
the README's screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import sign_in_once, visitor
from tests.e2e.seed import AdminSession
from tests.e2e.stack import ADMIN_EMAIL, VIEWER_EMAIL, Stack, running_stack

pytestmark = pytest.mark.e2e
ANA, BRUNO, CARLA, DIETER, EVA = 1001, 1002, 1003, 2001, 2002
ACME, NIMBUS = 1, 2
ACTIONS = re.compile(r"^(Refresh now|Reconnect|Revoke|Delete|Connect Factorial|Add an API key)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("pages")
    with running_stack(folder, "pages", {}) as s:
        yield s


@pytest.fixture(scope="module")
def ids(stack: Stack) -> dict[str, int]:
    """Five connections (one needing a reconnect: its grant was revoked in Factorial), a key and
    a service client granted it."""
    admin = AdminSession(stack)
    seeded = {
        "acme": admin.connect("company", ANA),
        "nimbus": admin.connect("company", DIETER),
        "bruno": admin.connect("user", BRUNO),
        "carla": admin.connect("user", CARLA),
        "eva": admin.connect("user", EVA),
    }
    stack.sandbox.revoke_grant(company_id=NIMBUS, employee_id=EVA)
    admin.refresh(seeded["eva"])
    acme_key = stack.sandbox.seed()["api_keys"][0]["token"]
    seeded["key"] = admin.add_api_key(acme_key, "Payroll export")
    seeded["service"] = admin.create_service_client("Payroll sync", seeded["key"])
    return seeded


@pytest.fixture(scope="module")
def admin(browser: Browser, stack: Stack) -> Path:
    return sign_in_once(browser, stack, ADMIN_EMAIL, stack.folder)


@pytest.fixture(scope="module")
def viewer(browser: Browser, stack: Stack) -> Path:
    return sign_in_once(browser, stack, VIEWER_EMAIL, stack.folder)


PAGES = [
    "/",
    "/?status=attention",
    "/?q=acme",
    "/connect",
    "/connections/{bruno}",
    "/connections/{acme}",
    "/connections/{eva}",
    "/connections/{carla}/delete",
    "/api-keys/",
    "/api-keys/new",
    "/api-keys/{key}",
    "/api-keys/{key}/delete",
    "/api-keys/{key}/factorial",
    "/audit/",
    "/admins/",
    "/services/",
    "/services/new",
    "/services/{service}/grants",
    "/account/",
]


@pytest.mark.parametrize("path", PAGES)
def test_admin_page_has_accessibility_basics(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, path: str, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("open the page"):
        v.go(path.format(**ids))
        assert (v.accessibility_problems(), v.errors) == ([], [])


def test_not_found_page_has_accessibility_basics(
    browser: Browser, stack: Stack, admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v:
        v.go("/connections/999999")
        assert v.accessibility_problems() == []


def test_sign_in_page_has_accessibility_basics(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        v.go("/login")
        assert (v.accessibility_problems(), v.errors) == ([], [])


@pytest.mark.parametrize("path", ["/", "/connections/{bruno}", "/api-keys/", "/api-keys/{key}"])
def test_viewer_sees_no_action_buttons(
    browser: Browser, stack: Stack, ids: dict[str, int], viewer: Path, path: str, test_name: str
) -> None:
    with visitor(browser, stack, test_name, viewer) as v, v.step("open the page"):
        v.go(path.format(**ids))
        actions = v.page.get_by_role("button", name=ACTIONS)
        links = v.page.get_by_role("link", name=ACTIONS)
        assert (actions.count(), links.count(), v.accessibility_problems()) == (0, 0, [])


def test_admin_adds_an_api_key_by_pasting_it(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    token = stack.sandbox.seed()["api_keys"][1]["token"]
    with visitor(browser, stack, test_name, admin) as v:
        with v.step("paste the key"):
            v.go("/api-keys/new")
            v.page.get_by_label("Label").fill("Nimbus HR sync")
            v.page.get_by_label("API key").fill(token)
            v.page.get_by_role("button", name="Verify and store").click()
        with v.step("stored, verified, shown by its last four characters only"):
            expect(v.page.locator(".flash-success")).to_contain_text("Stored and verified")
            expect(v.page.locator("main")).to_contain_text(token[-4:])
            assert (token in v.page.content(), v.errors) == (False, [])


def test_dashboard_and_detail_screenshots(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v:
        with v.step("dashboard"):
            v.go("/")
            expect(v.page.locator("tbody tr")).to_have_count(5)
            expect(v.page.locator("tbody")).to_contain_text("Needs reconnect")
            v.screenshot("dashboard")
        with v.step("a user token's page"):
            v.go(f"/connections/{ids['bruno']}")
            expect(v.page.locator("h1")).to_contain_text("Bruno López")
            v.screenshot("connection-detail")
            assert v.errors == []
