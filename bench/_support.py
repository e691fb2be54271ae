"""What the process-level benches share: a stack of our own servers and a seeded database.

`Stack` starts the bundled sandbox, optionally a redis-server on a free loopback port, and
gunicorn (`gunicorn.conf.py`, `wsgi:app`, APP_ENV=demo pointed at that sandbox) or any other
`flask --app wsgi` process with the same settings; each is stopped by its own pid when the
stack closes. Logs and the SQLite file stay in `stack.folder` for a look afterwards.
The database is a temporary SQLite file unless a PostgreSQL URL is given (its public schema
is emptied first: give a database of your own).
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from sandbox.testing import SandboxServer  # noqa: E402
from tests.production.servers import Gunicorn, Redis, Service, free_port  # noqa: E402

BIN = Path(sys.executable).parent
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
BENCH_ACTOR = ("cli", None, "bench")


def database_option(value: str | None, folder: Path) -> str:
    """The URL to run on: `value` (emptied first when PostgreSQL), else SQLite in `folder`."""
    if not value:
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    if value.startswith("postgresql"):
        engine = create_engine(value)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    return value


class Stack:
    """The servers of one bench run. `settings` are the app's environment variables (on top
    of the demo ones this class sets); `sandbox` the SandboxServer's settings."""

    def __init__(
        self,
        name: str,
        database: str | None,
        *,
        redis: bool = False,
        settings: dict[str, str] | None = None,
        sandbox: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.database = database_option(database, self.folder)
        self.want_redis, self.extra, self.sandbox_settings = redis, settings or {}, sandbox or {}
        self.sandbox = SandboxServer(redirect_uris=[REDIRECT_URI], **self.sandbox_settings)
        self.redis: Redis | None = None
        self._secret, self._key = secrets.token_urlsafe(48), Fernet.generate_key().decode()
        self._exit = ExitStack()

    def __enter__(self) -> Self:
        self._exit.enter_context(self.sandbox)
        if self.want_redis:
            self.redis = Redis(self.folder, self.folder / "redis.log")
            self._exit.callback(self.redis.stop)
            self.redis.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def settings(self) -> dict[str, str]:
        """The app's settings, the same for the seeding app and every process."""
        found = {
            "APP_ENV": "demo",
            "SECRET_KEY": self._secret,
            "TOKEN_ENCRYPTION_KEYS": self._key,
            "FACTORIAL_DEMO_BASE_URL": self.sandbox.url,
            "FACTORIAL_DEMO_REDIRECT_URI": REDIRECT_URI,
            "DATABASE_URL": self.database,
            "INSTANCE_PATH": str(self.folder),
            "SCHEDULER": "off",
            "LOG_LEVEL": "WARNING",
            "SESSION_COOKIE_SECURE": "false",
        }
        if self.redis is not None:
            found["RATELIMIT_STORAGE_URI"] = self.redis.url
        return {**found, **self.extra}

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORIAL", "APP_"))}
        return {**env, **self.settings(), **extra}

    def gunicorn(self, workers: int, **extra: str) -> Gunicorn:
        """gunicorn as the web unit runs it, on a free port; stopped with the stack."""
        port = free_port()
        command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        env = self.environment(GUNICORN_WORKERS=str(workers), **extra)
        server = Gunicorn([*command, "wsgi:app"], env, self.folder / "gunicorn.log", port)
        self._exit.callback(server.stop)
        return server.start()

    def flask(self, name: str, *args: str) -> Service:
        """A long-running `flask --app wsgi …` process (the sweep worker, say)."""
        command = [str(BIN / "flask"), "--app", "wsgi", *args]
        service = Service(name, command, self.folder / f"{name}.log", self.environment())
        self._exit.callback(service.stop)
        return service.start()


def seed(stack: Stack, connections: int, scopes: tuple[str, ...]) -> tuple[list[int], str]:
    """Migrate, store `connections` real sandbox user grants and one service client that may
    use them all with `scopes`: (connection ids, the client's secret)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.factorial import FactorialClient
    from app.infra.extensions import db
    from app.models import Connection, utcnow
    from app.services.audit import Actor
    from app.services.connection_store import token_values
    from app.services.service_api import service_client_creations
    from app.wiring import wiring

    app = create_app(stack.settings())
    with app.app_context():
        upgrade()
        client = FactorialClient(wiring(app).settings.environments["demo"])
        rows = []
        for number in range(connections):
            row = Connection(
                environment="demo", kind="user", company_id="1", employee_id=f"bench-{number}"
            )
            for name, value in token_values(grant(client, stack.sandbox), utcnow()).items():
                setattr(row, name, value)
            rows.append(row)
        db.session.add_all(rows)
        db.session.commit()
        _, secret = service_client_creations.create(
            db.session, wiring(app).deps, name="bench", scopes=scopes, all_credentials=True,
            actor=Actor(*BENCH_ACTOR),
        )  # fmt: skip
        ids = [int(row.id) for row in rows]
        db.session.remove()
        db.engine.dispose()
    return ids, secret


def grant(client: Any, sandbox: SandboxServer) -> Any:
    """One user grant at the sandbox (consent, then the code exchange): a TokenResponse."""
    verifier = client.new_code_verifier()
    url = client.authorization_url(state=client.new_state(), kind="user", code_verifier=verifier)
    code = parse_qs(urlsplit(sandbox.approve(url, 1002)).query)["code"][0]
    return client.exchange_code(code, code_verifier=verifier)


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process in KiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p99) of `values`; zeros when there are fewer than two."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)
