"""Factorial API keys: total access, never expire, so stored encrypted and verified daily."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.crypto import EncryptedText, Secret
from app.infra.extensions import db
from app.models.types import UTCDateTime, utcnow

VERIFY_RESULTS = ("ok", "rejected", "error")


class ApiKey(db.Model):  # type: ignore[name-defined]
    """One stored key; `key_digest` (sha256 hex) finds duplicates without decrypting anything."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("environment", "key_digest", name="uq_api_key_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(120), default="")
    key: Mapped[Secret] = mapped_column(EncryptedText())
    fingerprint: Mapped[str] = mapped_column(String(16), default="")
    key_digest: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[str] = mapped_column(String(64), index=True)
    company_name: Mapped[str] = mapped_column(String(255), default="")
    credential_id: Mapped[str] = mapped_column(String(128), default="")
    remote_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_verified_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    # "" until the first verification, then one of VERIFY_RESULTS.
    last_verified_result: Mapped[str] = mapped_column(String(16), default="")
    last_error: Mapped[str] = mapped_column(String(500), default="")
    rejected_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A rotation whose old key could not be deleted in Factorial: the key that replaces this one.
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )

    @property
    def created_here(self) -> bool:
        """Created through Factorial's keys API by this app, so it can be deleted there too."""
        return bool(self.remote_key_id)

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.environment} company={self.company_id} {self.fingerprint}>"
