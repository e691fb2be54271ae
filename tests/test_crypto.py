"""Secrets at rest: MultiFernet encryption, masking, rotation and tampering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.orm import Session

from app.infra import crypto
from app.infra.crypto import EncryptedText, Secret, Undecryptable
from app.services.encryption import rotate_all

OLD, NEW = crypto.generate_key(), crypto.generate_key()
metadata = MetaData()
vault = Table(
    "vault", metadata, Column("id", Integer, primary_key=True), Column("value", EncryptedText())
)


@pytest.fixture
def session() -> Iterator[Session]:
    crypto.configure([OLD])
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
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


def test_a_tampered_copy_of_a_remembered_ciphertext_is_refused() -> None:
    ring = crypto.KeyRing([OLD])
    cipher = ring.encrypt("hello")
    assert ring.decrypt(cipher) == ring.decrypt(cipher) == "hello"
    tampered = cipher[:-6] + ("A" if cipher[-6] != "A" else "B") + cipher[-5:]
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
    crypto.configure([NEW, OLD])
    report = rotate_all(session, [(vault, vault.c.value)])
    crypto.configure([NEW])
    assert report.rotated == 3
    assert [
        session.scalar(select(vault.c.value).where(vault.c.id == i)).reveal() for i in range(3)
    ] == [f"token-{i}-abcdefgh" for i in range(3)]


def test_second_rotation_changes_nothing(session: Session) -> None:
    crypto.configure([NEW, OLD])
    rotate_all(session, [(vault, vault.c.value)])
    before = raw_values(session)
    report = rotate_all(session, [(vault, vault.c.value)])
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
    crypto.configure([NEW, OLD])
    report = rotate_all(session, [(vault, vault.c.value)])
    assert (report.rotated, report.undecryptable) == (2, 1)
