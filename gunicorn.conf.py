"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden on the command line or through the GUNICORN_* variables below.
"""

import ipaddress
import multiprocessing
import os
import socket
import sys
from pathlib import Path

from dotenv import load_dotenv

# The app reads an optional .env in the working directory; so must this file, which decides
# from the same settings (PROXY_FIX_*) how the server binds.
load_dotenv(Path.cwd() / ".env", override=False)


def _count(name, default, least=0):
    """A whole-number setting from the environment; a clear line and exit 2 when it is not."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = None
    if value is None or value < least:
        print(f"Factorial Connect cannot start:\n  - {name} must be a whole number ≥ {least}",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    return value


def _every_interface(address):
    """True when a bind address listens on every interface: 0.0.0.0, [::], an empty host."""
    if address.startswith(("unix:", "fd://")):
        return False
    address = address.removeprefix("tcp://")  # then the host as gunicorn.util.parse_address
    bracketed = "[" in address and "]" in address
    host = address.split("]")[0][1:] if bracketed else address.split(":")[0]
    try:
        return host == "" or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        pass
    try:
        return socket.inet_aton(host) == bytes(4)  # "0", "0.0": shorthands a socket accepts
    except OSError:
        return False


# A trusted proxy makes the app believe X-Forwarded-For (/metrics and sign-in throttling go by
# that address): then only the proxy may reach gunicorn, so the default bind is loopback.
_proxy_hops = (_count("PROXY_FIX_X_FOR", 0), _count("PROXY_FIX_X_PROTO", 0))
TRUSTS_PROXY = max(_proxy_hops) > 0
bind = os.environ.get("GUNICORN_BIND", "").strip() or (
    "127.0.0.1:8000" if TRUSTS_PROXY else "0.0.0.0:8000"
)
workers = _count("GUNICORN_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 9), least=1)
worker_class = "gthread"
threads = _count("GUNICORN_THREADS", 4, least=1)
# Longer than one refresh's budget (connect 3 s + read 10 s + database work), so a worker is never
# killed between Factorial's answer and the commit of the new token pair.
timeout = _count("GUNICORN_TIMEOUT", 60, least=1)
graceful_timeout = _count("GUNICORN_GRACEFUL_TIMEOUT", 30, least=1)
keepalive = 5
# A worker is recycled after this many requests, a guard against a slow leak in a dependency.
# Each recycle costs a worker boot (a second of CPU), drops what the process remembers (the
# token endpoint's reads, keep-alive connections to Factorial, memory:// rate counters) and
# stalls the requests queued on it: at 10 000, busy workers recycled every few seconds and
# the token endpoint's p99 at concurrency 4 went from 8 ms to 49 ms. 0 turns recycling off.
max_requests = _count("GUNICORN_MAX_REQUESTS", 200000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# %(U)s is the path without its query string: OAuth callbacks carry `code` and `state` there,
# and they must never reach a log.
access_log_format = '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%({x-request-id}i)s"'
preload_app = False


def serving_problems(addresses):
    """One line per reason this server must not serve, beyond the app's own settings."""
    problems = []
    if os.environ.get("APP_ENV", "").strip() == "test":
        problems.append(
            "APP_ENV=test is for the test suite only (fast password hashing, no token sweep); "
            "serve APP_ENV=production, or APP_ENV=demo to try the app locally"
        )
    for address in addresses if TRUSTS_PROXY else ():
        if _every_interface(address):
            problems.append(
                f"GUNICORN_BIND {address} listens on every interface while PROXY_FIX_X_FOR / "
                "PROXY_FIX_X_PROTO trust a proxy, so a direct caller could forge X-Forwarded-For; "
                "bind 127.0.0.1:8000 (the default then) or an address only the proxy reaches"
            )
    return problems


def on_starting(server):
    """Refuse to start the master, not just each worker, when the configuration is unsafe."""
    from app.infra.settings import SettingsError
    from app.infra.settings.environment import load_settings

    problems = []
    try:
        load_settings(instance_path=os.environ.get("INSTANCE_PATH", "instance"))
    except SettingsError as exc:
        problems.extend(exc.problems)
    problems.extend(serving_problems(server.cfg.bind))
    if problems:
        print("Factorial Connect cannot start:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        sys.exit(2)


def when_ready(server):
    """Say so when rate-limit counters cannot be shared: with memory:// each worker counts alone."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://"
    if storage.startswith("memory://") and server.cfg.workers > 1:
        server.log.warning(
            "RATELIMIT_STORAGE_URI is memory:// with %d workers: sign-in throttling counts per "
            "worker process, so the limits are up to %d times looser; set "
            "RATELIMIT_STORAGE_URI=redis://… to share the counters",
            server.cfg.workers,
            server.cfg.workers,
        )


def post_worker_init(worker):
    """Start the embedded sweep as soon as a worker is up, not at its first request; then move
    everything loaded so far out of the garbage collector's way."""
    import gc

    embedded = worker.wsgi.extensions.get("sweep")  # None unless SCHEDULER=embedded
    if embedded is not None:
        embedded.start()
    # The app's modules, models and compiled statements live as long as the worker. Frozen,
    # they are no longer traversed by every full collection, which otherwise stalled requests
    # for tens of milliseconds.
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, retire an exited worker's live metric files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
