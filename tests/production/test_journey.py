"""Issue 14: an admin's whole journey in Chromium, over HTTPS through nginx running the shipped
site config, in front of gunicorn started as the web unit starts it (production settings,
PostgreSQL, Redis), with the sweep in its own `flask tokens worker` process."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import visitor
from tests.e2e.stack import ADMIN_EMAIL
from tests.production.conftest import Front
from tests.production.stack import ProductionStack

pytestmark = pytest.mark.production
ANA, BRUNO = 1001, 1002  # the sandbox's Acme admin and one of its employees
ACME = 1


@pytest.fixture
def worker(stack: ProductionStack) -> Iterator[None]:
    stack.start_worker()
    yield
    stack.stop_worker()


def connection_id(url: str) -> int:
    match = re.search(r"/connections/(\d+)", url)
    assert match, url
    return int(match.group(1))


def test_an_admin_completes_the_journey_over_https_behind_nginx(
    browser: Browser, stack: ProductionStack, front: Front, worker: None, test_name: str
) -> None:
    acme_key = stack.sandbox.seed()["api_keys"][0]["token"]
    with visitor(browser, front, test_name) as v:
        page = v.page
        with v.step("sign in"):
            v.sign_in(ADMIN_EMAIL)
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        with v.step("connect a company token, approved by the Acme admin at the sandbox"):
            v.connect("company", ANA)
            expect(page.locator(".flash-success")).to_contain_text("Connected Acme Robotics")
            company = connection_id(page.url)
        with v.step("connect a user token"):
            v.connect("user", BRUNO)
            expect(page.locator(".flash-success")).to_contain_text("Connected Bruno López")
            first_token = v.fact("Access token")
        with v.step("refresh now"):
            page.get_by_role("button", name="Refresh now").click()
            expect(page.locator(".flash-success")).to_have_text(
                "Refreshed: a new access token is stored."
            )
            assert v.fact("Access token") != first_token
        with v.step("revoke, confirming the browser's prompt"):
            page.get_by_role("button", name="Revoke").click()
            expect(page.locator(".flash-success")).to_contain_text("Revoked at Factorial")
            expect(page.locator(".page-head .status")).to_have_text("Revoked")
        with v.step("add an API key by pasting it"):
            v.go("/api-keys/new")
            page.get_by_label("Label").fill("Payroll export")
            page.get_by_label("API key").fill(acme_key)
            page.get_by_role("button", name="Verify and store").click()
            expect(page.locator(".flash-success")).to_contain_text("Stored and verified")
        with v.step("create a service client for the company token; its secret is shown once"):
            v.go("/services/new")
            page.get_by_label("Name").fill("Payroll sync")
            page.get_by_label("token:read — fetch access tokens").check()
            connections = page.get_by_role("group", name="Connections")
            connections.get_by_role("checkbox", name=re.compile(rf"^#{company} ")).check()
            page.get_by_role("button", name="Create service client").click()
            expect(page.get_by_role("heading", name="Payroll sync is ready")).to_be_visible()
            secret = page.locator("#service-secret").input_value()
        with v.step("the service fetches the company token through nginx and it works"):
            answer = stack.api(secret).get(
                f"{stack.address}/api/v1/connections/{company}/token", timeout=15
            )
            credentials = stack.session().get(
                f"{stack.sandbox_url}/api/2026-10-01/resources/api_public/credentials",
                headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
                timeout=15,
            )
            owner = str(credentials.json()["data"][0]["company_id"])
            assert (answer.status_code, credentials.status_code, owner) == (200, 200, str(ACME))
        with v.step("sign out"):
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{stack.url}/login*")
            expect(page.get_by_label("Email")).to_be_visible()
        with v.step("no console errors, no code or state left in a URL"):
            assert (v.errors, v.leaked_callback_urls()) == ([], [])
