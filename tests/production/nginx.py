"""nginx for a production stack: Debian's binary in the foreground, a generated main config in
the manner of Debian's nginx.conf that includes the (edited) shipped site, and the test's own
TLS front for the sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.production.servers import Service, StackError, binary, port_open, wait_for


@dataclass(frozen=True)
class SandboxFront:
    """TLS on `port` in front of the sandbox's plain HTTP on `upstream` (production settings
    refuse a non-https Factorial); this server block is the test's, not the shipped file's."""

    port: int
    upstream: int
    access_log: Path


def main_config(
    folder: Path, site: Path, error_log: Path, cert: Path, key: Path, front: SandboxFront
) -> str:
    """Debian's nginx.conf in miniature (the site included in `http`, mime types, sendfile),
    in the foreground, its pid file and temporary files in `folder`."""
    temp = folder / "nginx-temp"
    temp.mkdir(exist_ok=True)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {temp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""{user}
worker_processes 2;
daemon off;
pid {folder / "nginx.pid"};
error_log {error_log} warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log off;
{temp_paths}
    include {site};

    server {{
        listen 127.0.0.1:{front.port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        access_log {front.access_log};
        location / {{
            proxy_pass http://127.0.0.1:{front.upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""


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
