"""The only place that encrypts or decrypts secrets at rest (MultiFernet: first key encrypts)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Engine, Text
from sqlalchemy.types import TypeDecorator

DECRYPT_CACHE_SIZE = 4096


class Undecryptable(Exception):
    """A stored secret cannot be decrypted: tampered, or encrypted with a key we no longer hold."""


class Secret:
    """A string that never shows itself when printed, logged or rendered."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plaintext; call it only at the point of use (an HTTP header, a form body)."""
        return self._value

    @property
    def readable(self) -> bool:
        return True

    @property
    def fingerprint(self) -> str:
        """The last four characters, the most a page may show."""
        return "…" + self._value[-4:] if len(self._value) >= 8 else "…"

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.readable and other.reveal() == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class UndecryptableSecret(Secret):
    """What a tampered or foreign ciphertext loads as: a state to show, not a crash."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("")

    def reveal(self) -> str:
        raise Undecryptable("stored secret cannot be decrypted with the configured keys")

    @property
    def readable(self) -> bool:
        return False

    @property
    def fingerprint(self) -> str:
        return "undecryptable"

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)


class KeyRing:
    """MultiFernet over the configured keys: the first encrypts, every key decrypts."""

    def __init__(self, keys: Iterable[str]) -> None:
        key_list = [k for k in keys if k]
        if not key_list:
            raise ValueError("at least one encryption key is required")
        self._primary = Fernet(key_list[0].encode())
        self._multi = MultiFernet([Fernet(k.encode()) for k in key_list])
        # Hot paths (vending a token) read the same ciphertext over and over; checking its MAC
        # and decrypting it again each time was a tenth of the token endpoint's CPU. The keys
        # that open these ciphertexts live in the same memory, so remembering recent plaintexts
        # exposes nothing new. Failures are not remembered: they raise.
        self._decrypt = functools.lru_cache(maxsize=DECRYPT_CACHE_SIZE)(self._decrypt_uncached)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        return self._decrypt(ciphertext)

    def _decrypt_uncached(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode()).decode()
        except (InvalidToken, ValueError, UnicodeError) as exc:
            raise Undecryptable(
                "stored secret cannot be decrypted with the configured keys"
            ) from exc

    def is_current(self, ciphertext: str) -> bool:
        """True when the primary key already decrypts it (rotation has nothing to do)."""
        try:
            self._primary.decrypt(ciphertext.encode())
        except (InvalidToken, ValueError):
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the primary key; raise Undecryptable if no key opens it."""
        try:
            return self._multi.rotate(ciphertext.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise Undecryptable(
                "stored secret cannot be decrypted with the configured keys"
            ) from exc


_rings: weakref.WeakKeyDictionary[Dialect, KeyRing] = weakref.WeakKeyDictionary()


def bind_keyring(engine: Engine, ring: KeyRing | None) -> None:
    """Make `engine`'s EncryptedText columns seal and open with `ring` (None: with nothing).

    The ring belongs to the engine (its dialect, which SQLAlchemy hands to column types), so
    two apps in one process never share one, and it goes away with the engine."""
    if ring is None:
        _rings.pop(engine.dialect, None)
    else:
        _rings[engine.dialect] = ring


def keyring_for(engine: Engine | Dialect) -> KeyRing:
    """The ring bound to the engine (or its dialect); RuntimeError when none is."""
    dialect = engine.dialect if isinstance(engine, Engine) else engine
    ring = _rings.get(dialect)
    if ring is None:
        raise RuntimeError("no encryption keys are bound to this database engine")
    return ring


def generate_key() -> str:
    return Fernet.generate_key().decode()


class EncryptedText(TypeDecorator[Secret]):
    """A column holding a Secret, stored as Fernet ciphertext under the ring bound to the
    engine that reads or writes it (`bind_keyring`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, UndecryptableSecret):
            raise Undecryptable("refusing to store an undecryptable secret")
        plaintext = value.reveal() if isinstance(value, Secret) else str(value)
        return keyring_for(dialect).encrypt(plaintext)

    def process_result_value(self, value: Any, dialect: Dialect) -> Secret | None:
        if value is None:
            return None
        try:
            return Secret(keyring_for(dialect).decrypt(str(value)))
        except Undecryptable:
            return UndecryptableSecret()
