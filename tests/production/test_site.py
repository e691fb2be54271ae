"""What deploy/nginx-factorial-connect.conf promises, checked on the running site: plain HTTP
is sent to HTTPS, and an OAuth callback's `code` and `state` reach no log of nginx or the app."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.production.admin import AdminClient
from tests.production.stack import ProductionStack

pytestmark = pytest.mark.production
DIETER = 2001  # the sandbox's Nimbus admin


def test_plain_http_is_redirected_to_https(stack: ProductionStack) -> None:
    with stack.session() as http:
        answer = http.get(
            f"http://127.0.0.1:{stack.ports.http}/login?next=/api-keys/",
            headers={"Host": stack.public_host},
            allow_redirects=False,
            timeout=10,
        )
    expected = f"{stack.url}/login?next=/api-keys/"
    assert (answer.status_code, answer.headers["Location"]) == (301, expected)


def test_the_oauth_callback_leaves_no_code_or_state_in_any_log(stack: ProductionStack) -> None:
    admin = AdminClient(stack)
    admin.connect("company", DIETER)
    query = parse_qs(urlsplit(admin.callbacks[-1]).query)
    secrets = [query["code"][0], query["state"][0]]
    logs = [stack.artifacts / name for name in ("nginx-access.log", "gunicorn.log")]
    texts = [log.read_text() for log in logs]
    leaks = [(log.name, s[:6]) for log, text in zip(logs, texts, strict=True) for s in secrets
             if s in text]  # fmt: skip
    assert (leaks, all("/oauth/callback" in text for text in texts)) == ([], True)
