"""What Factorial answers, validated into frozen values; secrets never appear in `repr`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from app.factorial.errors import UnexpectedResponse

CredentialKind = Literal["user", "company", "api_key", "unknown"]
CLOCK_SKEW = timedelta(seconds=60)
MAX_LIFE = 100 * 365 * 24 * 3600  # seconds; a longer expires_in is nonsense (and overflows)
_ID_PREFIXES: tuple[tuple[str, CredentialKind], ...] = (
    ("api_key", "api_key"),
    ("company", "company"),
    ("user", "user"),
)


@dataclass(frozen=True)
class TokenResponse:
    """A token endpoint answer; `expires_in=None` means the token does not expire."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int | None
    refresh_token: str | None = field(repr=False)
    scope: tuple[str, ...]
    created_at: datetime | None

    def expires_at(self, received_at: datetime) -> datetime | None:
        """Expiry counted from `created_at` (clamped to `received_at` if far in the future)."""
        if self.expires_in is None:
            return None
        start = received_at
        if self.created_at is not None and self.created_at <= received_at + CLOCK_SKEW:
            start = self.created_at
        return start + timedelta(seconds=self.expires_in)

    @classmethod
    def from_payload(cls, data: Mapping[str, object]) -> TokenResponse:
        """Validate a Doorkeeper-style body; raise UnexpectedResponse on anything unusable."""
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UnexpectedResponse("Factorial's token response has no access_token")
        token_type = data.get("token_type")
        return cls(
            access_token=access_token,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            expires_in=_expires_in(data.get("expires_in")),
            refresh_token=_refresh_token(data.get("refresh_token")),
            scope=_scope(data.get("scope")),
            created_at=_epoch(data.get("created_at")),
        )


def _expires_in(value: object) -> int | None:
    if value is None:
        return None
    seconds = _whole(value.strip()) if isinstance(value, str) else value
    if isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds <= MAX_LIFE:
        return seconds
    raise UnexpectedResponse("Factorial's token response has an invalid expires_in")


def _whole(text: str) -> int | None:
    """ASCII digits as a number: `str.isdigit` also accepts "²" (which int() refuses) and
    Arabic-Indic digits; a number too long for any timestamp or lifetime is refused too."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _refresh_token(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise UnexpectedResponse("Factorial's token response has an invalid refresh_token")


def _scope(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return ()


def _epoch(value: object) -> datetime | None:
    """Seconds since the epoch as an aware UTC datetime; None when absent or nonsense."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = _whole(value.strip())
    if not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class CredentialInfo:
    """Who owns a credential, from the credentials endpoint; ids are opaque strings."""

    id: str
    company_id: str
    kind: CredentialKind
    employee_id: str | None
    email: str | None
    full_name: str | None
    company_name: str | None
    role: str | None
    raw_keys: tuple[str, ...]

    @classmethod
    def from_payload(cls, item: Mapping[str, object], *, sent_api_key: bool) -> CredentialInfo:
        """`sent_api_key` breaks the tie when only company fields come back and the id is bare."""
        if item.get("id") is None or item.get("company_id") is None:
            raise UnexpectedResponse("Factorial's credential has no id or company_id")
        return cls(
            id=str(item["id"]),
            company_id=str(item["company_id"]),
            kind=_kind(item, sent_api_key=sent_api_key),
            employee_id=_text(item.get("employee_id")),
            email=_text(item.get("email")) or _text(item.get("login_email")),
            full_name=_full_name(item),
            company_name=_text(item.get("name")) or _text(item.get("legal_name")),
            role=_text(item.get("role")),
            raw_keys=tuple(sorted(str(key) for key in item)),
        )


def _kind(item: Mapping[str, object], *, sent_api_key: bool) -> CredentialKind:
    prefix = str(item["id"]).lower()
    for start, kind in _ID_PREFIXES:
        if prefix.startswith(start):
            return kind
    if item.get("employee_id") is not None:
        return "user"
    if item.get("name") is not None or item.get("legal_name") is not None:
        return "api_key" if sent_api_key else "company"
    return "unknown"


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _full_name(item: Mapping[str, object]) -> str | None:
    full = _text(item.get("full_name"))
    if full:
        return full
    parts = [_text(item.get("first_name")), _text(item.get("last_name"))]
    return " ".join(p for p in parts if p) or None


@dataclass(frozen=True)
class RemoteApiKey:
    """One key from the legacy keys API; the secret itself is never listed."""

    id: str
    name: str
    created_at: str | None
    token_digest: str | None = None


@dataclass(frozen=True)
class CreatedApiKey:
    """A freshly created key; `token` is shown by Factorial only this once."""

    id: str
    name: str
    token: str = field(repr=False)
