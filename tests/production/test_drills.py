"""Failure drills on the deployed stack (issue 14): kill -9 of the sweeping process before its
call and after Factorial rotated (worker and cron), kill -9 of the gunicorn worker leading the
embedded sweep, PostgreSQL restarted while services vend and the sweep runs, Redis stopped.

Each drill prints one `DRILL …` line with its figures (connections lost, time to recover,
requests failed with 5xx) and appends it to test-artifacts/production/drills.txt."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Collection, Iterator, Mapping

import pytest
from _pytest.capture import CaptureFixture

from tests.production.admin import AdminClient
from tests.production.drills import (
    HEALTHY_LOOKING,
    REPORT,
    Database,
    describe,
    lease_seconds,
    report,
    restart_sec,
    vending,
    wait_until,
    watch,
)
from tests.production.stack import ProductionStack

pytestmark = pytest.mark.production
MARGIN, INTERVAL = 6, 1
DUE_SOON = MARGIN + 2  # a token living this long is due 2 s after it is issued
HOUR = 3600
LEAVES = "2026-10-01/resources/time_off/leaves"  # a POST Factorial limits to 200 a minute
ANA = 1001  # the Acme admin: approves the company token every drill vends alongside
# Each kill drill drills its own employee's connection.
EMPLOYEE = {
    ("worker", "before_call"): 1002,
    ("worker", "after_rotation"): 1003,
    ("cron", "before_call"): 2002,
    ("cron", "after_rotation"): 2003,
}
# How the sandbox holds the refresh call while the sweeping process is killed: hanging before
# it does anything, or hanging after it rotated the refresh token (its answer never arrives).
HOLD = {
    "before_call": {"mode": "fail", "status": 503, "delay": 60},
    "after_rotation": {"mode": "process_then_delay", "delay": 60},
}
# Beyond the refresh lease and one sweep interval, what a kill drill may take: a flask
# process's start-up before it sweeps (each cron run's, or that of the worker systemd restarts
# after RestartSec): about 2 s on an idle machine, up to 6 s seen on a loaded one.
START_UP = 10.0


@pytest.fixture(scope="module")
def drills() -> Iterator[ProductionStack]:
    """The web unit's gunicorn (SCHEDULER=off) with short Factorial timeouts: a refresh
    lease of 10 s instead of 26 s keeps each drill short."""
    settings = {"FACTORIAL_CONNECT_TIMEOUT": "1", "FACTORIAL_READ_TIMEOUT": "3"}
    REPORT.unlink(missing_ok=True)  # this run's figures only
    with ProductionStack(
        "drills", refresh_margin=MARGIN, sweep_interval=INTERVAL, settings=settings
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def admin(drills: ProductionStack) -> AdminClient:
    return AdminClient(drills)


@pytest.fixture(scope="module")
def secret(drills: ProductionStack) -> str:
    return drills.service_client("drill services", "token:read", "proxy")


@pytest.fixture(scope="module")
def company(admin: AdminClient) -> int:
    """A company token (never expires): the load that must keep working through each drill."""
    return admin.connect("company", ANA)


@pytest.fixture(scope="module")
def database(drills: ProductionStack) -> Iterator[Database]:
    db = Database(drills)
    yield db
    db.close()


def print_figures(capsys: CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


def elapsed(since: float, until: float | None, digits: int = 1) -> float | None:
    """Seconds from `since` to `until`, rounded; None when `until` never came."""
    return None if until is None else round(until - since, digits)


def among(causes: Mapping[int, str], ids: Collection[int]) -> dict[int, str]:
    """The causes recorded for these connections only."""
    return {cid: cause for cid, cause in causes.items() if cid in ids}


def not_ok(outcomes: Mapping[str, int]) -> dict[str, int]:
    """The vend outcomes other than 200, with their counts."""
    return {outcome: n for outcome, n in outcomes.items() if outcome != "200"}


def connect_due_soon(stack: ProductionStack, admin: AdminClient, employee: int) -> int:
    """A user token due for refresh 2 s after it is issued; its refreshes live an hour."""
    stack.sandbox.configure(access_token_ttl=DUE_SOON)
    try:
        return admin.connect("user", employee)
    finally:
        stack.sandbox.configure(access_token_ttl=HOUR)


def refresh_calls(stack: ProductionStack) -> int:
    return stack.sandbox.counts()["token"].get("refresh_token", 0)


def sweeper_killer(stack: ProductionStack, mode: str) -> Callable[[], None]:
    """Start the sweep in `mode`; what kills the sweeping process as an OOM-killer would, and
    brings the sweep back as the deployment does: systemd restarts the worker unit after its
    RestartSec=; the timer simply starts the next run."""
    if mode == "cron":
        stack.start_cron()
        return lambda: stack.cron.kill_current() and None  # type: ignore[union-attr]
    stack.start_worker()

    def kill_and_restart() -> None:
        stack.worker.kill()  # type: ignore[union-attr]
        time.sleep(restart_sec("factorial-connect-worker.service"))
        stack.start_worker()

    return kill_and_restart


PAGE_SAYS = {"before_call": "Active", "after_rotation": "refresh outcome lost"}
SETTLED = {
    "before_call": lambda now: now["status"]["code"] == "active",
    "after_rotation": lambda now: now["status"]["code"] == "needs_reconnect",
}


@pytest.mark.parametrize("point", ["before_call", "after_rotation"])
@pytest.mark.parametrize("mode", ["worker", "cron"])
def test_drill_the_sweeping_process_killed_mid_refresh(
    drills: ProductionStack,
    admin: AdminClient,
    secret: str,
    company: int,
    mode: str,
    point: str,
    capsys: CaptureFixture[str],
) -> None:
    """Settled by the sweep alone (nothing vends the drilled connection) within the lease plus
    one interval: refreshed with the stored token when Factorial never saw the call; Needs
    reconnect (refresh outcome lost) when Factorial rotated, never shown healthy meanwhile,
    and 409 from the token endpoint. The company's token is vended throughout."""
    drills.sandbox.fault("/oauth/token", grant_type="refresh_token", **HOLD[point])
    api, calls = drills.api(secret), refresh_calls(drills)
    kill = sweeper_killer(drills, mode)
    try:
        with vending(drills, secret, [company]) as load:
            connection = connect_due_soon(drills, admin, EMPLOYEE[(mode, point)])
            assert wait_until(lambda: refresh_calls(drills) > calls, 30) is not None
            time.sleep(0.5)  # after_rotation: the sandbox has rotated and committed
            killed = time.monotonic()
            kill()
            seen, settled, last = watch(drills, api, connection, SETTLED[point], 60)
            page = admin.get(f"/connections/{connection}").text
    finally:
        drills.stop_sweepers()
    token = api.get(f"{drills.address}/api/v1/connections/{connection}/token", timeout=10)
    lease = lease_seconds(drills)
    took = elapsed(killed, settled)
    print_figures(capsys, report(f"kill -9 {mode} sweep {point}", {
        "settled_in_s": took, "lease_s": lease, "interval_s": INTERVAL, "statuses": "→".join(seen),
        "connections_lost": int(point == "after_rotation"), "token_endpoint": token.status_code,
        "company_vends": load.total, "company_vends_5xx": load.server_errors,
    }))  # fmt: skip
    expected = {"before_call": ("active", 200), "after_rotation": ("needs_reconnect", 409)}
    assert (last["status"]["code"], token.status_code) == expected[point]
    assert took is not None and took <= lease + INTERVAL + START_UP
    assert (HEALTHY_LOOKING & set(seen[:-1]), PAGE_SAYS[point] in page) == (set(), True)
    assert (load.server_errors, load.failed) == (0, 0)


