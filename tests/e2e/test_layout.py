"""What a person sees on a phone (390 px) and a laptop (1280 px): nothing scrolls sideways,
statuses stay on one line, a token that cannot be used shows no expiry, the refused callback
speaks plainly; and the screenshots of the main pages at both widths."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import sign_in_once, visitor
from tests.e2e.seed import AdminSession
from tests.e2e.stack import ADMIN_EMAIL, Stack, running_stack

pytestmark = pytest.mark.e2e
ANA, BRUNO, CARLA, DIETER, EVA, FELIX = 1001, 1002, 1003, 2001, 2002, 2003
NIMBUS = 2
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
LONG_COMPANY = "Acme Robotics Internacional de Automatización Industrial Sociedad Limitada"
LONG_EMAIL = "carla.martin-de-la-fuente.villanueva@acme-robotics-internacional.example"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Each status badge: how many lines it takes (its height over its line height, rounded).
BADGE_LINES = """[...document.querySelectorAll('td .status')].map(el => {
  const style = getComputedStyle(el);
  const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  return Math.round((el.getBoundingClientRect().height - padding) / parseFloat(style.lineHeight));
})"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("layout")
    with running_stack(folder, "layout", {}) as s:
        yield s


@pytest.fixture(scope="module")
def ids(stack: Stack) -> dict[str, int]:
    """Six connections: active ones with a long company name and a long unbroken email as the
    employee, one needing a reconnect (its grant revoked in Factorial) and one revoked here."""
    admin = AdminSession(stack)
    seeded = {
        "acme": admin.connect("company", ANA),
        "nimbus": admin.connect("company", DIETER),
        "bruno": admin.connect("user", BRUNO),
        "carla": admin.connect("user", CARLA),
        "eva": admin.connect("user", EVA),
        "felix": admin.connect("user", FELIX),
    }
    stack.sandbox.revoke_grant(company_id=NIMBUS, employee_id=EVA)
    admin.refresh(seeded["eva"])
    admin.post(f"/connections/{seeded['felix']}/revoke", {})
    with sqlite3.connect(stack.folder / "app.sqlite3") as db:
        # Factorial can name a company at length; an employee may have only an email.
        db.execute("UPDATE connections SET company_name = ? WHERE company_id = 1", [LONG_COMPANY])
        db.execute(
            "UPDATE connections SET employee_name = '', employee_email = ? WHERE id = ?",
            [LONG_EMAIL, seeded["carla"]],
        )
    return seeded


@pytest.fixture(scope="module")
def admin(browser: Browser, stack: Stack) -> Path:
    return sign_in_once(browser, stack, ADMIN_EMAIL, stack.folder)


def resize(page: Page, viewport: dict[str, int]) -> Page:
    page.set_viewport_size(viewport)
    return page


