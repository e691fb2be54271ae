"""Put connections and keys into a running app over plain HTTP, as an admin's browser would."""

from __future__ import annotations

import re

import requests

from tests.e2e.stack import ADMIN_EMAIL, PASSWORD, Stack

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FORM_ID_RE = re.compile(r'name="form_id"[^>]*value="([^"]+)"')
GRANTS_LINK_RE = re.compile(r'href="/services/(\d+)/grants"')


class AdminSession:
    """A signed-in admin speaking HTTP to the app (no browser): for arranging, not for testing."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = requests.Session()
        self.post("/login", {"email": ADMIN_EMAIL, "password": PASSWORD}, csrf_from="/login")

    def csrf(self, path: str) -> str:
        match = CSRF_RE.search(self.http.get(self.stack.url + path, timeout=10).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], csrf_from: str = "/") -> requests.Response:
        data = {**data, "csrf_token": self.csrf(csrf_from)}
        response = self.http.post(
            self.stack.url + path, data=data, allow_redirects=False, timeout=10
        )
        assert response.status_code in (302, 303), f"{path}: {response.status_code}"
        return response

    def connect(self, kind: str, employee_id: int) -> int:
        """Connect, approve at the sandbox, follow the callback; the new connection's id."""
        authorize = self.post("/connect", {"environment": "demo", "kind": kind}, "/connect")
        callback = self.stack.sandbox.approve(authorize.headers["Location"], employee_id)
        landed = self.http.get(callback, allow_redirects=False, timeout=10)
        return int(landed.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def refresh(self, connection_id: int) -> None:
        self.post(f"/connections/{connection_id}/refresh", {})

    def add_api_key(self, token: str, label: str) -> int:
        data = {"environment": "demo", "label": label, "key": token}
        response = self.post("/api-keys/new", data, "/api-keys/new")
        return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def create_service_client(self, name: str, key_id: int) -> int:
        """A client granted one API key; its id (its secret is not needed here)."""
        page = self.http.get(self.stack.url + "/services/new", timeout=10).text
        form_id = FORM_ID_RE.search(page)
        assert form_id, "no form_id on /services/new"
        data = {"name": name, "scopes": "token:read", "reach": "chosen", "api_keys": str(key_id)}
        self.post("/services/new", {**data, "form_id": form_id.group(1)}, "/services/new")
        listed = self.http.get(self.stack.url + "/services/", timeout=10).text
        return max(int(found) for found in GRANTS_LINK_RE.findall(listed))
