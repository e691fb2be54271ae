"""What a configuration may not be: one line per reason, in production and elsewhere."""

from __future__ import annotations

from cryptography.fernet import Fernet

from app.infra.settings import FactorialEnvironment, Settings

KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "dev", "secret", "changeme", "change-me", "development", "default", "please-change-me"}
)


def refusals(s: Settings) -> list[str]:
    """Why these settings must not start: production's whole list, elsewhere only unusable
    encryption keys (demo and test generate the rest)."""
    if s.is_production:
        return _production_problems(s)
    keys = s.token_encryption_keys
    if not keys or not all(valid_fernet_key(k) for k in keys):
        return ["TOKEN_ENCRYPTION_KEYS must hold valid Fernet keys"]
    return []


def _production_problems(s: Settings) -> list[str]:
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
        problems.extend(_environment_problems(e))
    return problems


def valid_fernet_key(key: str) -> bool:
    """True when `key` is a urlsafe-base64 32-byte Fernet key."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return False
    return True


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


def _environment_problems(e: FactorialEnvironment) -> list[str]:
    prefix = "FACTORIAL_" if e.name == "production" else "FACTORIAL_DEMO_"
    problems = []
    if not e.base_url.startswith("https://"):
        problems.append(f"{prefix}BASE_URL must be an https:// URL in production")
    if not e.client_secret:
        problems.append(f"{prefix}CLIENT_SECRET is required")
    if not e.redirect_uri.startswith("https://"):
        problems.append(f"{prefix}REDIRECT_URI must be an https:// URL in production")
    return problems
