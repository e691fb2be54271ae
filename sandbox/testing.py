"""Run a real sandbox process for tests and tools, and drive its control API.

    with SandboxServer(redirect_uris=["http://127.0.0.1:5000/oauth/callback"]) as sandbox:
        location = sandbox.approve(authorize_url, employee_id=1002)

The process is `python -m sandbox --port 0 --mode test --db :memory:` (same interpreter),
bound to 127.0.0.1; its stderr (request log) goes to `log_path`. `stop()` signals only the
process it started. With `db=` a file, `restart()` stops the process and starts another on the
same file and port: a demo restart, which keeps every token and key.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests

READY_PREFIX = "Factorial sandbox listening on "
TIMEOUT = 10.0
_FLAGS = {
    "access_token_ttl": "--access-token-ttl",
    "refresh_token_ttl": "--refresh-token-ttl",
    "reuse_grace": "--reuse-grace",
    "company_token_ttl": "--company-token-ttl",
}
_SWITCHES = {"require_pkce": "--require-pkce", "company_refresh": "--company-refresh"}


class SandboxError(RuntimeError):
    """The sandbox did not start, or a control call failed."""


class SandboxServer:
    def __init__(
        self,
        redirect_uris: list[str] | None = None,
        *,
        mode: str = "test",
        startup_timeout: float = TIMEOUT,
        db: str | os.PathLike[str] = ":memory:",
        port: int = 0,
        **config: Any,
    ) -> None:
        """`config` takes the CLI's settings by name, e.g. `access_token_ttl=60`."""
        unknown = set(config) - set(_FLAGS) - set(_SWITCHES)
        if unknown:
            raise TypeError(f"unknown sandbox settings: {sorted(unknown)}")
        self.redirect_uris = list(redirect_uris or [])
        self.mode = mode
        self.db = os.fspath(db) if db == ":memory:" else os.path.abspath(db)
        self.port = port
        self.config = config
        self.startup_timeout = startup_timeout
        self.url = ""
        self.log_path: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._http = requests.Session()

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--mode",
            self.mode,
            "--db",
            self.db,
        ]
        for uri in self.redirect_uris:
            cmd += ["--redirect-uri", uri]
        for key, value in self.config.items():
            if key in _SWITCHES and value:
                cmd.append(_SWITCHES[key])
            elif key in _FLAGS and value is not None:
                cmd += [_FLAGS[key], str(int(value))]
        return cmd

    def start(self) -> Self:
        """Launch, read the real port from the ready line, wait until it answers."""
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="factorial-sandbox-", suffix=".log", delete=False
        )
        self.log_path = Path(log.name)
        root = Path(__file__).resolve().parent.parent
        self._process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=log, text=True, cwd=root
        )
        log.close()
        line = self._read_ready_line()
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise SandboxError(f"sandbox failed to start: {line!r}; see {self.log_path}")
        self.url = line.removeprefix(READY_PREFIX)
        self._wait_until_answering()
        return self

    @property
    def pid(self) -> int:
        """The sandbox process's id (while it runs)."""
        if self._process is None:
            raise SandboxError("sandbox is not running")
        return self._process.pid

    def _read_ready_line(self) -> str:
        """The first stdout line, or "" if none arrives within the startup timeout."""
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], self.startup_timeout)
        return self._process.stdout.readline().strip() if ready else ""

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                requests.get(f"{self.url}/oauth/authorize", timeout=1.0)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SandboxError("sandbox did not answer in time") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM our own process, then SIGKILL it if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stdout is not None:
            process.stdout.close()
        self._http.close()

    def restart(self) -> Self:
        """Stop the process and start another on the same database file and the same port."""
        if self.db == ":memory:":
            raise SandboxError("restart needs a database file: nothing survives :memory:")
        self.port = urlsplit(self.url).port or self.port
        self.stop()
        self._http = requests.Session()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(
        self, method: str, path: str, json: Any = None, ok: tuple[int, ...] = (200, 201)
    ) -> Any:
        if not self.url:
            raise SandboxError("sandbox is not running")
        response = self._http.request(
            method, f"{self.url}/_sandbox/{path}", json=json, timeout=TIMEOUT
        )
        if response.status_code not in ok:
            raise SandboxError(f"{method} /_sandbox/{path}: {response.status_code} {response.text}")
        return response.json()

    def fault(self, path: str, **kw: Any) -> dict[str, Any]:
        """Arm a fault: mode, count, status, body, html, retry_after, delay, grant_type, headers."""
        return dict(self._call("POST", "faults", {"path": path, **kw}))

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def counts(self) -> dict[str, dict[str, int]]:
        return dict(self._call("GET", "counts"))

    def reset_counts(self) -> None:
        """Zero the counts and forget the recent requests."""
        self._call("POST", "reset-counts")

    def recent_requests(self) -> list[dict[str, Any]]:
        """The last requests, oldest first: `{"method", "path", "headers"}`, header names in
        lower case, Authorization and x-api-key values hidden."""
        return list(self._call("GET", "requests")["requests"])

    def reset(self) -> None:
        """Fresh seed, startup config, real clock, no faults, zero counts."""
        self._call("POST", "reset")

    def revoke_grant(
        self,
        token: str | None = None,
        *,
        company_id: int | None = None,
        employee_id: int | None = None,
    ) -> list[int]:
        """Revoke as a Factorial admin would; returns the revoked grant ids."""
        body: dict[str, Any] = (
            {"token": token}
            if token is not None
            else {"company_id": company_id, "employee_id": employee_id}
        )
        return list(self._call("POST", "revoke-grant", body, ok=(200, 404))["revoked"])

    def set_clock(self, offset: float) -> int:
        """Shift the sandbox's "now" by `offset` seconds from real time; returns its now."""
        return int(self._call("POST", "clock", {"offset": offset})["now"])

    def configure(self, **kw: Any) -> dict[str, Any]:
        return dict(self._call("POST", "config", kw))

    def seed(self) -> dict[str, Any]:
        return dict(self._call("GET", "seed"))

    def approve(self, authorize_url: str, employee_id: int, decision: str = "approve") -> str:
        """Submit the consent form programmatically; returns the redirect location."""
        body = {"authorize_url": authorize_url, "employee_id": employee_id, "decision": decision}
        return str(self._call("POST", "approve", body)["location"])

    def mint_api_key(self, company_id: int, name: str = "Sandbox key") -> dict[str, Any]:
        """Returns `{"id", "name", "company_id", "token"}`."""
        return dict(self._call("POST", "api-keys", {"company_id": company_id, "name": name}))

    def idp_tamper(self, next_answer: str) -> None:
        """Arm a one-shot tamper of the identity provider's next answer (see `sandbox.idp`)."""
        self._call("POST", "idp/tamper", {"next": next_answer})

    def idp_person(self, sub: str, **changes: Any) -> dict[str, Any]:
        """Change a person of the identity provider: groups, email_verified, email."""
        return dict(self._call("POST", f"idp/people/{sub}", changes))
