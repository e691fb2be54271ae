"""Secrets at rest: MultiFernet encryption, masking, rotation and tampering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from app.infra import crypto
from app.infra.crypto import EncryptedText, KeyRing, Secret, Undecryptable
from app.services.encryption import rotate_all

OLD, NEW = crypto.generate_key(), crypto.generate_key()
metadata = MetaData()
vault = Table(
    "vault", metadata, Column("id", Integer, primary_key=True), Column("value", EncryptedText())
)


def use_keys(session: Session, *keys: str) -> KeyRing:
    """Bind a ring of `keys` to the session's engine, as create_app binds the app's."""
    ring = KeyRing(keys)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    crypto.bind_keyring(engine, ring)
    return ring


def vault_engine(*keys: str) -> Engine:
    engine = create_engine("sqlite://")
    crypto.bind_keyring(engine, KeyRing(keys))
    metadata.create_all(engine)
    return engine


@pytest.fixture
def session() -> Iterator[Session]:
    engine = vault_engine(OLD)
    with Session(engine) as s:
        s.execute(
            insert(vault), [{"id": i, "value": Secret(f"token-{i}-abcdefgh")} for i in range(3)]
        )
        s.commit()
        yield s


def raw_values(session: Session) -> list[str]:
    return list(session.scalars(text("SELECT value FROM vault ORDER BY id")))


def test_round_trip() -> None:
    ring = crypto.KeyRing([OLD])
    assert ring.decrypt(ring.encrypt("hello")) == "hello"


def test_every_key_decrypts_the_first_encrypts() -> None:
    old_cipher = crypto.KeyRing([OLD]).encrypt("hello")
    assert crypto.KeyRing([NEW, OLD]).decrypt(old_cipher) == "hello"


def test_a_ring_without_the_key_cannot_decrypt_what_another_ring_remembers() -> None:
    """Decryptions are remembered per key ring: dropping a key from the configuration (a new
    ring) must make its ciphertexts unreadable at once."""
    cipher = crypto.KeyRing([OLD]).encrypt("hello")
    assert crypto.KeyRing([NEW, OLD]).decrypt(cipher) == "hello"
    with pytest.raises(Undecryptable):
        crypto.KeyRing([NEW]).decrypt(cipher)


def flipped(char: str) -> str:
    """Another base64 character than this one."""
    return "B" if char == "A" else "A"


def test_a_tampered_copy_of_a_remembered_ciphertext_is_refused() -> None:
    ring = crypto.KeyRing([OLD])
    cipher = ring.encrypt("hello")
    assert ring.decrypt(cipher) == ring.decrypt(cipher) == "hello"
    tampered = cipher[:-6] + flipped(cipher[-6]) + cipher[-5:]
    with pytest.raises(Undecryptable):
        ring.decrypt(tampered)


def test_column_stores_ciphertext_not_plaintext(session: Session) -> None:
    assert all("token-" not in value for value in raw_values(session))


def test_column_loads_a_secret(session: Session) -> None:
    loaded = session.scalar(select(vault.c.value).where(vault.c.id == 1))
    assert loaded is not None and loaded.reveal() == "token-1-abcdefgh"


@pytest.mark.parametrize("render", [repr, str, lambda s: f"{s}", lambda s: f"{s}"])
def test_secret_never_shows_its_value(render: object) -> None:
    assert "abcdefgh" not in render(Secret("token-abcdefgh"))  # type: ignore[operator]


def test_fingerprint_is_last_four() -> None:
    assert Secret("token-abcdefgh").fingerprint == "…efgh"


def test_rotation_reencrypts_with_the_first_key(session: Session) -> None:
    report = rotate_all(session, use_keys(session, NEW, OLD), [(vault, vault.c.value)])
    use_keys(session, NEW)
    assert report.rotated == 3
    assert [
        session.scalar(select(vault.c.value).where(vault.c.id == i)).reveal() for i in range(3)
    ] == [f"token-{i}-abcdefgh" for i in range(3)]


def test_second_rotation_changes_nothing(session: Session) -> None:
    ring = use_keys(session, NEW, OLD)
    rotate_all(session, ring, [(vault, vault.c.value)])
    before = raw_values(session)
    report = rotate_all(session, ring, [(vault, vault.c.value)])
    assert (report.rotated, raw_values(session)) == (0, before)


def test_tampered_ciphertext_loads_as_undecryptable(session: Session) -> None:
    session.execute(text("UPDATE vault SET value = 'gAAAAABtampered' WHERE id = 2"))
    loaded = session.scalar(select(vault.c.value).where(vault.c.id == 2))
    assert loaded is not None and not loaded.readable


def test_undecryptable_secret_refuses_to_reveal(session: Session) -> None:
    session.execute(text("UPDATE vault SET value = 'garbage' WHERE id = 2"))
    loaded = session.scalar(select(vault.c.value).where(vault.c.id == 2))
    with pytest.raises(Undecryptable):
        loaded.reveal()  # type: ignore[union-attr]


def test_rotation_counts_undecryptable_and_keeps_going(session: Session) -> None:
    session.execute(text("UPDATE vault SET value = 'garbage' WHERE id = 0"))
    report = rotate_all(session, use_keys(session, NEW, OLD), [(vault, vault.c.value)])
    assert (report.rotated, report.undecryptable) == (2, 1)


def test_each_engine_seals_with_its_own_ring() -> None:
    """Two apps in one process (two engines) never share keys: each reads what it wrote, and
    neither can open the other's ciphertext."""
    engines = vault_engine(OLD), vault_engine(NEW)
    for number, engine in enumerate(engines):
        with Session(engine) as s:
            s.execute(insert(vault), [{"id": 1, "value": Secret(f"secret-{number}")}])
            s.commit()
    ciphers = [raw_values(Session(engine))[0] for engine in engines]
    with Session(engines[0]) as s:
        s.execute(text("UPDATE vault SET value = :v WHERE id = 1"), {"v": ciphers[1]})
        foreign = s.scalar(select(vault.c.value))
    assert [crypto.keyring_for(e).decrypt(c) for e, c in zip(engines, ciphers, strict=True)] == [
        "secret-0",
        "secret-1",
    ]
    assert foreign is not None and not foreign.readable


def test_an_engine_without_a_ring_refuses_to_encrypt() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as s, pytest.raises(Exception, match="no encryption keys are bound"):
        s.execute(insert(vault), [{"id": 1, "value": Secret("secret")}])
