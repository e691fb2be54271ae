"""A signed-in admin speaking HTTP to a production stack without a browser, for arranging a
test (connecting accounts) and for drills. It sends what Chromium sends to the site at `origin`
(by default the public https://<server_name>): that Host and a same-origin Referer, over TLS to
nginx's loopback port."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from tests.e2e.stack import ADMIN_EMAIL, PASSWORD
from tests.production.stack import ProductionStack

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TIMEOUT = 15


class AdminClient:
    def __init__(
        self, stack: ProductionStack, email: str = ADMIN_EMAIL, origin: str | None = None
    ) -> None:
        self.stack = stack
        self.origin = origin or stack.url
        self.host = urlsplit(self.origin).netloc
        self.http = stack.session()
        self.http.headers["Host"] = self.host
        self.callbacks: list[str] = []  # every OAuth callback URL followed, code and state in it
        self.sign_in_response = self.post(
            "/login", {"email": email, "password": PASSWORD}, csrf_from="/login"
        )

    def _local(self, url_or_path: str) -> str:
        """A public URL or a path, as a URL of nginx's loopback address."""
        parts = urlsplit(url_or_path)
        if parts.netloc not in ("", self.host):
            raise ValueError(f"not this stack's site: {url_or_path}")
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.stack.address}{parts.path}{query}"

    def get(self, path: str) -> requests.Response:
        return self.http.get(self._local(path), allow_redirects=False, timeout=TIMEOUT)

    def csrf(self, path: str) -> str:
        match = CSRF_RE.search(self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], csrf_from: str = "/") -> requests.Response:
        """A form POST as the browser sends it from `csrf_from`; must answer a redirect."""
        data = {**data, "csrf_token": self.csrf(csrf_from)}
        response = self.http.post(
            self._local(path),
            data=data,
            headers={"Referer": self.origin + csrf_from},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code in (302, 303), f"POST {path}: {response.status_code}"
        return response

    def connect(self, kind: str, employee_id: int) -> int:
        """Connect, approve at the sandbox, follow the callback; the connection's id."""
        authorize = self.post("/connect", {"environment": "production", "kind": kind}, "/connect")
        callback = self.stack.sandbox.approve(authorize.headers["Location"], employee_id)
        self.callbacks.append(callback)
        landed = self.get(callback)
        assert landed.status_code in (302, 303), f"callback: {landed.status_code}"
        return int(landed.headers["Location"].rstrip("/").rsplit("/", 1)[1])
