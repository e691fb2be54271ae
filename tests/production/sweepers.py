"""The token sweep's one-shot mode: `flask --app wsgi tokens refresh-due` started again and again,
as factorial-connect-sweep.timer (or cron) starts it. (The long-running mode, `tokens worker`,
is a plain Service: see ProductionStack.start_worker.)"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.production.servers import ROOT, STOP_SECONDS, StackError


@dataclass(frozen=True)
class CronRun:
    """One `refresh-due`: when it ended (epoch seconds), its exit status and its output."""

    ended: float
    status: int
    output: str


class CronSweep:
    """`command` started every `every` seconds, one run at a time: the next run starts on
    schedule, or as soon as a slow run ends. Each run's output is appended to `log`."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], log: Path, every: float
    ) -> None:
        self.command, self.env, self.log, self.every = list(command), dict(env), log, every
        self.runs: list[CronRun] = []
        self._current: subprocess.Popen[str] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cron-sweep", daemon=True)

    @property
    def current_pid(self) -> int | None:
        """The pid of the run in progress, if any (for `kill -9` drills)."""
        current = self._current
        return None if current is None or current.poll() is not None else current.pid

    def start(self) -> Self:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self._run_once()
            self._stopping.wait(max(0.0, started + self.every - time.monotonic()))

    def _run_once(self) -> None:
        process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._current = process
        output, _ = process.communicate()
        run = CronRun(time.time(), process.returncode, output)
        with self.log.open("a") as log:
            stamp = time.strftime("%H:%M:%S", time.localtime(run.ended))
            log.write(f"--- {stamp} pid {process.pid} exit {run.status}\n{output}")
        self.runs.append(run)

    def kill_current(self) -> int | None:
        """`kill -9` the run in progress; its pid, or None when no run is in progress."""
        current = self._current
        if current is None or current.poll() is not None:
            return None
        current.send_signal(signal.SIGKILL)
        return current.pid

    def wait_for_runs(self, count: int, seconds: float = 60) -> list[CronRun]:
        """Block until `count` runs have ended since this sweep started."""
        deadline = time.monotonic() + seconds
        while len(self.runs) < count:
            if time.monotonic() > deadline:
                raise StackError(f"{len(self.runs)} of {count} cron runs after {seconds} s")
            time.sleep(0.1)
        return list(self.runs)

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """No new run; the run in progress finishes (SIGTERM by its pid if it takes too long)."""
        self._stopping.set()
        if self._thread.ident is None:
            return
        self._thread.join(seconds)
        current = self._current
        if self._thread.is_alive() and current is not None:
            current.terminate()
            self._thread.join(seconds)