def test_drill_postgresql_restarted_while_services_vend_and_the_sweep_runs(
    drills: ProductionStack,
    admin: AdminClient,
    secret: str,
    company: int,
    database: Database,
    capsys: CaptureFixture[str],
) -> None:
    """A user token refreshed every 2 s by the worker, two services vending it and the company
    token, and PostgreSQL restarted (pg_ctl restart -m fast: every connection is cut)."""
    api = drills.api(secret)
    drills.sandbox.configure(access_token_ttl=DUE_SOON)
    drills.start_worker()
    try:
        user = admin.connect("user", 1003)
        with vending(drills, secret, [company, user]) as load:
            time.sleep(3)
            before = describe(drills, api, user)["expires_at"]
            restarted = time.monotonic()
            drills.postgres.restart()
            back = time.monotonic()
            time.sleep(3)
            recovered = wait_until(lambda: time.monotonic() - load.last_failure > 3, 30)
            refreshed = wait_until(
                lambda: describe(drills, api, user)["expires_at"] != before, 30, step=0.5
            )
        worker_alive = drills.worker is not None and drills.worker.running
    finally:
        drills.stop_sweepers()
        drills.sandbox.configure(access_token_ttl=HOUR)
    lost = among(database.needs_reconnect(), (company, user))
    figures = {
        "postgres_down_s": round(back - restarted, 1),
        "vends_failing_for_s": round(max(0.0, load.last_failure - restarted), 1),
        "vends": load.total, "vends_5xx": load.server_errors, "vends_failed": load.failed,
        "failures": not_ok(load.outcomes),
        "connections_lost": len(lost), "sweep_resumed": refreshed is not None,
        "worker_alive": worker_alive,
    }  # fmt: skip
    print_figures(capsys, report("PostgreSQL restart", figures))
    assert (lost, refreshed is not None, worker_alive, recovered is not None) == (
        {}, True, True, True,
    )  # fmt: skip
    assert set(load.outcomes) <= {"200", "503"}


