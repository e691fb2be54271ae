"""Password policy and argon2id hashing for admin accounts."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024
_COMMON = Path(__file__).resolve().parents[2] / "data" / "common-passwords.txt"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def use_fast_hashing() -> None:
    """Cheap argon2id parameters, for the test suite only (APP_ENV=test)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class WeakPassword(ValueError):
    """The password fails the policy; the message says why, without echoing it."""


@cache
def _common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_policy(password: str, email: str = "") -> None:
    """Raise WeakPassword unless the password is long, not common and not the email."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) < 4:
        raise WeakPassword("This password is too common; choose another.")
    if email and lowered == email.lower():
        raise WeakPassword("Do not use your email address as the password.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Constant-time check; False on any mismatch or malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


_DUMMY_HASH = _hasher.hash("dummy password for timing equalisation")


def burn_verification_time(password: str) -> None:
    """Spend the time a real verification would, so unknown emails are not revealed by timing."""
    verify_password(_DUMMY_HASH, password)
