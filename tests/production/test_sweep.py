"""The sweep outside the web processes (the web unit runs gunicorn with SCHEDULER=off) refreshes
a user token before it expires, in both of docs/deploying.md's modes: `flask tokens worker` as
its own process (factorial-connect-worker.service), and one-shot `flask tokens refresh-due` runs
started again and again, cron-style (factorial-connect-sweep.service and its timer). Seen from
outside, as a service sees it: the connection's expiry moves on in the service API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import requests

from tests.production.admin import AdminClient
from tests.production.conftest import REFRESH_MARGIN
from tests.production.stack import ProductionStack

pytestmark = pytest.mark.production
# A token living 4 s more than the refresh margin is due 4 s after it is issued.
SHORT_TTL, DEFAULT_TTL = REFRESH_MARGIN + 4, 3600
EMPLOYEE = {"worker": 1003, "cron": 2003}  # Carla (Acme) and Felix (Nimbus): their own rows


@pytest.fixture
def short_lived_tokens(stack: ProductionStack) -> Iterator[None]:
    stack.sandbox.configure(access_token_ttl=SHORT_TTL)
    yield
    stack.sandbox.configure(access_token_ttl=DEFAULT_TTL)


@pytest.fixture(params=["worker", "cron"])
def sweep(request: pytest.FixtureRequest, stack: ProductionStack) -> Iterator[str]:
    """The sweep running in one mode for the test's duration, stopped cleanly after."""
    modes: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "worker": (stack.start_worker, stack.stop_worker),
        "cron": (stack.start_cron, stack.stop_cron),
    }
    start, stop = modes[request.param]
    start()
    yield request.param
    stop()


@pytest.fixture(scope="module")
def service(stack: ProductionStack) -> requests.Session:
    """A service client that may read every connection, as another system would."""
    return stack.api(stack.service_client("sweep observer"))


def expires_at(stack: ProductionStack, service: requests.Session, connection: int) -> datetime:
    answer = service.get(f"{stack.address}/api/v1/connections/{connection}", timeout=10)
    answer.raise_for_status()
    return datetime.fromisoformat(answer.json()["expires_at"])


def next_expiry(
    stack: ProductionStack, service: requests.Session, connection: int, seconds: float
) -> tuple[datetime, datetime, datetime]:
    """(expiry as issued, the next expiry seen, when it was seen): polls the API until the
    expiry changes or `seconds` pass."""
    issued = expires_at(stack, service, connection)
    deadline = time.monotonic() + seconds
    value = issued
    while value == issued and time.monotonic() < deadline:
        time.sleep(0.5)
        value = expires_at(stack, service, connection)
    return issued, value, datetime.now(UTC)


def test_the_sweep_refreshes_a_user_token_before_it_expires(
    stack: ProductionStack, short_lived_tokens: None, sweep: str, service: requests.Session
) -> None:
    connection = AdminClient(stack).connect("user", EMPLOYEE[sweep])
    # Due 4 s after issue; a cron run takes about 2 s to start, so 20 s is ample.
    issued, renewed, seen = next_expiry(stack, service, connection, seconds=20)
    assert (renewed > issued, seen < issued) == (True, True)
