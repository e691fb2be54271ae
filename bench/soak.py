"""Benchmark (soak): 60-second access tokens kept fresh for half an hour while consumers vend them.

Starts the sandbox issuing 60 s user access tokens, seeds `--connections` real grants, then
runs the app as docs/deploying.md deploys it: gunicorn (`--workers`, SCHEDULER=off, recycling
off so memory growth shows) beside the sweep as its own `flask tokens worker` process, with
REFRESH_MARGIN=20 and SWEEP_INTERVAL=10. `--consumers` threads ask the token endpoint for a
random connection's token in a loop (`--pause` between calls) for `--minutes`.
Every answer is checked: a token whose expires_at is not after the moment the answer arrived
counts as expired (target 0); every `--check-every`th token is shown to the sandbox's
credentials endpoint at once (target: every one accepted; a token rotated by a refresh that
finished after it was asked for is counted apart: that race is the provider's rotation, not a
stale answer). Also: refreshes done, rejected refreshes (needs-reconnect, target 0), and the
resident memory of each gunicorn worker and of the sweeper after `--warmup` and at the end
(target: growth < 20 % per process).
Run by hand: `.venv/bin/python bench/soak.py [--minutes 30] [--database-url postgresql+…]`
(default: a temporary SQLite file; or BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import Engine, create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import Stack, rss_kib, seed

CREDENTIALS = "/api/2026-10-01/resources/api_public/credentials"
SETTINGS = {"REFRESH_MARGIN": "20", "SWEEP_INTERVAL": "10"}


@dataclass
class Tally:
    """What the consumers saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    vended: int = 0
    expired: int = 0
    least_left: float = float("inf")
    failures: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)

    def answer(self, left: float) -> None:
        with self.lock:
            self.vended += 1
            self.expired += left <= 0
            self.least_left = min(self.least_left, left)

    def failed(self, what: str) -> None:
        with self.lock:
            self.failures[what] += 1

    def checked(self, verdict: str) -> None:
        with self.lock:
            self.checks[verdict] += 1


@dataclass(frozen=True)
class Consumer:
    base: str
    secret: str
    ids: list[int]
    sandbox: str
    engine: Engine
    args: argparse.Namespace

    def run(self, tally: Tally, stop: threading.Event) -> None:
        web, provider = requests.Session(), requests.Session()
        headers = {"Authorization": f"Bearer {self.secret}"}
        count = 0
        while not stop.is_set():
            connection = random.choice(self.ids)
            asked = time.time()
            url = f"{self.base}/api/v1/connections/{connection}/token"
            try:
                response = web.get(url, headers=headers, timeout=60)
            except requests.RequestException as exc:
                tally.failed(type(exc).__name__)
                stop.wait(1.0)
                continue
            answered = time.time()
            if response.status_code != 200:
                tally.failed(f"{response.status_code} {response.json().get('error')}")
                continue
            body = response.json()
            tally.answer(datetime.fromisoformat(body["expires_at"]).timestamp() - answered)
            count += 1
            if count % self.args.check_every == 0:
                tally.checked(self.verdict(provider, body["access_token"], connection, asked))
            stop.wait(self.args.pause)

    def verdict(self, provider: requests.Session, token: str, connection: int, asked: float) -> str:
        """Whether Factorial accepts `token` now and, if not, why."""
        headers = {"Authorization": f"Bearer {token}"}
        status = provider.get(self.sandbox + CREDENTIALS, headers=headers, timeout=30).status_code
        if status == 200:
            return "accepted"
        obtained = last_obtained(self.engine, connection)
        if obtained is not None and obtained.timestamp() >= asked:
            return f"{status}: rotated by a refresh that finished after it was asked for"
        return f"{status}: REJECTED (stale or dead when handed out)"


def last_obtained(engine: Engine, connection: int) -> datetime | None:
    from app.models import Connection

    with engine.connect() as conn:
        return conn.scalar(select(Connection.obtained_at).where(Connection.id == connection))


def outcomes(engine: Engine) -> dict[str, int]:
    """Refresh outcomes the app recorded: audit actions and connections needing reconnect."""
    from app.models import AuditEvent, Connection

    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
        ).all()
        broken = conn.scalar(
            select(func.count())
            .select_from(Connection)
            .where(Connection.needs_reconnect_cause != "")
        )
    found = {str(action): int(n) for action, n in rows}
    return {
        "refreshed": found.get("connection.refreshed", 0),
        "refresh_failed": found.get("connection.refresh_failed", 0),
        "needs_reconnect events": found.get("connection.needs_reconnect", 0),
        "connections needing reconnect": int(broken or 0),
    }


