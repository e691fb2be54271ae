"""Sign-in and forms over HTTPS ended by gunicorn itself (`--certfile`): Flask-WTF refuses a
CSRF-protected POST on a secure request without a same-origin Referer, so this is where a
too-strict Referrer-Policy shows. (TLS ended by nginx: tests/production.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import visitor
from tests.e2e.stack import ADMIN_EMAIL, Stack, running_stack
from tests.tls import self_signed_certificate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("https")
    with running_stack(folder, "https", {}, tls=self_signed_certificate(folder)) as s:
        yield s


def test_an_admin_signs_in_and_out_over_https(
    browser: Browser, stack: Stack, test_name: str
) -> None:
    with visitor(browser, stack, test_name) as v:
        with v.step("sign in"):
            v.sign_in(ADMIN_EMAIL)
            welcome = v.page.get_by_role("heading", name="Welcome to Factorial Connect")
            expect(welcome).to_be_visible()
        with v.step("another form: sign out"):
            v.page.get_by_role("button", name="Sign out").click()
            v.page.wait_for_url(stack.url + "/login*")
            expect(v.page.get_by_label("Email")).to_be_visible()
        with v.step("over https, with no console errors"):
            assert (v.page.url.startswith("https://"), v.errors) == (True, [])
