"""Benchmark: the token endpoint against the app's own /healthz and a bare Flask endpoint.

gunicorn with the production config (`gunicorn.conf.py`; Factorial is never called: the seeded
token expires in a year) serves the app and `bare_app()` (a constant JSON) on 127.0.0.1; at
concurrency 16, in interleaved rounds, it measures requests/s, p50 and p99 of the token
endpoint, of `/healthz` (the app's middleware and hooks, no database) and of the bare endpoint.
Targets: ≥ 0.9 of /healthz requests/s, p99 ≤ 20 ms. Uses `wrk` when installed, else Python
threads (sharing the CPUs with the server). `--profile` times both endpoints in one process
(no server, no client) and profiles the token endpoint with cProfile.
Run: `.venv/bin/python bench/vend.py [--seconds 4] [--rounds 9] [--concurrency 16] [--profile]`;
BENCH_DATABASE_URL runs it on PostgreSQL instead of a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from flask import Flask  # noqa: E402

BIN = Path(sys.executable).parent
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def bare_app() -> Flask:
    """The yardstick: a Flask app with one endpoint returning a constant JSON."""
    app = Flask("bare")
    app.add_url_rule("/bare", "bare", lambda: {"ok": True})
    return app


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_"))}
    env.update(
        APP_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        FACTORIAL_BASE_URL="https://api.factorialhr.com",
        FACTORIAL_CLIENT_ID="bench",
        FACTORIAL_CLIENT_SECRET="bench-client-secret",
        FACTORIAL_REDIRECT_URI="https://connect.example.com/oauth/callback",
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
        INSTANCE_PATH=str(tmp),
        SCHEDULER="off",
        GUNICORN_ACCESSLOG=str(tmp / "access.log"),
        LOG_LEVEL="WARNING",
    )
    return env


def seed(env: dict[str, str]) -> tuple[int, str]:
    """Migrate, store a connection whose token expires in a year and a client: (id, secret)."""
    os.environ.update(env)
    if env["DATABASE_URL"].startswith("postgresql"):
        from tests.conftest import reset_postgres  # here: the bare app must not load the tests

        reset_postgres(env["DATABASE_URL"])
    from flask_migrate import upgrade

    from app import create_app
    from app.infra.crypto import Secret
    from app.infra.extensions import db
    from app.models import Connection, utcnow
    from app.services.audit import Actor
    from app.services.service_api import service_client_creations
    from app.wiring import wiring

    app = create_app()
    with app.app_context():
        upgrade()
        now = utcnow()
        connection = Connection(
                environment="production", kind="user", company_id="1", employee_id="1",
                access_token=Secret("a" * 43), refresh_token=Secret("r" * 43),
                expires_at=now + timedelta(days=365), refresh_token_issued_at=now,
        )  # fmt: skip
        db.session.add(connection)
        db.session.commit()
        _, secret = service_client_creations.create(
            db.session, wiring(app).deps, name="bench", scopes=["token:read"],
            all_credentials=True, actor=Actor("cli", None, "bench"),
        )  # fmt: skip
        return int(connection.id), secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    target: str, probe: str, headers: dict[str, str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start gunicorn and return once every worker answers: the socket opens long before the
    workers have booted, and a first request would otherwise wait for them."""
    import requests

    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    with log.open("ab") as out:
        process = subprocess.Popen([*command, target], cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    deadline, quick = time.monotonic() + 120, 0
    while time.monotonic() < deadline and quick < 50:
        started = time.monotonic()
        try:
            close = {"Connection": "close"}  # a new connection each time: reach every worker
            requests.get(base + probe, headers={**headers, **close}, timeout=30).raise_for_status()
            quick = quick + 1 if time.monotonic() - started < 0.25 else 0
        except requests.RequestException:
            time.sleep(0.2)
    if quick < 50:
        process.kill()
        raise SystemExit(f"gunicorn did not start; see {log}")
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def with_wrk(
    url: str, headers: dict[str, str], seconds: int, concurrency: int
) -> tuple[float, ...]:
    args = ["wrk", "-t", "4", "-c", str(concurrency), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests to {url}")

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * UNITS[unit]

    return rps, percentile("50"), percentile("99")


def with_threads(
    url: str, headers: dict[str, str], seconds: int, concurrency: int
) -> tuple[float, ...]:
    import requests

    latencies: list[float] = []
    lock, stop_at = threading.Lock(), time.perf_counter() + seconds

    def loop() -> None:
        session, mine = requests.Session(), []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            session.get(url, headers=headers, timeout=10).raise_for_status()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / seconds, cuts[49], cuts[98]


def profile(connection_id: int, secret: str, calls: int = 20000) -> None:
    """In one thread, without a server or a client: microseconds per call of the token endpoint
    and of /healthz through the app's WSGI callable, and where the token endpoint's go."""
    import cProfile
    import pstats

    from werkzeug.test import EnvironBuilder

    from app import create_app

    app = create_app()
    token = EnvironBuilder(path=f"/api/v1/connections/{connection_id}/token",
                           headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    environs = {"token endpoint": token.get_environ(),
                "app /healthz": EnvironBuilder(path="/healthz").get_environ()}  # fmt: skip

    def call(environ: dict[str, object]) -> None:
        body = app(dict(environ), lambda status, headers, exc_info=None: None)
        b"".join(body)
        body.close()  # type: ignore[attr-defined]

    for label, environ in environs.items():
        for _ in range(500):  # warm up: the token's read is remembered from here on
            call(environ)
        started = time.perf_counter()
        for _ in range(calls):
            call(environ)
        print(f"{label:<15} {(time.perf_counter() - started) / calls * 1e6:7.1f} µs per call")
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call(environs["token endpoint"]) for _ in range(calls)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def measure(
    targets: dict[str, tuple[str, dict[str, str]]], args: argparse.Namespace
) -> dict[str, list[tuple[float, ...]]]:
    """Interleaved rounds: measured one after the other, the machine's drift would skew ratios."""
    run = with_wrk if shutil.which("wrk") else with_threads
    for url, headers in targets.values():  # warm-up
        run(url, headers, 2, args.concurrency)
    results: dict[str, list[tuple[float, ...]]] = {label: [] for label in targets}
    for _ in range(args.rounds):
        for label, (url, headers) in targets.items():
            results[label].append(run(url, headers, args.seconds, args.concurrency))
    return results


def report(results: dict[str, list[tuple[float, ...]]], args: argparse.Namespace) -> None:
    tool = "wrk" if shutil.which("wrk") else "python threads"
    print(
        f"load: {tool}, concurrency {args.concurrency}, {args.rounds} interleaved rounds of "
        f"{args.seconds} s per endpoint, same gunicorn config; medians (and range of req/s)"
    )
    medians = {}
    for label, samples in results.items():
        rps, p50, p99 = (statistics.median(s[i] for s in samples) for i in range(3))
        low, high = min(s[0] for s in samples), max(s[0] for s in samples)
        medians[label] = (rps, p50, p99)
        print(
            f"{label:<15} {rps:9.0f} req/s ({low:.0f}-{high:.0f})   p50 {p50:6.2f} ms   "
            f"p99 {p99:6.2f} ms"
        )
    token = results["token endpoint"]
    for against in ("app /healthz", "bare endpoint"):
        ratios = [t[0] / b[0] for t, b in zip(token, results[against], strict=True)]
        print(
            f"token / {against}: {medians['token endpoint'][0] / medians[against][0]:.2f} "
            f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    print(
        f"targets: token ≥ 0.9 of app /healthz req/s; token p99 {medians['token endpoint'][2]:.2f}"
        " ms ≤ 20 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="in-process timings and cProfile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-vend-") as name:
        tmp = Path(name)
        env = environment(tmp)
        connection_id, secret = seed(env)
        if args.profile:
            return profile(connection_id, secret)
        auth = {"Authorization": f"Bearer {secret}"}
        path = f"/api/v1/connections/{connection_id}/token"
        app, app_base = serve("wsgi:app", path, auth, env, tmp / "gunicorn.log")
        bare, bare_base = serve("bench.vend:bare_app()", "/bare", {}, env, tmp / "gunicorn.log")
        targets = {
            "token endpoint": (app_base + path, auth),
            "app /healthz": (app_base + "/healthz", {}),
            "bare endpoint": (bare_base + "/bare", {}),
        }
        try:
            results = measure(targets, args)
        finally:
            stop(app)
            stop(bare)
    report(results, args)


if __name__ == "__main__":
    main()
