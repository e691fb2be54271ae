"""Handles on the servers a production stack runs: each is started by the harness, known by its
own pid (or, for PostgreSQL, its data directory and pg_ctl), and stopped by that alone.

A handle can be stopped, killed and started again on the same port, which is what failure
drills need: `Service.kill()` is `kill -9` of that one process, `Gunicorn.kill_worker()` of one
worker, `Redis.stop()` then `Redis.start()` an outage (PostgreSQL: postgres.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

import requests

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


class Gunicorn(Service):
    """The web unit's gunicorn: a master (`pid`) and its workers (`workers()`)."""

    def __init__(self, command: list[str], env: Mapping[str, str], log: Path, port: int) -> None:
        super().__init__("gunicorn", command, log, env)
        self.port = port

    def workers(self) -> list[int]:
        return children(self.pid)

    def wait_for_workers(self, count: int, seconds: float = 30) -> list[int]:
        wait_for(f"{count} gunicorn workers", lambda: len(self.workers()) == count, seconds, None)
        return self.workers()

    def kill_worker(self) -> int:
        """`kill -9` one worker and wait until the master has noticed (it then starts another:
        `wait_for_workers`); the killed pid."""
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        wait_for(f"gunicorn to reap worker {pid}", lambda: pid not in self.workers(), 30, self.log)
        return pid

    def reload(self) -> None:
        """SIGHUP, as `systemctl reload` sends: new workers, then the old ones finish."""
        self.signal(signal.SIGHUP)

    def start(self) -> Self:
        super().start()
        wait_for("gunicorn", self._answers, 60, self.log)
        return self

    def _answers(self) -> bool:
        if not self.running:
            raise StackError(f"gunicorn exited with {self.wait(0)}; see {self.log}")
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
        except requests.RequestException:
            return False


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
