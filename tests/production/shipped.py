"""The shipped deployment files, read as they are: deploy/nginx-factorial-connect.conf with the
few edits a test on loopback needs, the systemd units' commands and Environment= lines, and the
settings deploy/env.example asks for.

Every edit names the exact line it expects; when the shipped file no longer has it,
ShippedFileChanged says which, so the suite keeps testing the file that ships rather than
drifting from it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.production.servers import ROOT

DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx-factorial-connect.conf"
WEB_UNIT = DEPLOY / "factorial-connect-web.service"
WORKER_UNIT = DEPLOY / "factorial-connect-worker.service"
SWEEP_UNIT = DEPLOY / "factorial-connect-sweep.service"  # started by factorial-connect-sweep.timer
ENV_EXAMPLE = DEPLOY / "env.example"
INSTALL = "/opt/factorial-connect"  # where the units and nginx expect the checkout
SHIPPED_UPSTREAM = "127.0.0.1:8000"


class ShippedFileChanged(AssertionError):
    """A shipped file no longer has a line the production suite edits or relies on."""


@dataclass(frozen=True)
class Edit:
    """Replace each line equal to `line` (whitespace aside) by `new`; exactly `count` expected."""

    line: str
    new: str
    count: int = 1


@dataclass(frozen=True)
class SitePorts:
    http: int
    https: int
    upstream: int


def _normal(line: str) -> str:
    return " ".join(line.split())


def _strip_comments(text: str) -> list[str]:
    """The file's lines without comments (nginx has no `#` inside the shipped values)."""
    return [line.split("#", 1)[0].rstrip() for line in text.splitlines()]


def apply_edits(path: Path, lines: list[str], edits: Sequence[Edit]) -> list[str]:
    found = {e.line: 0 for e in edits}
    wanted = {e.line: e for e in edits}
    out = []
    for line in lines:
        edit = wanted.get(_normal(line))
        if edit is None:
            out.append(line)
            continue
        found[edit.line] += 1
        indent = line[: len(line) - len(line.lstrip())]
        out.extend([indent + edit.new] if edit.new else [])
    wrong = [f"`{e.line}`: expected {e.count}, found {found[e.line]}" for e in edits
             if found[e.line] != e.count]  # fmt: skip
    if wrong:
        raise ShippedFileChanged(
            f"{path.relative_to(ROOT)} changed; tests/production/shipped.py edits these lines:\n  "
            + "\n  ".join(wrong)
        )
    return out


def server_name(path: Path = NGINX_SITE) -> str:
    """The one public host name the shipped site serves."""
    names = set(re.findall(r"^\s*server_name\s+([^;\s]+);", path.read_text(), re.MULTILINE))
    if len(names) != 1:
        raise ShippedFileChanged(f"{path.relative_to(ROOT)}: expected one server_name, {names}")
    return names.pop()


def nginx_site(ports: SitePorts, cert: Path, key: Path, logs: Path) -> str:
    """The shipped site with loopback ports, the test's certificate, logs in `logs` and the
    checkout's static folder; nothing else changes. IPv6 listens are dropped (loopback v4 only)."""
    host = server_name()
    access = f"access_log {logs / 'nginx-access.log'} factorial_connect;"
    edits = [
        Edit(f"server {SHIPPED_UPSTREAM};", f"server 127.0.0.1:{ports.upstream};"),
        Edit("listen 80;", f"listen 127.0.0.1:{ports.http};"),
        Edit("listen [::]:80;", ""),
        Edit("listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;"),
        Edit("listen [::]:443 ssl http2;", ""),
        Edit(
            f"ssl_certificate /etc/letsencrypt/live/{host}/fullchain.pem;",
            f"ssl_certificate {cert};",
        ),
        Edit(
            f"ssl_certificate_key /etc/letsencrypt/live/{host}/privkey.pem;",
            f"ssl_certificate_key {key};",
        ),
        Edit(
            "access_log /var/log/nginx/factorial-connect.access.log factorial_connect;", access, 2
        ),
        Edit(
            "error_log /var/log/nginx/factorial-connect.error.log error;",
            f"error_log {logs / 'nginx-site-error.log'} error;",
        ),
        Edit(f"alias {INSTALL}/static/;", f"alias {ROOT / 'static'}/;"),
    ]
    shipped = _strip_comments(NGINX_SITE.read_text())
    _refuse_leftovers([line for line in shipped if _normal(line) not in {e.line for e in edits}])
    return "\n".join(apply_edits(NGINX_SITE, shipped, edits)) + "\n"


