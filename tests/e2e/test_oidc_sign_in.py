"""In the browser: single sign-on through the sandbox's identity provider in two clicks, as
`make run` offers it (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import visitor
from tests.e2e.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

PROVIDER_BUTTON = "Sign in with the sandbox identity provider"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("oidc")
    with running_stack(folder, "oidc", {}) as s:
        yield s


def test_an_admin_signs_in_in_two_clicks(browser: Browser, stack: Stack, test_name: str) -> None:
    with visitor(browser, stack, test_name) as v:
        v.go("/login")
        with v.step("click Sign in with the identity provider"):
            v.page.get_by_role("link", name=PROVIDER_BUTTON).click()
            v.page.wait_for_url(stack.sandbox.url + "/oidc/authorize*")
        with v.step("pick Ana"):
            v.page.get_by_role("button", name="Ana García").click()
            v.page.wait_for_url(stack.url + "/")
        expect(v.page.get_by_text("ana@acme.example")).not_to_have_count(0)
        assert v.errors == []


def test_the_address_bar_never_keeps_the_code(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        v.go("/login")
        v.page.get_by_role("link", name=PROVIDER_BUTTON).click()
        v.page.get_by_role("button", name="Bruno López").click()
        v.page.wait_for_url(stack.url + "/")
        assert "code=" not in v.page.url


def test_an_unverified_email_is_turned_away_with_a_reason(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        v.go("/login")
        v.page.get_by_role("link", name=PROVIDER_BUTTON).click()
        v.page.get_by_role("button", name="Dora Unverified").click()
        v.page.wait_for_url(stack.url + "/login*")
        expect(v.page.get_by_text("not verified at the identity provider")).to_be_visible()
