"""Handles on the servers a production stack runs: each is started by the harness, known by its
own pid (or, for PostgreSQL, its data directory and pg_ctl), and stopped by that alone.

A handle can be stopped, killed and started again on the same port, which is what failure
drills need: `Service.kill()` is `kill -9` of that one process, `Postgres.restart()` is
`pg_ctl restart`, `Redis.stop()` then `Redis.start()` is an outage.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[2]
SBIN = ("/usr/sbin", "/sbin")
STOP_SECONDS = 30.0


class StackError(RuntimeError):
    """A server of the stack did not start or answer; the message names its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, ready: Callable[[], bool], seconds: float, log: Path | None) -> None:
    """Poll `ready` until it holds; StackError naming the log after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise StackError(f"{what} not ready after {seconds:.0f} s; see {log}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def binary(name: str) -> str | None:
    """`name` on PATH, or in the sbin folders a non-root PATH may lack."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin (Debian's layout), or PG_BIN when set."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


class Service:
    """One process of ours: output appended to `log`, stopped by its own pid."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name, self.command, self.log = name, list(command), log
        self.env, self.cwd = None if env is None else dict(env), cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise StackError(f"{self.name} is not started")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        if self.running:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        with self.log.open("ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} start: {self.command}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def signal(self, signum: int) -> None:
        """Send `signum` to this process only."""
        if self.running:
            os.kill(self.pid, signum)

    def kill(self) -> int:
        """`kill -9` this process and reap it; its pid."""
        pid = self.pid
        self.signal(signal.SIGKILL)
        self.wait(STOP_SECONDS)
        return pid

    def wait(self, seconds: float) -> int | None:
        """Its exit status once it has exited within `seconds`, else None."""
        if self.process is None:
            return None
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, seconds: float = STOP_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL if it lingers past `seconds`; its exit status."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        status = self.wait(seconds)
        if status is None:
            self.kill()
            status = self.process.returncode
        return status

    def restart(self) -> Self:
        self.stop()
        return self.start()


class Redis(Service):
    """redis-server on a free loopback port, no persistence, its pid in a pidfile too."""

    def __init__(self, folder: Path, log: Path) -> None:
        self.port = free_port()
        self.pidfile = folder / "redis.pid"
        command = [binary("redis-server") or "redis-server", "--port", str(self.port)]
        command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--daemonize", "no", "--pidfile", str(self.pidfile), "--dir", str(folder)]
        super().__init__("redis", command, log)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        super().start()
        wait_for("redis", lambda: port_open(self.port), 10, self.log)
        return self


class Nginx(Service):
    """nginx in the foreground (`daemon off;` in the generated main config) with its pid file,
    error log and temporary files in the stack's folder."""

    def __init__(self, conf: Path, prefix: Path, log: Path, ports: Sequence[int]) -> None:
        self.conf, self.ports = conf, list(ports)
        self.prefix = prefix
        command = [binary("nginx") or "nginx", "-p", f"{prefix}/", "-c", str(conf), "-e", str(log)]
        super().__init__("nginx", command, log)

    def check(self) -> None:
        """`nginx -t`: the configuration, shipped file included, is valid."""
        result = subprocess.run([*self.command, "-t"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"nginx -t refused {self.conf}:\n{result.stderr}")

    def start(self) -> Self:
        self.check()
        super().start()
        wait_for("nginx", lambda: all(map(port_open, self.ports)), 10, self.log)
        return self

    def reload(self) -> None:
        """SIGHUP: re-read the configuration, new workers, old ones finish."""
        self.signal(signal.SIGHUP)


class Postgres:
    """Our own cluster: initdb into `folder` (as the postgres user when we are root), pg_ctl on a
    free loopback port, one role and database for the app."""

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
        """`kill -9` of the postmaster, a crash: its backends exit on their own and `start()`
        recovers the cluster. The postmaster's pid."""
        pid = self.pid
        backends = children(pid)
        os.kill(pid, signal.SIGKILL)
        gone = lambda: not any(map(_alive, [pid, *backends]))  # noqa: E731
        wait_for("postgres processes to exit", gone, 30, self.log)
        self.started = False
        return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` of a log, or a note that it is missing."""
    try:
        with path.open("rb") as f:
            return b"".join(f.readlines()[-lines:]).decode(errors="replace")
    except OSError as exc:
        return f"({path}: {exc.strerror})"


def copy_log(source: Path, target: Path) -> None:
    """Keep a server's own log (written where only its user can) with the artifacts."""
    if source.exists():
        shutil.copyfile(source, target)
