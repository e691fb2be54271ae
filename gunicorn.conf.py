"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden on the command line or through the GUNICORN_* variables below.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 9)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Longer than one refresh's budget (connect 3 s + read 10 s + database work), so a worker is never
# killed between Factorial's answer and the commit of the new token pair.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# %(U)s is the path without its query string: OAuth callbacks carry `code` and `state` there,
# and they must never reach a log.
access_log_format = '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%({x-request-id}i)s"'
preload_app = False


def on_starting(server):
    """Refuse to start the master, not just each worker, when the configuration is unsafe."""
    import sys

    from app.settings import SettingsError, load_settings

    try:
        load_settings(instance_path=os.environ.get("INSTANCE_PATH", "instance"))
    except SettingsError as exc:
        print("Factorial Connect cannot start:", file=sys.stderr)
        for problem in exc.problems:
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

    from app.sweeper import start_embedded

    start_embedded(worker.wsgi)
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
