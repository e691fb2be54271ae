"""The HTTP session every Factorial client shares: no retries, no cookies, cached proxy settings."""

from __future__ import annotations

from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

if TYPE_CHECKING:
    from requests.sessions import _Settings


class _RefuseCookies(DefaultCookiePolicy):
    """Accept no cookie and return none."""

    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: Any) -> bool:
        return False


class _NoCookieJar(RequestsCookieJar):
    """A jar that stays empty: its policy refuses every cookie, and a direct `set` is dropped."""

    def __init__(self) -> None:
        super().__init__(policy=_RefuseCookies())

    def set_cookie(self, cookie: Cookie, *args: Any, **kwargs: Any) -> None:
        return None


class _HttpSession(requests.Session):
    """No cookie is ever stored or sent: one session per thread and environment carries every
    company's credentials, so a cookie Factorial set for one would travel with another's.

    requests reads the proxy and CA-bundle settings from the environment again for every
    request, a cost a sweep pays thousands of times; here they are read once per scheme and
    host and kept for the life of the session (whose own settings never change after setup)."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies = _NoCookieJar()
        self._environment: dict[tuple[str, str], _Settings] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """Per-request cookies and a Cookie header are dropped too."""
        request.cookies = None
        prepared = super().prepare_request(request)
        prepared.headers.pop("Cookie", None)
        return prepared

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url.decode() if isinstance(url, bytes) else url or "")
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
        settings = self._environment[key].copy()
        settings["proxies"] = dict(settings["proxies"])
        return settings


def new_http_session() -> requests.Session:
    """A session whose adapters never retry (a refresh POST must not be sent twice)."""
    session = _HttpSession()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "factorial-connect"
    return session
