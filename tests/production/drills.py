"""What the failure drills measure, outside the app: load that a service puts on the token
endpoint, the statuses a connection goes through, the sweep's leader, and one line of figures
per drill (printed and kept in test-artifacts/production/drills.txt)."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import create_engine, text

from app.infra.settings.environment import load_settings
from app.wiring import refresh_lease
from tests.production.shipped import DEPLOY
from tests.production.stack import ARTIFACTS, ProductionStack

HEALTHY_LOOKING = frozenset({"active", "expires_soon", "does_not_expire"})
REPORT = ARTIFACTS / "drills.txt"


def report(name: str, figures: dict[str, object]) -> str:
    """One line naming the drill and its figures, appended to drills.txt; the line."""
    line = f"DRILL {name}: " + ", ".join(f"{key}={value}" for key, value in figures.items())
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as out:
        out.write(line + "\n")
    return line


def restart_sec(unit: str) -> float:
    """The RestartSec= of a shipped unit: how long systemd waits before starting it again."""
    match = re.search(r"^RestartSec=(\d+)", (DEPLOY / unit).read_text(), re.MULTILINE)
    assert match, f"{unit} has no RestartSec="
    return float(match.group(1))


def lease_seconds(stack: ProductionStack) -> float:
    """The refresh lease the deployed app uses (it follows the Factorial timeouts)."""
    return refresh_lease(load_settings(environ=stack.env)).total_seconds()


@dataclass
class Load:
    """Services asking for tokens in a loop: every answer's status, or the failure's name."""

    outcomes: Counter[str] = field(default_factory=Counter)
    last_failure: float = 0.0  # time.monotonic() of the last answer that was not 200

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.outcomes.items() if status.startswith("5"))

    @property
    def failed(self) -> int:
        return self.total - self.outcomes["200"]


@contextmanager
def vending(
    stack: ProductionStack, secret: str, connections: list[int], threads: int = 2
) -> Iterator[Load]:
    """`threads` services each asking for every connection's token, 20 times a second."""
    load, stop = Load(), threading.Event()

    def ask() -> None:
        with stack.api(secret) as api:
            while not stop.is_set():
                for connection in connections:
                    url = f"{stack.address}/api/v1/connections/{connection}/token"
                    try:
                        outcome = str(api.get(url, timeout=10).status_code)
                    except requests.RequestException as exc:
                        outcome = type(exc).__name__
                    load.outcomes[outcome] += 1
                    load.last_failure = time.monotonic() if outcome != "200" else load.last_failure
                stop.wait(0.05)

    workers = [threading.Thread(target=ask, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield load
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)


def describe(stack: ProductionStack, api: requests.Session, connection: int) -> dict[str, Any]:
    answer = api.get(f"{stack.address}/api/v1/connections/{connection}", timeout=10)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def watch(
    stack: ProductionStack,
    api: requests.Session,
    connection: int,
    settled: Callable[[dict[str, Any]], bool],
    seconds: float,
) -> tuple[list[str], float | None, dict[str, Any]]:
    """Poll the connection 5 times a second until `settled(it)`: the status codes seen in
    order (repeats folded), when it settled (time.monotonic(), None if it never did), and its
    last description."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        now = describe(stack, api, connection)
        code = now["status"]["code"]
        seen += [] if seen and seen[-1] == code else [code]
        if settled(now):
            return seen, time.monotonic(), now
        if time.monotonic() > deadline:
            return seen, None, now
        time.sleep(0.2)


class Database:
    """Read-only looks at the app's database, as an operator's psql would."""

    def __init__(self, stack: ProductionStack) -> None:
        self.engine = create_engine(stack.postgres.url, pool_pre_ping=True)

    def sweep_leader_pid(self) -> int | None:
        with self.engine.connect() as db:
            owner = db.scalar(text("SELECT owner FROM leases WHERE name = 'sweep'"))
        return int(owner.split(":")[1]) if owner else None

    def needs_reconnect(self) -> dict[int, str]:
        with self.engine.connect() as db:
            rows = db.execute(
                text("SELECT id, needs_reconnect_cause FROM connections "
                     "WHERE needs_reconnect_cause != ''")
            )  # fmt: skip
            return {int(row[0]): str(row[1]) for row in rows}

    def close(self) -> None:
        self.engine.dispose()


def wait_until(predicate: Callable[[], bool], seconds: float, step: float = 0.1) -> float | None:
    """When `predicate()` first held (time.monotonic()), or None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() <= deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    return None