def memory(pids: dict[str, int]) -> dict[str, int | None]:
    return {name: rss_kib(pid) for name, pid in pids.items()}


def progress(started: float, tally: Tally, stack: Stack, engine: Engine) -> None:
    minutes = (time.monotonic() - started) / 60
    refreshes = stack.sandbox.counts()["token"].get("refresh_token", 0)
    with tally.lock:
        line = (
            f"[{minutes:5.1f} min] vended {tally.vended}, expired {tally.expired}, least left "
            f"{tally.least_left:.1f} s, failures {sum(tally.failures.values())}, checks "
            f"{dict(tally.checks)}"
        )
    print(f"{line}, refreshes {refreshes}, {outcomes(engine)}", flush=True)


def soak(stack: Stack, args: argparse.Namespace) -> None:
    ids, secret = seed(stack, args.connections, ("token:read",))
    web = stack.gunicorn(args.workers, GUNICORN_MAX_REQUESTS="0", GUNICORN_ACCESSLOG="/dev/null")
    sweeper = stack.flask("sweeper", "tokens", "worker")
    stack.sandbox.reset_counts()
    engine = create_engine(stack.database)
    consumer = Consumer(
        f"http://127.0.0.1:{web.port}", secret, ids, stack.sandbox.url, engine, args
    )
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=consumer.run, args=(tally, stop), daemon=True)
        for _ in range(args.consumers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    print(f"{args.connections} connections, {args.consumers} consumers, gunicorn {web.pid} "
          f"workers {web.workers()}, sweeper {sweeper.pid}; logs in {stack.folder}",
          flush=True)  # fmt: skip
    time.sleep(args.warmup)
    pids = {f"gunicorn worker {pid}": pid for pid in web.workers()}
    pids[f"sweeper {sweeper.pid}"] = sweeper.pid
    at_start = memory(pids)
    end = started + args.minutes * 60
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(60.0, left))
        progress(started, tally, stack, engine)
    at_end = memory(pids)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    summary(tally, stack, engine, (at_start, at_end), web.workers(), args)
    engine.dispose()


def summary(
    tally: Tally,
    stack: Stack,
    engine: Engine,
    rss: tuple[dict[str, int | None], dict[str, int | None]],
    workers_now: list[int],
    args: argparse.Namespace,
) -> None:
    counts = stack.sandbox.counts()
    found = outcomes(engine)
    rejected = sum(n for verdict, n in tally.checks.items() if "REJECTED" in verdict)
    print(f"\nsoak: {args.minutes} min, {args.connections} connections, 60 s tokens, "
          f"REFRESH_MARGIN=20, SWEEP_INTERVAL=10, sweep as `flask tokens worker`, "
          f"{args.workers} gunicorn workers, {args.consumers} consumers, "
          f"database {stack.database.split(':')[0]}")  # fmt: skip
    print(f"tokens handed out:         {tally.vended} ({tally.vended / (args.minutes * 60):.0f}/s)")
    print(f"expired tokens handed out: {tally.expired} (target 0); least time left "
          f"{tally.least_left:.1f} s")  # fmt: skip
    print(f"token endpoint failures:   {dict(tally.failures) or 0}")
    print(f"checked at the sandbox:    {dict(tally.checks)}; rejected {rejected} (target 0)")
    print(f"refreshes at the sandbox:  {counts['token'].get('refresh_token', 0)}")
    print(f"refresh outcomes (app):    {found}")
    print(f"rejected refreshes:        {found['needs_reconnect events']} (target 0)")
    start, end = rss
    for name, before in start.items():
        after = end.get(name)
        growth = (
            "gone"
            if before is None or after is None
            else f"{100 * (after - before) / before:+.1f} %"
        )
        print(f"RSS {name:<24} {before} KiB -> {after} KiB  {growth} (target < 20 %)")
    print(f"gunicorn workers at the end: {workers_now}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds between a consumer's calls"
    )
    parser.add_argument("--check-every", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first RSS")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    sandbox = {"access_token_ttl": 60}
    with Stack("soak", args.database_url, settings=SETTINGS, sandbox=sandbox) as stack:
        soak(stack, args)


if __name__ == "__main__":
    main()
