"""Connected Factorial accounts and the authorizations still waiting for Factorial's answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.crypto import EncryptedText, Secret
from app.infra.extensions import db
from app.models.types import UTCDateTime, utcnow

KINDS = ("company", "user")


class PendingAuthorization(db.Model):  # type: ignore[name-defined]
    """One started Connect: single use, 10 minutes, bound to the admin who started it."""

    __tablename__ = "pending_authorizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    environment: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL"), nullable=True
    )
    code_verifier: Mapped[Secret | None] = mapped_column(EncryptedText(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Connection(db.Model):  # type: ignore[name-defined]
    """One connected account: unique per (environment, company, kind, employee)."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint(
            "environment", "company_id", "kind", "employee_id", name="uq_connection_account"
        ),
        # The dashboard's order: pages are read in index order, never sorted in full.
        Index("ix_connections_listing", "company_name", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    company_id: Mapped[str] = mapped_column(String(64))
    company_name: Mapped[str] = mapped_column(String(255), default="")
    employee_id: Mapped[str] = mapped_column(String(64), default="")
    employee_name: Mapped[str] = mapped_column(String(255), default="")
    employee_email: Mapped[str] = mapped_column(String(254), default="")
    credential_id: Mapped[str] = mapped_column(String(128), default="")
    access_token: Mapped[Secret | None] = mapped_column(EncryptedText(), nullable=True)
    refresh_token: Mapped[Secret | None] = mapped_column(EncryptedText(), nullable=True)
    token_fingerprint: Mapped[str] = mapped_column(String(16), default="")
    token_type: Mapped[str] = mapped_column(String(32), default="Bearer")
    scopes: Mapped[str] = mapped_column(String(500), default="")
    obtained_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    refresh_token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    connected_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Single-flight refresh: the lease is taken by compare-and-set; the attempt survives a crash.
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempt_id: Mapped[str] = mapped_column(String(64), default="")
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempt_fingerprint: Mapped[str] = mapped_column(String(16), default="")
    outcome_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Failure states, as facts: why it needs a reconnect, and revocation progress.
    needs_reconnect_cause: Mapped[str] = mapped_column(String(32), default="")
    needs_reconnect_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoke_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delete_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    last_health_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def owner_label(self) -> str:
        """Who the token acts as: the employee for user tokens, the company otherwise."""
        if self.kind == "user":
            return self.employee_name or self.employee_email or f"Employee {self.employee_id}"
        return self.company_name or f"Company {self.company_id}"

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.environment}/{self.kind} company={self.company_id}>"
