"""People who sign in to this app (admins change things, viewers read), and their sign-in
sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")


class Admin(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="admin")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the token of the sign-in session this object was
        loaded for (`SignInSession`), set by the web layer. Never the account id: a cookie must
        name a session the server can end."""
        token: str | None = self.__dict__.get("sign_in_token")
        if token is None:
            raise LookupError("this account object was not loaded for a sign-in session")
        return token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<Admin {self.id} {self.role}>"


class SignInSession(db.Model):  # type: ignore[name-defined]
    """One signed-in browser. The cookie holds a random token; only its sha256 is stored. It
    ends at sign-out, password change or deactivation (`ended_at`, `end_reason`), or when idle
    or old beyond the configured lifetimes (ended when next presented)."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    # How the account proved itself: "password" (an identity provider's name, later).
    method: Mapped[str] = mapped_column(String(32))
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str] = mapped_column(String(32), default="")

    def __repr__(self) -> str:
        return f"<SignInSession {self.id} admin={self.admin_id}>"
