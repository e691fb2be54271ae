"""Benchmark: proxied POSTs through gunicorn (4 workers sharing Redis) against Factorial's limits.

Starts the sandbox (which enforces Factorial's documented POST limits per credential: 200 a
minute on /api/v2 and dated versions, 100 on /api/v1, in a sliding window), a redis-server
of its own, and gunicorn with 4 workers whose POST limiter counts in that Redis
(RATELIMIT_STORAGE_URI). One connection, one service client with the `proxy` scope. For each
family, `--callers` threads POST through `POST /api/v1/connections/<id>/proxy/<path>` for
`--seconds`, honouring the Retry-After of the app's refusals as a well-behaved service would.
Prints, per family: POSTs Factorial accepted per minute against its limit (target ≥ 95 %),
429s from Factorial (target 0: refusals the app passed on as `upstream_rate_limited`, and
the sandbox's request count minus what it accepted), the app's own refusals (fine), p50/p99.
The v1 family posts to a path the sandbox answers 404 after counting it (no v1 write exists
for user tokens): any answer that is not a 429 passed Factorial's limiter.
Run by hand: `.venv/bin/python bench/proxy.py [--seconds 120] [--callers 8]
[--database-url postgresql+psycopg://…]` (default: a temporary SQLite file; or BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import Stack, percentiles, seed

FAMILIES = {
    "v2": ("2026-10-01/resources/time_off/leaves", 200),
    "v1": ("v1/resources/time_off/leaves", 100),
}
LEAVE = {"employee_id": 1002, "start_on": "2026-12-01", "finish_on": "2026-12-02"}


@dataclass(frozen=True)
class Answer:
    started: float  # seconds since the run began
    status: int
    upstream: bool  # Factorial's own answer (X-Upstream), not the app's refusal
    error: str
    millis: float


def post_loop(
    url: str, secret: str, began: float, stop_at: float, out: list[Answer], patient: bool
) -> None:
    """POST until `stop_at`; after a refusal with Retry-After, wait as told (within the run)
    when `patient`, else ask again at once."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {secret}"}
    while (now := time.monotonic()) < stop_at:
        response = session.post(url, json=LEAVE, headers=headers, timeout=60)
        millis = (time.monotonic() - now) * 1000
        upstream = response.headers.get("X-Upstream") == "factorial"
        error = "" if upstream else str(response.json().get("error", response.status_code))
        out.append(Answer(now - began, response.status_code, upstream, error, millis))
        wait = response.headers.get("Retry-After")
        if patient and not upstream and wait is not None:
            time.sleep(max(0.0, min(float(wait), stop_at - time.monotonic())))


def run(
    base: str, connection: int, secret: str, args: argparse.Namespace
) -> dict[str, list[Answer]]:
    answers: dict[str, list[Answer]] = {family: [] for family in FAMILIES}
    began = time.monotonic()
    stop_at = began + args.seconds
    patient = not args.ignore_retry_after
    threads = []
    for family, (path, _) in FAMILIES.items():
        url = f"{base}/api/v1/connections/{connection}/proxy/{path}"
        loop = (url, secret, began, stop_at, answers[family], patient)
        threads += [threading.Thread(target=post_loop, args=loop) for _ in range(args.callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def report(family: str, answers: list[Answer], seen_by_sandbox: int, seconds: int) -> None:
    path, limit = FAMILIES[family]
    accepted = [a for a in answers if a.upstream and a.status != 429]
    minutes = -(-seconds // 60)  # whole minutes: the window lets `limit` through each
    per_minute = Counter(int((a.started + a.millis / 1000) // 60) for a in accepted)
    passed_on = sum(1 for a in answers if a.error == "upstream_rate_limited")
    refusals = Counter(f"{a.status} {a.error}" for a in answers if not a.upstream)
    refusals.pop("429 upstream_rate_limited", None)
    rate = len(accepted) / minutes
    print(f"{family} POST /api/{path} (limit {limit}/min)")
    print(
        f"  accepted by Factorial:   {len(accepted)} in {seconds} s = {rate:.1f}/min "
        f"= {100 * rate / limit:.1f} % of the limit (target ≥ 95 %); answered per minute "
        f"{[per_minute.get(m, 0) for m in range(minutes)]}"
    )
    print(
        f"  429 from Factorial:      {passed_on} passed on by the app; sandbox counted "
        f"{seen_by_sandbox} POSTs, {seen_by_sandbox - len(accepted)} not accepted (target 0)"
    )
    print(f"  the app's own refusals:  {dict(refusals) or 0}")
    ok_p50, ok_p99 = percentiles([a.millis for a in accepted])
    all_p50, all_p99 = percentiles([a.millis for a in answers])
    print(
        f"  latency accepted:        p50 {ok_p50:.1f} ms  p99 {ok_p99:.1f} ms "
        f"(includes waiting for a slot: API_PROXY_MAX_WAIT, 2 s)"
    )
    print(f"  latency every answer:    p50 {all_p50:.1f} ms  p99 {all_p99:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--callers", type=int, default=8, help="threads per family")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--ignore-retry-after", action="store_true",
        help="callers ask again at once after a refusal (a rude client; many more refusals)",
    )  # fmt: skip
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with Stack("proxy", args.database_url, redis=True) as stack:
        (connection,), secret = seed(stack, 1, ("proxy",))
        web = stack.gunicorn(args.workers, GUNICORN_ACCESSLOG=str(stack.folder / "access.log"))
        base = f"http://127.0.0.1:{web.port}"
        stack.sandbox.reset_counts()
        print(
            f"{args.workers} gunicorn workers, Redis {stack.redis.url if stack.redis else '-'}, "
            f"{args.callers} callers per family, {args.seconds} s, database "
            f"{stack.database.split(':')[0]}; logs in {stack.folder}",
            flush=True,
        )
        answers = run(base, connection, secret, args)
        seen = stack.sandbox.counts()["requests"]
    for family, (path, _) in FAMILIES.items():
        report(family, answers[family], seen.get(f"/api/{path}", 0), args.seconds)


if __name__ == "__main__":
    main()
