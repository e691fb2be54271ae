"""What deploy/nginx-factorial-connect.conf promises, checked on the running site: plain HTTP
is sent to HTTPS, an OAuth callback's `code` and `state` reach no log of nginx or the app, and
the site works on a port other than 443."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import occurring
from tests.production.admin import AdminClient
from tests.production.stack import ProductionStack

pytestmark = pytest.mark.production
DIETER = 2001  # the sandbox's Nimbus admin


def leaks(logs: list[Path], secrets: list[str]) -> list[tuple[str, str]]:
    """(log name, first characters of the secret) for each secret found in each log."""
    return [(log.name, s[:6]) for log in logs for s in occurring(secrets, log.read_text())]


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
    assert (leaks(logs, secrets), all("/oauth/callback" in text for text in texts)) == ([], True)


def test_an_admin_signs_in_where_the_site_is_served_on_another_port(
    stack: ProductionStack,
) -> None:
    """nginx passes the browser's Host with its port, which the CSRF check compares with the
    Referer: with `Host $host` every form was refused (400) behind https://HOST:PORT."""
    admin = AdminClient(stack, origin=stack.address)  # https://127.0.0.1:<nginx's port>
    assert admin.sign_in_response.headers["Location"] == "/"
