"""Our own PostgreSQL for a production stack: initdb into a folder (as the postgres user when
we are root), pg_ctl on a free loopback port, one role and database for the app. Handles for
drills: `restart()` (pg_ctl restart), `stop()`/`start()`, `kill()` (kill -9 of the postmaster)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Self

from tests.production.servers import StackError, children, free_port, wait_for


class Postgres:
    """One cluster in `folder`, its server log in `log`; `url` is the app's DATABASE_URL."""

    ROLE = DATABASE = "factorial_connect"

    def __init__(self, folder: Path, log: Path, bin_dir: Path) -> None:
        self.folder, self.log, self.bin = folder, log, bin_dir
        self.data, self.socket = folder / "data", folder / "socket"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.started = False

    @property
    def url(self) -> str:
        return (
            f"postgresql+psycopg://{self.ROLE}:{self.password}@127.0.0.1:{self.port}/"
            f"{self.DATABASE}"
        )

    @property
    def pid(self) -> int:
        """The postmaster's pid, from postmaster.pid."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _run(self, *command: str, stdin: str | None = None) -> str:
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_owner, *command], input=stdin, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _ctl(self, action: str, *options: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", *options, action)  # fmt: skip

    def start(self) -> Self:
        """initdb on first start, then the server, the role and the database."""
        first = not self.data.exists()
        if first:
            self._init()
        server = f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1 "
        server += "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._ctl("start", "-o", server)
        self.started = True
        if first:
            self._create_database()
        return self

    def _init(self) -> None:
        for folder in (self.data, self.socket):
            folder.mkdir(parents=True)
        for path in (self.data, self.socket, self.log):
            path.touch()
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256")  # fmt: skip

    def _create_database(self) -> None:
        psql = [str(self.bin / "psql"), "-q", "-h", str(self.socket), "-p", str(self.port)]
        self._run(*psql, "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-v", f"pw={self.password}",
                  stdin=f"CREATE ROLE {self.ROLE} LOGIN PASSWORD :'pw';\n"
                        f"CREATE DATABASE {self.DATABASE} OWNER {self.ROLE};\n")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast` (or `smart`, `immediate`)."""
        if self.started:
            self._ctl("stop", "-m", mode)
            self.started = False

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart`: every connection is dropped, the server comes back on its port."""
        self._ctl("restart", "-m", mode)
        self.started = True

    def kill(self) -> int:
        """`kill -9` of the postmaster, a crash; `start()` recovers the cluster. Returns once
        the postmaster and its backends are gone. The postmaster's pid."""
        pid = self.pid
        backends = children(pid)
        os.kill(pid, signal.SIGKILL)
        gone = lambda: not any(map(_alive, [pid, *backends]))  # noqa: E731
        wait_for("postgres processes to exit", gone, 30, self.log)
        # Nothing is attached to the shared memory any more; a dead postmaster that init has
        # not reaped yet would still look alive to the next start, through these lock files.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.socket / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
        self.started = False
        return pid


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
