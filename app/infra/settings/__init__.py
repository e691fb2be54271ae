"""One typed settings object, read once from the environment (plus an optional `.env`).

`environment.load_settings` reads it; `refusals` holds what a configuration may not be."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.identity.config import OidcSettings

AppEnv = Literal["production", "demo", "test"]
APP_ENVS: tuple[AppEnv, ...] = ("production", "demo", "test")
LogFormat = Literal["text", "json"]
Scheduler = Literal["embedded", "off"]

SANDBOX_URL = "http://127.0.0.1:5001"
SANDBOX_CLIENT_ID = "factorial-connect-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the bundled sandbox's public demo secret
DEMO_REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
DEFAULT_API_VERSION = "2026-10-01"


class SettingsError(Exception):
    """The configuration cannot run; `problems` holds one human line per cause."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FactorialEnvironment:
    """Where one Factorial environment lives and how this app is registered there."""

    name: str
    label: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = ()
    pkce: bool = False
    api_version: str = DEFAULT_API_VERSION


@dataclass(frozen=True)
class Settings:
    """Everything configurable; see the README's configuration table."""

    app_env: AppEnv
    secret_key: str = field(repr=False)
    database_url: str
    token_encryption_keys: tuple[str, ...] = field(repr=False)
    environments: Mapping[str, FactorialEnvironment]
    debug: bool = False
    proxy_fix_x_for: int = 0
    proxy_fix_x_proto: int = 0
    session_cookie_secure: bool = True
    session_idle_minutes: int = 720
    session_max_hours: int = 24
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    factorial_connect_timeout: float = 3.05
    factorial_read_timeout: float = 10.0
    refresh_margin: int = 600
    keepalive_after: int = 86400
    health_check_every: int = 86400
    sweep_interval: int = 60
    vend_cache_seconds: int = 2
    scheduler: Scheduler = "embedded"
    notify_webhook_url: str = ""
    notify_webhook_secret: str = field(default="", repr=False)
    ratelimit_storage_uri: str = "memory://"
    metrics_token: str = field(default="", repr=False)
    oidc: OidcSettings | None = None
    password_login: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"
