"""Settings read from the environment (plus an optional `.env`): each value parsed by its one
rule here, what demo and test generate filled in, and what cannot run refused (`refusals`)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

from cryptography.fernet import Fernet
from dotenv import load_dotenv

from app.identity.config import oidc_demo_defaults, oidc_from_env, password_login
from app.infra.settings import (
    APP_ENVS,
    DEFAULT_API_VERSION,
    DEMO_REDIRECT_URI,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_URL,
    AppEnv,
    FactorialEnvironment,
    LogFormat,
    Scheduler,
    Settings,
    SettingsError,
)
from app.infra.settings.refusals import refusals

DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}


@dataclass(frozen=True)
class Number:
    """How a numeric setting is written: whole or not, in which unit, within which bounds
    (outside them it is refused and the default kept), and whether it may be negative."""

    whole: bool = True
    unit: str = "seconds"
    bounds: tuple[int, int] | None = None
    signed: bool = False


WHOLE_SECONDS = Number()
SECONDS = Number(whole=False, signed=True)
# Settings fields read as numbers, from the upper-cased name (`refresh_margin`: REFRESH_MARGIN).
NUMBERS: dict[str, Number] = {
    "session_idle_minutes": Number(unit="minutes", bounds=(5, 527_040)),
    "session_max_hours": Number(unit="hours", bounds=(1, 8784)),
    "proxy_fix_x_for": WHOLE_SECONDS,
    "proxy_fix_x_proto": WHOLE_SECONDS,
    "factorial_connect_timeout": SECONDS,
    "factorial_read_timeout": SECONDS,
    "refresh_margin": WHOLE_SECONDS,
    "keepalive_after": WHOLE_SECONDS,
    "health_check_every": WHOLE_SECONDS,
    "sweep_interval": WHOLE_SECONDS,
    "vend_cache_seconds": WHOLE_SECONDS,
}
CHOICES: dict[str, tuple[str, ...]] = {
    "log_format": get_args(LogFormat),
    "scheduler": get_args(Scheduler),
}


def load_settings(
    environ: Mapping[str, str] | None = None,
    instance_path: Path | str = "instance",
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Read settings; raise SettingsError listing every problem that prevents a safe start."""
    env = _gathered(environ, overrides)
    app_env = _app_env(env)
    instance = Path(instance_path)
    warnings = _fill_generated(env, app_env, instance)
    problems: list[str] = []
    values: dict[str, Any] = {name: _choice(env, name, problems) for name in CHOICES}
    values.update({name: _number(env, name, rule, problems) for name, rule in NUMBERS.items()})
    problems.extend(_lifetime_problems(values["session_idle_minutes"], values["session_max_hours"]))
    oidc = oidc_from_env(env, app_env == "production", problems)
    settings = Settings(
        app_env=app_env,
        secret_key=env.get("SECRET_KEY", ""),
        database_url=env.get("DATABASE_URL", "").strip() or _default_database(instance),
        token_encryption_keys=tuple(
            k.strip() for k in env.get("TOKEN_ENCRYPTION_KEYS", "").split(",") if k.strip()
        ),
        environments=_environments(env, app_env),
        debug=_bool(env.get("DEBUG")),
        session_cookie_secure=_bool(env.get("SESSION_COOKIE_SECURE"), app_env == "production"),
        log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
        notify_webhook_url=env.get("NOTIFY_WEBHOOK_URL", "").strip(),
        notify_webhook_secret=env.get("NOTIFY_WEBHOOK_SECRET", ""),
        ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://",
        metrics_token=env.get("METRICS_TOKEN", ""),
        oidc=oidc,
        password_login=password_login(env, oidc, problems),
        warnings=tuple(warnings),
        **values,
    )
    problems.extend(refusals(settings))
    if problems:
        raise SettingsError(problems)
    return settings


def _gathered(
    environ: Mapping[str, str] | None, overrides: Mapping[str, object] | None
) -> dict[str, str]:
    """The process environment (after `.env`) or `environ`, then the upper-case overrides."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env", override=False)
    env = dict(os.environ if environ is None else environ)
    env.update({key: str(value) for key, value in (overrides or {}).items() if key.isupper()})
    return env


def _app_env(env: Mapping[str, str]) -> AppEnv:
    raw = env.get("APP_ENV", "production").strip() or "production"
    for app_env in APP_ENVS:
        if raw == app_env:
            return app_env
    raise SettingsError([f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {raw!r}"])


def _fill_generated(env: dict[str, str], app_env: AppEnv, instance: Path) -> list[str]:
    """Fill in what demo and test make up for themselves; the warnings to log about it."""
    if app_env == "demo":
        generated = _demo_secrets(instance)
        for key in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"):
            if not env.get(key):
                env[key] = generated[key]
        oidc_demo_defaults(env, env.get("FACTORIAL_DEMO_BASE_URL", "").strip() or SANDBOX_URL)
        return ["APP_ENV=demo: generated secrets, local sandbox, not for real data"]
    if app_env == "test":  # never a known key: a new one per process unless one is given
        env["SECRET_KEY"] = env.get("SECRET_KEY") or secrets.token_urlsafe(48)
        env.setdefault("TOKEN_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    return []


def _default_database(instance: Path) -> str:
    return f"sqlite:///{(instance / 'factorial-connect.sqlite3').resolve()}"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, rule: Number, problems: list[str]) -> Any:
    """The field `name` as `rule` reads it; its default when unset or refused."""
    key, default = name.upper(), DEFAULTS[name]
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if rule.whole else float(raw)
    except ValueError:
        kind = "a whole number" if rule.whole else "a number"
        problems.append(f"{key} must be {kind} of {rule.unit}, got {raw!r}")
        return default
    if rule.bounds is not None and not rule.bounds[0] <= value <= rule.bounds[1]:
        lowest, highest = rule.bounds
        problems.append(f"{key} must be from {lowest} to {highest} {rule.unit}, got {value}")
        return default
    if value < 0 and not rule.signed:
        problems.append(f"{key} must not be negative")
    return value


def _choice(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    """The field `name`, one of CHOICES[name] (any case); its default when refused."""
    key, allowed, default = name.upper(), CHOICES[name], DEFAULTS[name]
    value = env.get(key, str(default)).strip().lower()
    if value not in allowed:
        problems.append(f"{key} must be {' or '.join(allowed)}, got {value!r}")
        return str(default)
    return value


def _lifetime_problems(idle_minutes: int, max_hours: int) -> list[str]:
    """A sign-in session's idle limit must fit in its absolute one."""
    if idle_minutes <= max_hours * 60:
        return []
    return [
        f"SESSION_IDLE_MINUTES ({idle_minutes}) must not exceed SESSION_MAX_HOURS "
        f"({max_hours} h = {max_hours * 60} minutes)"
    ]


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
