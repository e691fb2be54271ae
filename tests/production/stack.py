"""Factorial Connect deployed as docs/deploying.md says, on loopback, from the shipped files.

    with ProductionStack("journey") as stack:   # or stack = ProductionStack(...).start()
        stack.start_worker()                    # the sweep as `flask tokens worker`
        requests.get(stack.address + "/readyz", verify=stack.cert)

Our own PostgreSQL (initdb, pg_ctl) and Redis, the bundled sandbox behind TLS (production
refuses a plain-HTTP Factorial), nginx running deploy/nginx-factorial-connect.conf, gunicorn
started as deploy/factorial-connect-web.service starts it, migrations and an admin made as the
runbook makes them. All logs go to test-artifacts/production/<name>/.

Handles for failure drills, once started (each process is signalled by its own pid only):
    stack.postgres  restart(), stop() / start(), kill() (kill -9 of the postmaster), pid, url
    stack.redis     stop() / start() (same port), kill(), pid, url
    stack.web       gunicorn: pid (master), workers(), kill_worker(), wait_for_workers(n),
                    reload() (SIGHUP), stop() / start()
    stack.nginx     pid, reload(), stop() / start()
    stack.sandbox   Factorial's stand-in: fault(), set_clock(), revoke_grant(), configure()…
    stack.start_worker() -> Service (pid, kill(), stop(), signal()); stack.stop_worker()
    stack.start_cron(every) -> CronSweep (current_pid, kill_current(), runs,
                    wait_for_runs(n)); stack.stop_cron()
    stack.flask(*args)      a `flask --app wsgi` command with the units' settings
    stack.get(path), stack.session(), stack.api(secret), stack.service_client(name, *scopes)
    admin.AdminClient(stack) a signed-in admin over HTTP: connect(kind, employee), post(), get()

The public site is https://<the shipped server_name> (connect.example.com): a browser reaches
it through a host mapping to nginx's loopback port (see `browser_host_rule`), so nginx and the
app see the Host and Referer a real deployment on port 443 sees. `address` is where nginx
listens, for clients that take an IP (requests, with `verify=stack.cert`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import requests

from app.infra.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.testing import SandboxServer
from tests.e2e.stack import ADMIN_EMAIL, PASSWORD
from tests.production import shipped
from tests.production.nginx import Nginx, SandboxFront, main_config
from tests.production.postgres import Postgres
from tests.production.servers import (
    ROOT,
    Gunicorn,
    Redis,
    Service,
    StackError,
    copy_log,
    free_port,
    postgres_bin,
    wait_for,
)
from tests.production.sweepers import CronSweep
from tests.tls import self_signed_certificate

ARTIFACTS = ROOT / "test-artifacts" / "production"
VENV_BIN = Path(sys.executable).parent
# What a systemd unit starts from: no inherited settings, proxies or CA bundles of ours.
_BARE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


class ProductionStack:
    """See the module docstring. `settings` adds or overrides app settings (environment)."""

    def __init__(
        self,
        name: str,
        *,
        access_token_ttl: int = 3600,
        refresh_margin: int = 6,
        sweep_interval: int = 1,
        gunicorn_workers: int = 2,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.artifacts = ARTIFACTS / name
        self.public_host = shipped.server_name()
        self.url = f"https://{self.public_host}"
        self.ports = shipped.SitePorts(http=free_port(), https=free_port(), upstream=free_port())
        self.address = f"https://127.0.0.1:{self.ports.https}"
        self.sandbox_url = f"https://127.0.0.1:{free_port()}"
        self.sandbox = SandboxServer(
            [f"{self.url}/oauth/callback"], access_token_ttl=access_token_ttl
        )
        self.tuning = {
            "REFRESH_MARGIN": str(refresh_margin),
            "SWEEP_INTERVAL": str(sweep_interval),
            "GUNICORN_WORKERS": str(gunicorn_workers),
            **(settings or {}),
        }
        self.worker: Service | None = None
        self.cron: CronSweep | None = None
        self._exit = ExitStack()

    # -- starting and stopping -------------------------------------------------------------

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        shutil.rmtree(self.artifacts, ignore_errors=True)
        self.artifacts.mkdir(parents=True)
        self.folder = Path(tempfile.mkdtemp(prefix=f"fc-production-{self.name}-"))
        self.folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
        self._exit.callback(self._keep_logs_and_clean_up)
        self.cert, self.key = self_signed_certificate(self.folder)
        self.instance = self.folder / "instance"
        self._start_databases()
        self.sandbox.start()
        self._exit.callback(self.sandbox.stop)
        self.nginx = self._nginx()
        self.nginx.start()
        self._exit.callback(self.nginx.stop)
        self.env = self._environment()  # the EnvironmentFile=, and what `fc-flask` runs with
        self.deploy()
        self.web = self._gunicorn()
        self.web.start()
        self._exit.callback(self.web.stop)
        self._exit.callback(self.stop_sweepers)
        self.wait_until_ready()

    def _start_databases(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise StackError("PostgreSQL not found under /usr/lib/postgresql (or PG_BIN)")
        (self.folder / "pg").mkdir()
        self.postgres = Postgres(self.folder / "pg", self.folder / "pg" / "server.log", bin_dir)
        self.postgres.start()
        self._exit.callback(self.postgres.stop)
        self.redis = Redis(self.folder, self.artifacts / "redis.log")
        self.redis.start()
        self._exit.callback(self.redis.stop)

    def stop(self) -> None:
        """Stop everything this stack started, each by its own pid (PostgreSQL by pg_ctl)."""
        self._exit.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _keep_logs_and_clean_up(self) -> None:
        copy_log(self.folder / "pg" / "server.log", self.artifacts / "postgres.log")
        if self.sandbox.log_path is not None:
            copy_log(self.sandbox.log_path, self.artifacts / "sandbox.log")
            self.sandbox.log_path.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- configuration ---------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """/etc/factorial-connect/env as deploy/env.example describes it (its secrets made by
        the commands it names), plus what a test stack needs: the sandbox as Factorial, trusted
        through REQUESTS_CA_BUNDLE, and short sweep timings."""
        generated = {
            name: self._run(command, _BARE_ENV, secret_output=True).strip()
            for name, command in shipped.env_example_generators(VENV_BIN).items()
        }
        settings = shipped.production_environment(
            {
                "APP_ENV": "production",
                **generated,
                "DATABASE_URL": self.postgres.url,
                "RATELIMIT_STORAGE_URI": self.redis.url,
                "FACTORIAL_CLIENT_ID": SANDBOX_CLIENT_ID,
                "FACTORIAL_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
                "FACTORIAL_REDIRECT_URI": f"{self.url}/oauth/callback",
            }
        )
        settings |= {
            "FACTORIAL_BASE_URL": self.sandbox_url,
            "REQUESTS_CA_BUNDLE": str(self.cert),
            **self.tuning,
        }
        env_file = self.folder / "env"  # what the units' EnvironmentFile= would hold
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        env_file.chmod(0o600)
        return settings

    def unit_environment(self, unit: shipped.Unit, **ours: str) -> dict[str, str]:
        """A unit's process environment as systemd builds it: its Environment= lines (with
        `ours` replacing some), then the EnvironmentFile=, whose settings win."""
        unit_env = unit.environment_with(INSTANCE_PATH=str(self.instance), **ours)
        return {**_BARE_ENV, **unit_env, **self.env}

    def _nginx(self) -> Nginx:
        site = self.folder / "factorial-connect.conf"
        site.write_text(shipped.nginx_site(self.ports, self.cert, self.key, self.artifacts))
        front_log = self.artifacts / "sandbox-tls-access.log"
        front = SandboxFront(_port(self.sandbox_url), _port(self.sandbox.url), front_log)
        error_log = self.artifacts / "nginx-error.log"
        conf = self.folder / "nginx.conf"
        conf.write_text(main_config(self.folder, site, error_log, self.cert, self.key, front))
        ports = [self.ports.http, self.ports.https, front.port]
        return Nginx(conf, self.folder, error_log, ports)

    def _gunicorn(self) -> Gunicorn:
        unit = shipped.read_unit(shipped.WEB_UNIT)
        env = self.unit_environment(unit, GUNICORN_BIND=f"127.0.0.1:{self.ports.upstream}")
        log = self.artifacts / "gunicorn.log"
        return Gunicorn(unit.command(VENV_BIN), env, log, self.ports.upstream)

    # -- the runbook's steps ---------------------------------------------------------------

    def flask(
        self, *args: str, stdin: str = "", seconds: float = 120, secret_output: bool = False
    ) -> str:
        """`flask --app wsgi ARGS` as the runbook's `fc-flask` runs it (the environment file
        and INSTANCE_PATH); its stdout. Fails loudly. With `secret_output` the output is not
        copied to flask.log."""
        command = [str(VENV_BIN / "flask"), "--app", "wsgi", *args]
        env = {**_BARE_ENV, "INSTANCE_PATH": str(self.instance), **self.env}  # the file wins
        return self._run(command, env, stdin, seconds, secret_output)

    def _run(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        stdin: str = "",
        seconds: float = 120,
        secret_output: bool = False,
    ) -> str:
        result = subprocess.run(
            command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
            timeout=seconds, check=False,
        )  # fmt: skip
        shown = "(secret output not logged)\n" if secret_output else result.stdout
        said = " ".join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))
        with (self.artifacts / "flask.log").open("a") as log:
            log.write(f"$ {said}  # exit {result.returncode}\n{shown}{result.stderr}")
        if result.returncode != 0:
            raise StackError(f"{said} exited {result.returncode}:\n{result.stderr}")
        return result.stdout

    def deploy(self) -> None:
        """docs/deploying.md's deploy steps: migrations once, then the first admin."""
        self.flask("db", "upgrade")
        self.flask("create-admin", ADMIN_EMAIL, "--password-stdin", stdin=PASSWORD + "\n")

    def wait_until_ready(self, seconds: float = 60) -> None:
        """/readyz answers 200 through nginx (database, migrations and keys all fine)."""

        def ready() -> bool:
            try:
                return self.get("/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for("the app behind nginx (/readyz)", ready, seconds, self.web.log)

    # -- the sweep, in the two separate modes ----------------------------------------------

    def start_worker(self) -> Service:
        """`flask --app wsgi tokens worker` as deploy/factorial-connect-worker.service runs it."""
        if self.worker is not None and self.worker.running:
            raise StackError("the sweep worker is already running")
        unit = shipped.read_unit(shipped.WORKER_UNIT)
        env = self.unit_environment(unit)
        log = self.artifacts / "worker.log"
        before = log.stat().st_size if log.exists() else 0  # the log spans every start

        def started() -> bool:
            return b"Sweep worker started" in log.read_bytes()[before:]

        self.worker = Service("worker", unit.command(VENV_BIN), log, env).start()
        wait_for("the sweep worker", started, 60, log)
        return self.worker

    def stop_worker(self) -> int | None:
        """SIGTERM (the unit's KillSignal): it finishes its sweep and gives the lease back."""
        worker, self.worker = self.worker, None
        return None if worker is None else worker.stop(120)

    def start_cron(self, every: float | None = None) -> CronSweep:
        """deploy/factorial-connect-sweep.service (`flask --app wsgi tokens refresh-due`) run
        as its timer runs it: every `every` seconds start to start (default SWEEP_INTERVAL,
        as the timer's period must be), never two at once."""
        if self.cron is not None:
            raise StackError("the cron sweep is already running")
        unit = shipped.read_unit(shipped.SWEEP_UNIT)
        period = float(self.env["SWEEP_INTERVAL"]) if every is None else every
        log = self.artifacts / "cron.log"
        self.cron = CronSweep(unit.command(VENV_BIN), self.unit_environment(unit), log, period)
        return self.cron.start()

    def stop_cron(self) -> None:
        cron, self.cron = self.cron, None
        if cron is not None:
            cron.stop()

    def stop_sweepers(self) -> None:
        self.stop_cron()
        self.stop_worker()

    # -- talking to it ---------------------------------------------------------------------

    def get(self, path: str, **kw: object) -> requests.Response:
        """GET through nginx over TLS, trusting only the stack's certificate."""
        with self.session() as session:
            return session.get(self.address + path, **kw)  # type: ignore[arg-type]

    def service_client(self, name: str, *scopes: str) -> str:
        """A service client for every connection and key (`flask service-clients create`);
        its secret."""
        args = [arg for scope in scopes or ("token:read",) for arg in ("--scope", scope)]
        out = self.flask("service-clients", "create", name, *args, secret_output=True)
        return out.strip().splitlines()[-1]

    def session(self) -> requests.Session:
        """A requests session that trusts the stack's certificate alone and ignores the
        environment (REQUESTS_CA_BUNDLE would override `verify`; proxies must not apply)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.cert)
        return session

    def api(self, secret: str) -> requests.Session:
        """A session for the service API: the bearer secret, the stack's certificate."""
        session = self.session()
        session.headers["Authorization"] = f"Bearer {secret}"
        return session

    @property
    def browser_host_rule(self) -> str:
        """Chromium's --host-resolver-rules value sending the public site to nginx."""
        return f"MAP {self.public_host}:443 127.0.0.1:{self.ports.https}"

    def logs(self) -> list[Path]:
        """Every log written so far; PostgreSQL's and the sandbox's are copied to the
        artifacts only at stop, so until then their live files are listed."""
        live = [self.sandbox.log_path]
        live += [self.folder / "pg" / "server.log"] if hasattr(self, "folder") else []
        return sorted(self.artifacts.glob("*.log")) + [p for p in live if p and p.exists()]


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port
