"""Startup and runtime configuration of the sandbox.

`SandboxConfig` is what the process was started with; `RuntimeSettings` is the part the
control API may change while running (and that `/_sandbox/reset` puts back).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
CLIENT_ID = "factorial-connect-sandbox"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a public demo secret, by design
CLIENT_NAME = "Factorial Connect"
CLIENT_SCOPES = "read write"
MODES = ("demo", "test", "strict")


@dataclass
class RuntimeSettings:
    """Token behaviour knobs; `None` for `company_token_ttl` means company tokens never expire.
    `issuer`, when set, is sent as `iss` in every authorization response (RFC 9207); Factorial
    does not document sending one, so by default none is sent."""

    access_token_ttl: int = 3600
    refresh_token_ttl: int = 7 * 24 * 3600
    reuse_grace: int = 0
    company_token_ttl: int | None = None
    company_refresh: bool = False
    require_pkce: bool = False
    code_ttl: int = 600
    issuer: str | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update from JSON; raises ValueError on unknown keys or bad types."""
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            setattr(self, key, _coerce(key, value))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(key: str, value: Any) -> Any:
    if key in ("company_refresh", "require_pkce"):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        return value
    if key == "issuer":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError("issuer must be a non-empty string, or null to send none")
        return value
    if key == "company_token_ttl" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return int(value)


@dataclass
class SandboxConfig:
    """Everything `create_app` needs. `db` is a SQLite path or ':memory:'."""

    mode: str = "demo"
    db: str = ":memory:"
    redirect_uris: tuple[str, ...] = (DEFAULT_REDIRECT_URI,)
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.redirect_uris = tuple(split_uris(self.redirect_uris))
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI is required")

    @property
    def control_enabled(self) -> bool:
        """The `/_sandbox/` control API exists only outside strict mode."""
        return self.mode != "strict"


def split_uris(values: tuple[str, ...] | list[str]) -> list[str]:
    """Accept repeated values and comma-separated lists alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