def test_drill_redis_stopped(
    drills: ProductionStack,
    secret: str,
    company: int,
    capsys: CaptureFixture[str],
) -> None:
    """Redis holds only rate-limit counters: sign-in, vends and proxied POSTs go on without it
    (per-process counters meanwhile), and nothing answers 5xx."""
    proxied = (
        f"{drills.address}/api/v1/connections/{company}/proxy/2026-10-01/resources/time_off/leaves"
    )
    with drills.api(secret) as api, vending(drills, secret, [company]) as load:
        drills.redis.stop()
        try:
            signed_in = AdminClient(drills).sign_in_response.status_code
            posts = [api.post(proxied, json={"employee_id": 1002}, timeout=15).status_code
                     for _ in range(3)]  # fmt: skip
        finally:
            drills.redis.start()
        again = AdminClient(drills).sign_in_response.status_code
    print_figures(capsys, report("Redis stopped", {
        "sign_in": signed_in, "proxied_posts": posts, "vends": load.total,
        "vends_5xx": load.server_errors, "sign_in_after": again,
    }))  # fmt: skip
    assert (signed_in, again, load.server_errors) == (302, 302, 0)
    assert [status < 500 for status in posts] == [True] * 3


@pytest.fixture(scope="module")
def embedded() -> Iterator[ProductionStack]:
    """The default scheduler: the sweep embedded in three gunicorn workers, one leading."""
    with ProductionStack(
        "embedded", refresh_margin=MARGIN, sweep_interval=INTERVAL, gunicorn_workers=3,
        settings={"SCHEDULER": "embedded"},
    ) as stack:  # fmt: skip
        yield stack


def test_drill_the_leading_gunicorn_worker_killed(
    embedded: ProductionStack, capsys: CaptureFixture[str]
) -> None:
    """Another worker takes the lead within two SWEEP_INTERVALs and refreshes what falls due;
    gunicorn replaces the dead worker; services vending through nginx see at most the
    requests that were in the dead worker's hands fail."""
    database, admin = Database(embedded), AdminClient(embedded)
    secret = embedded.service_client("drill services", "token:read")
    company = admin.connect("company", ANA)
    try:
        leader = wait_until(lambda: database.sweep_leader_pid() in embedded.web.workers(), 30)
        assert leader is not None
        with vending(embedded, secret, [company], threads=4) as load:
            time.sleep(1)
            dead = database.sweep_leader_pid()
            assert dead is not None
            os.kill(dead, signal.SIGKILL)
            killed = time.monotonic()
            handed = wait_until(lambda: database.sweep_leader_pid() not in (None, dead), 30)
            user = connect_due_soon(embedded, admin, 1002)
            api = embedded.api(secret)
            first = describe(embedded, api, user)["expires_at"]
            refreshed = wait_until(
                lambda: describe(embedded, api, user)["expires_at"] != first, 30, step=0.5
            )
            embedded.web.wait_for_workers(3)
    finally:
        database.close()
    took = elapsed(killed, handed, digits=2)
    print_figures(capsys, report("kill -9 leading gunicorn worker", {
        "lead_taken_over_in_s": took, "interval_s": INTERVAL, "due_token_refreshed":
        refreshed is not None, "vends": load.total, "vends_5xx": load.server_errors,
        "vends_failed": load.failed, "connections_lost": 0,
    }))  # fmt: skip
    assert took is not None and took <= 2 * INTERVAL
    assert refreshed is not None