@pytest.mark.parametrize(
    ("path", "shown"),
    [("/", LONG_EMAIL), ("/?status=attention", "Eva Weber"), ("/connections/{carla}", LONG_EMAIL)],
)
def test_nothing_scrolls_sideways_on_a_phone(
    browser: Browser,
    stack: Stack,
    ids: dict[str, int],
    admin: Path,
    path: str,
    shown: str,
    test_name: str,
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("open at 390 px"):
        resize(v.page, PHONE)
        v.go(path.format(**ids))
        expect(v.page.locator("main")).to_contain_text(shown)
        assert v.page.evaluate(OVERFLOW) <= 0


def test_dashboard_table_fits_its_card_on_a_phone(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    """No scrolling inside the table either: each row is a stack of labelled facts."""
    with visitor(browser, stack, test_name, admin) as v, v.step("open at 390 px"):
        resize(v.page, PHONE)
        v.go("/")
        wrap = v.page.locator(".table-wrap")
        assert wrap.evaluate("el => el.scrollWidth - el.clientWidth") <= 0


def test_dashboard_rows_carry_their_labels_on_a_phone(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("open at 390 px"):
        resize(v.page, PHONE)
        v.go("/")
        expiry = v.page.locator("tbody tr").first.locator("td[data-label='Token expires']")
        label = expiry.evaluate("el => getComputedStyle(el, '::before').content")
        assert label == '"Token expires"'


def test_status_badges_stay_on_one_line_at_1280(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("open at 1280 px"):
        resize(v.page, LAPTOP)
        v.go("/")
        expect(v.page.locator("tbody")).to_contain_text("Needs reconnect")
        assert set(v.page.evaluate(BADGE_LINES)) == {1}


def test_dashboard_fits_at_1280(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("open at 1280 px"):
        resize(v.page, LAPTOP)
        v.go("/")
        wrap = v.page.locator(".table-wrap")
        page_overflow = v.page.evaluate(OVERFLOW)
        assert (page_overflow, wrap.evaluate("el => el.scrollWidth - el.clientWidth")) == (0, 0)


@pytest.mark.parametrize(
    ("who", "expiry"),
    [("eva", "no usable token"), ("felix", "revoked")],
    ids=["reconnect", "revoked"],
)
def test_an_unusable_connection_shows_no_expiry_on_the_dashboard(
    browser: Browser,
    stack: Stack,
    ids: dict[str, int],
    admin: Path,
    who: str,
    expiry: str,
    test_name: str,
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("the dashboard row"):
        v.go("/")
        link = v.page.locator(f"a[href='/connections/{ids[who]}']")
        row = v.page.locator("tbody tr").filter(has=link)
        cell = row.locator("td[data-label='Token expires']")
        assert (cell.inner_text().strip(), cell.locator("time").count()) == (expiry, 0)


@pytest.mark.parametrize(
    ("who", "expiry"),
    [("eva", "no usable token"), ("felix", "revoked")],
    ids=["reconnect", "revoked"],
)
def test_an_unusable_connection_shows_no_expiry_on_its_page(
    browser: Browser,
    stack: Stack,
    ids: dict[str, int],
    admin: Path,
    who: str,
    expiry: str,
    test_name: str,
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("the connection's page"):
        v.go(f"/connections/{ids[who]}")
        future = v.page.locator("dl.facts time[datetime]").evaluate_all(
            "els => els.filter(el => Date.parse(el.getAttribute('datetime')) > Date.now()).length"
        )
        dies = v.page.locator("dt:text-is('Refresh token dies')").count()
        assert (v.fact("Expires"), v.fact("Next refresh"), dies, future) == (expiry, "—", 0, 0)


def test_a_fresh_refresh_token_lives_seven_days(
    browser: Browser, stack: Stack, ids: dict[str, int], admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("the connection's page"):
        v.go(f"/connections/{ids['bruno']}")
        assert v.fact("Refresh token dies") == "in 7 days unless refreshed"


def test_a_refused_callback_speaks_plainly(
    browser: Browser, stack: Stack, admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("a callback we did not start"):
        v.go("/oauth/callback?code=made-up&state=not-ours")
        heading = v.page.get_by_role("heading", level=1)
        expect(heading).to_have_text("This connection attempt can't be completed")
        expect(v.page.get_by_role("link", name="Connect again")).to_be_visible()
        assert v.accessibility_problems() == []


SHOTS = [
    ("dashboard", "/"),
    ("connection-detail", "/connections/{bruno}"),
    ("service-client-new", "/services/new"),
    ("account", "/account/"),
]


@pytest.mark.parametrize(("name", "path"), SHOTS, ids=[name for name, _ in SHOTS])
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390", "1280"])
def test_page_screenshot(
    browser: Browser,
    stack: Stack,
    ids: dict[str, int],
    admin: Path,
    name: str,
    path: str,
    viewport: dict[str, int],
    test_name: str,
) -> None:
    """Screenshots of the main pages at both widths (README's with E2E_SCREENSHOTS)."""
    with visitor(browser, stack, test_name, admin) as v, v.step("open and photograph"):
        resize(v.page, viewport)
        v.go(path.format(**ids))
        v.screenshot(f"{name}-{viewport['width']}", full_page=True)
        assert (v.page.evaluate(OVERFLOW), v.errors) == (0, [])


def test_the_demo_says_where_to_find_an_api_key(
    browser: Browser, stack: Stack, admin: Path, test_name: str
) -> None:
    with visitor(browser, stack, test_name, admin) as v, v.step("Add an API key"):
        v.go("/api-keys/new")
        link = v.page.get_by_role("link", name="the sandbox's seed list")
        seed_url = link.get_attribute("href")
        seeded = v.page.request.get(str(seed_url)).json()["api_keys"]
        assert (seed_url, len(seeded)) == (stack.sandbox.url + "/_sandbox/seed", 2)
