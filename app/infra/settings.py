"""One typed settings object, read once from the environment (plus an optional `.env`)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from dotenv import load_dotenv

from app.identity.config import OidcSettings, oidc_demo_defaults, oidc_from_env, password_login

AppEnv = Literal["production", "demo", "test"]
APP_ENVS: tuple[AppEnv, ...] = ("production", "demo", "test")

KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "dev", "secret", "changeme", "change-me", "development", "default", "please-change-me"}
)
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
    log_format: Literal["text", "json"] = "text"
    factorial_connect_timeout: float = 3.05
    factorial_read_timeout: float = 10.0
    refresh_margin: int = 600
    keepalive_after: int = 86400
    health_check_every: int = 86400
    sweep_interval: int = 60
    vend_cache_seconds: int = 2
    scheduler: Literal["embedded", "off"] = "embedded"
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


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number of seconds, got {raw!r}")
        return default
    if value < 0:
        problems.append(f"{name} must not be negative")
    return value


def _float(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return default


def _bounded(
    env: Mapping[str, str],
    name: str,
    default: int,
    bounds: tuple[int, int, str],
    problems: list[str],
) -> int:
    """A whole number within (lowest, highest, unit); the default when unset or refused."""
    lowest, highest, unit = bounds
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number of {unit}, got {raw!r}")
        return default
    if not lowest <= value <= highest:
        problems.append(f"{name} must be from {lowest} to {highest} {unit}, got {value}")
        return default
    return value


def _session_lifetimes(env: Mapping[str, str], problems: list[str]) -> tuple[int, int]:
    """(idle minutes, absolute hours) of a sign-in session; the idle limit fits in the other."""
    idle = _bounded(env, "SESSION_IDLE_MINUTES", 720, (5, 527_040, "minutes"), problems)
    longest = _bounded(env, "SESSION_MAX_HOURS", 24, (1, 8784, "hours"), problems)
    if idle > longest * 60:
        problems.append(
            f"SESSION_IDLE_MINUTES ({idle}) must not exceed SESSION_MAX_HOURS "
            f"({longest} h = {longest * 60} minutes)"
        )
    return idle, longest


def valid_fernet_key(key: str) -> bool:
    """True when `key` is a urlsafe-base64 32-byte Fernet key."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return False
    return True


def _demo_secrets(instance_path: Path) -> dict[str, str]:
    """Generated once per instance folder so a demo restart can still decrypt its tokens."""
    path = instance_path / "demo-secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    instance_path.mkdir(parents=True, exist_ok=True)
    data = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def _environment(
    env: Mapping[str, str], prefix: str, name: str, label: str, defaults: Mapping[str, str]
) -> FactorialEnvironment | None:
    def get(key: str) -> str:
        return env.get(f"{prefix}{key}", "").strip() or defaults.get(key, "")

    client_id = get("CLIENT_ID")
    if not client_id:
        return None
    return FactorialEnvironment(
        name=name,
        label=get("LABEL") or label,
        base_url=get("BASE_URL").rstrip("/"),
        client_id=client_id,
        client_secret=get("CLIENT_SECRET"),
        redirect_uri=get("REDIRECT_URI"),
        scopes=tuple(get("SCOPES").replace(",", " ").split()),
        pkce=_bool(get("PKCE"), default=False),
        api_version=get("API_VERSION") or DEFAULT_API_VERSION,
    )


def _environments(env: Mapping[str, str], app_env: AppEnv) -> dict[str, FactorialEnvironment]:
    production = _environment(
        env, "FACTORIAL_", "production", "Factorial", {"BASE_URL": "https://api.factorialhr.com"}
    )
    demo_defaults: dict[str, str] = {"BASE_URL": "https://api.eu2.demo.factorial.dev"}
    if app_env in ("demo", "test"):
        demo_defaults = {
            "BASE_URL": SANDBOX_URL,
            "CLIENT_ID": SANDBOX_CLIENT_ID,
            "CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
            "REDIRECT_URI": DEMO_REDIRECT_URI,
            "PKCE": "true",
            "LABEL": "Factorial sandbox (local)",
        }
    demo = _environment(env, "FACTORIAL_DEMO_", "demo", "Factorial demo", demo_defaults)
    return {e.name: e for e in (production, demo) if e is not None}


