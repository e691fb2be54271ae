"""Service clients: the company's other systems, which ask this app for tokens instead of
keeping copies. Their secret is stored as a sha256 digest only; grants name what they may use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.infra.crypto import EncryptedText, Secret
from app.infra.extensions import db
from app.models.types import UTCDateTime, utcnow

SCOPES = ("token:read", "proxy")


class ServiceClient(db.Model):  # type: ignore[name-defined]
    """One calling system. `secret_digest` is sha256 of the secret's random part."""

    __tablename__ = "service_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    secret_digest: Mapped[str] = mapped_column(String(64))
    # Space-separated subset of SCOPES.
    scopes: Mapped[str] = mapped_column(String(64), default="")
    all_credentials: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    grants: Mapped[list[ServiceClientGrant]] = relationship(
        back_populates="client", cascade="all, delete-orphan"
    )

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def label(self) -> str:
        """How the audit log names it (no secret, only the public id)."""
        return f"service {self.name} (#{self.id})"

    def __repr__(self) -> str:
        return f"<ServiceClient {self.id} {self.name!r} {self.scopes}>"


class ServiceClientGrant(db.Model):  # type: ignore[name-defined]
    """One connection or API key a client may use; deleting the credential deletes the grant,
    so a reused id can never hand a new credential to an old client."""

    __tablename__ = "service_client_grants"
    __table_args__ = (
        CheckConstraint(
            "(connection_id IS NULL) <> (api_key_id IS NULL)", name="ck_grant_one_credential"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("service_clients.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), nullable=True, index=True
    )
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=True, index=True
    )
    client: Mapped[ServiceClient] = relationship(back_populates="grants")


class ServiceClientCreation(db.Model):  # type: ignore[name-defined]
    """One new-client form that created a client, keyed by the sha256 of the form's random id:
    the same form submitted again finds it and creates nothing. It holds the new secret,
    encrypted, only until the page after the form has shown it once (or a few minutes pass)."""

    __tablename__ = "service_client_creations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("service_clients.id", ondelete="CASCADE"), index=True
    )
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    secret: Mapped[Secret | None] = mapped_column(EncryptedText(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    client: Mapped[ServiceClient] = relationship()