def _refuse_leftovers(lines: list[str]) -> None:
    """A listen or a file path the edits do not cover must be handled, not silently used."""
    for line in lines:
        words = _normal(line)
        address = re.match(r"(listen|server) [^{]", words)  # a new listen or upstream server
        path = re.search(r"\s(/etc/|/var/|/opt/|/srv/|/usr/|/run/)", f" {words}")
        if address or path:
            raise ShippedFileChanged(
                f"{NGINX_SITE.relative_to(ROOT)}: `{words}` is new to the production suite; "
                "teach tests/production/shipped.py how to run it on loopback"
            )


@dataclass(frozen=True)
class Unit:
    """What a systemd unit runs: ExecStart as argv, and its Environment= settings in order."""

    path: Path
    exec_start: list[str]
    environment: dict[str, str]
    working_directory: str

    def command(self, venv_bin: Path) -> list[str]:
        """ExecStart with the install's virtualenv replaced by ours."""
        program = Path(self.exec_start[0])
        if program.parent != Path(INSTALL) / ".venv" / "bin":
            raise ShippedFileChanged(
                f"{self.path.relative_to(ROOT)}: ExecStart no longer runs {INSTALL}/.venv/bin/…"
            )
        return [str(venv_bin / program.name), *self.exec_start[1:]]

    def environment_with(self, **ours: str) -> dict[str, str]:
        """The unit's Environment=, with `ours` replacing settings the unit sets (only those)."""
        unknown = set(ours) - set(self.environment)
        if unknown:
            raise ShippedFileChanged(
                f"{self.path.relative_to(ROOT)} no longer sets {sorted(unknown)} in Environment="
            )
        return {**self.environment, **ours}


def read_unit(path: Path) -> Unit:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith(("#", ";", "[")):
            settings.setdefault(key.strip(), []).append(value.strip())
    environment = {}
    for value in settings.get("Environment", []):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            environment[name] = setting
    if len(settings.get("ExecStart", [])) != 1 or settings.get("WorkingDirectory") != [INSTALL]:
        raise ShippedFileChanged(f"{path.relative_to(ROOT)}: one ExecStart in {INSTALL} expected")
    return Unit(path, shlex.split(settings["ExecStart"][0]), environment, INSTALL)


def env_example_names(path: Path = ENV_EXAMPLE) -> list[str]:
    """The settings the shipped environment file asks an operator to fill in."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


def env_example_generators(venv_bin: Path, path: Path = ENV_EXAMPLE) -> dict[str, list[str]]:
    """The settings env.example fills with a command's output (`<output of: CMD>`), each with
    its command, the install's .venv/bin replaced by `venv_bin`."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"(\w+)=<output of: (.+)>", line.strip())
        if match is None:
            continue
        command = shlex.split(match.group(2))
        if not command[0].startswith(".venv/bin/"):
            raise ShippedFileChanged(f"{path.relative_to(ROOT)}: {match.group(1)} from {command}")
        found[match.group(1)] = [str(venv_bin / command[0].removeprefix(".venv/bin/"))]
        found[match.group(1)] += command[1:]
    return found


def production_environment(values: Mapping[str, str]) -> dict[str, str]:
    """`values` checked against deploy/env.example: every setting it names must be given."""
    missing = [name for name in env_example_names() if name not in values]
    if missing:
        raise ShippedFileChanged(
            f"{ENV_EXAMPLE.relative_to(ROOT)} names {missing}, which the production suite "
            "does not set; give them a value in tests/production/stack.py"
        )
    return dict(values)