def _check_environment(e: FactorialEnvironment, prefix: str, problems: list[str]) -> None:
    if not e.base_url.startswith("https://"):
        problems.append(f"{prefix}BASE_URL must be an https:// URL in production")
    if not e.client_secret:
        problems.append(f"{prefix}CLIENT_SECRET is required")
    if not e.redirect_uri.startswith("https://"):
        problems.append(f"{prefix}REDIRECT_URI must be an https:// URL in production")


def is_patterned(key: str) -> bool:
    """True when `key` repeats itself: a short unit over and over, or a run of one character.

    A random key has nearly as many distinct adjacent pairs as it has pairs (a long one from a
    small alphabet still has dozens); a repeated or padded key has only a handful.
    """
    pairs = {key[i : i + 2] for i in range(len(key) - 1)}
    return len(pairs) < min((len(key) - 1) / 2, 24)


def _secret_key_problem(key: str) -> str | None:
    if key.strip().lower() in KNOWN_DEFAULT_SECRETS:
        return "SECRET_KEY is missing or a known default; set a long random value"
    if len(key) < 32:
        return "SECRET_KEY is too short; use at least 32 random characters"
    if is_patterned(key):
        return (
            "SECRET_KEY is a repeated pattern; generate a random one with `flask keys secret-key`"
        )
    return None


def _webhook_problems(s: Settings) -> list[str]:
    """The URL is never quoted: webhook URLs often carry a token in their path."""
    if not s.notify_webhook_url:
        return []
    problems = []
    if not s.notify_webhook_url.startswith("https://"):
        problems.append("NOTIFY_WEBHOOK_URL must be an https:// URL in production")
    if not s.notify_webhook_secret.strip():
        problems.append(
            "NOTIFY_WEBHOOK_SECRET is required when NOTIFY_WEBHOOK_URL is set "
            "(webhooks are HMAC-signed with it; set a long random value)"
        )
    return problems


def production_problems(s: Settings) -> list[str]:
    """One line per reason the production configuration must not start."""
    problems: list[str] = []
    secret_key_problem = _secret_key_problem(s.secret_key)
    if secret_key_problem:
        problems.append(secret_key_problem)
    if not s.token_encryption_keys:
        problems.append("TOKEN_ENCRYPTION_KEYS is missing; generate one with `flask keys generate`")
    for i, key in enumerate(s.token_encryption_keys, start=1):
        if not valid_fernet_key(key):
            problems.append(f"TOKEN_ENCRYPTION_KEYS key #{i} is not a valid Fernet key")
    if s.debug:
        problems.append("DEBUG must be off in production")
    if not s.session_cookie_secure:
        problems.append("SESSION_COOKIE_SECURE must be on in production (cookies only over HTTPS)")
    problems.extend(_webhook_problems(s))
    if "production" not in s.environments:
        problems.append("FACTORIAL_CLIENT_ID is required (register the app in Factorial first)")
    for e in s.environments.values():
        _check_environment(
            e, "FACTORIAL_" if e.name == "production" else "FACTORIAL_DEMO_", problems
        )
    return problems


