"""Re-encrypt every secret at rest under the first configured key (after a key rotation)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Table, Text, select, type_coerce, update

from app.infra.crypto import EncryptedText, KeyRing, Undecryptable
from app.infra.extensions import Base
from app.services import DbSession


@dataclass
class RotationReport:
    """How many stored secrets were re-encrypted, already current, or unreadable."""

    rotated: int = 0
    current: int = 0
    undecryptable: int = 0


def encrypted_columns() -> list[tuple[Table, Column[object]]]:
    """Every (table, column) whose type is EncryptedText, across all models."""
    found: list[tuple[Table, Column[object]]] = []
    for table in Base.metadata.sorted_tables:
        found.extend((table, col) for col in table.columns if isinstance(col.type, EncryptedText))
    return found


def rotate_all(
    session: DbSession,
    ring: KeyRing,
    columns: Iterable[tuple[Table, Column[object]]] | None = None,
) -> RotationReport:
    """Re-encrypt under `ring`'s primary key what it cannot already open; a second run
    rotates nothing."""
    report = RotationReport()
    for table, column in encrypted_columns() if columns is None else columns:
        pk = next(iter(table.primary_key.columns))
        raw = type_coerce(column, Text)
        rows = session.execute(select(pk, raw).where(column.is_not(None))).all()
        for key, ciphertext in rows:
            if ring.is_current(ciphertext):
                report.current += 1
                continue
            try:
                fresh = ring.rotate(ciphertext)
            except Undecryptable:
                report.undecryptable += 1
                continue
            session.execute(
                update(table).where(pk == key).values({column.name: type_coerce(fresh, Text)})
            )
            report.rotated += 1
    session.commit()
    return report