def load_settings(
    environ: Mapping[str, str] | None = None,
    instance_path: Path | str = "instance",
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Read settings; raise SettingsError listing every problem that prevents a safe start."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env", override=False)
    env = dict(os.environ if environ is None else environ)
    for key, value in (overrides or {}).items():
        if key.isupper():
            env[key] = str(value)
    problems: list[str] = []
    app_env_raw = env.get("APP_ENV", "production").strip() or "production"
    if app_env_raw not in APP_ENVS:
        raise SettingsError([f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env_raw!r}"])
    app_env: AppEnv = app_env_raw
    instance = Path(instance_path)
    warnings: list[str] = []
    if app_env == "demo":
        generated = _demo_secrets(instance)
        for key in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"):
            if not env.get(key):
                env[key] = generated[key]
        warnings.append("APP_ENV=demo: generated secrets, local sandbox, not for real data")
        oidc_demo_defaults(env, env.get("FACTORIAL_DEMO_BASE_URL", "").strip() or SANDBOX_URL)
    if app_env == "test":  # never a known key: a new one per process unless one is given
        env["SECRET_KEY"] = env.get("SECRET_KEY") or secrets.token_urlsafe(48)
        env.setdefault("TOKEN_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    default_db = f"sqlite:///{(instance / 'factorial-connect.sqlite3').resolve()}"
    keys = tuple(k.strip() for k in env.get("TOKEN_ENCRYPTION_KEYS", "").split(",") if k.strip())
    log_format = env.get("LOG_FORMAT", "text").strip().lower()
    if log_format not in ("text", "json"):
        problems.append(f"LOG_FORMAT must be text or json, got {log_format!r}")
        log_format = "text"
    scheduler = env.get("SCHEDULER", "embedded").strip().lower()
    if scheduler not in ("embedded", "off"):
        problems.append(f"SCHEDULER must be embedded or off, got {scheduler!r}")
        scheduler = "embedded"
    idle_minutes, max_hours = _session_lifetimes(env, problems)
    oidc = oidc_from_env(env, app_env == "production", problems)
    settings = Settings(
        app_env=app_env,
        secret_key=env.get("SECRET_KEY", ""),
        database_url=env.get("DATABASE_URL", "").strip() or default_db,
        token_encryption_keys=keys,
        environments=_environments(env, app_env),
        debug=_bool(env.get("DEBUG")),
        proxy_fix_x_for=_int(env, "PROXY_FIX_X_FOR", 0, problems),
        proxy_fix_x_proto=_int(env, "PROXY_FIX_X_PROTO", 0, problems),
        session_cookie_secure=_bool(
            env.get("SESSION_COOKIE_SECURE"), default=app_env == "production"
        ),
        session_idle_minutes=idle_minutes,
        session_max_hours=max_hours,
        log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
        log_format=log_format,  # type: ignore[arg-type]
        factorial_connect_timeout=_float(env, "FACTORIAL_CONNECT_TIMEOUT", 3.05, problems),
        factorial_read_timeout=_float(env, "FACTORIAL_READ_TIMEOUT", 10.0, problems),
        refresh_margin=_int(env, "REFRESH_MARGIN", 600, problems),
        keepalive_after=_int(env, "KEEPALIVE_AFTER", 86400, problems),
        health_check_every=_int(env, "HEALTH_CHECK_EVERY", 86400, problems),
        sweep_interval=_int(env, "SWEEP_INTERVAL", 60, problems),
        vend_cache_seconds=_int(env, "VEND_CACHE_SECONDS", 2, problems),
        scheduler=scheduler,  # type: ignore[arg-type]
        notify_webhook_url=env.get("NOTIFY_WEBHOOK_URL", "").strip(),
        notify_webhook_secret=env.get("NOTIFY_WEBHOOK_SECRET", ""),
        ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://",
        metrics_token=env.get("METRICS_TOKEN", ""),
        oidc=oidc,
        password_login=password_login(env, oidc, problems),
        warnings=tuple(warnings),
    )
    if app_env == "production":
        problems.extend(production_problems(settings))
    elif not keys or not all(valid_fernet_key(k) for k in keys):
        problems.append("TOKEN_ENCRYPTION_KEYS must hold valid Fernet keys")
    if problems:
        raise SettingsError(problems)
    return settings
