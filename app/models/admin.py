"""People who sign in to this app (admins change things, viewers read), and their sign-in
sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.crypto import EncryptedText, Secret
from app.infra.extensions import db
from app.models.types import UTCDateTime, utcnow

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")


ORIGINS = ("local", "oidc")


class Admin(UserMixin, db.Model):  # type: ignore[name-defined]
    """An account. `origin` "local" was made here with a password; "oidc" was made or taken
    over by the identity provider (`idp_issuer`, `idp_subject`) and has no password.
    `break_glass` accounts (made by `flask create-admin --break-glass`) keep a password that
    works even with PASSWORD_LOGIN=off. `idp_refused_at` marks an account deactivated because
    the identity provider's answer no longer admits it (a later admitted sign-in reactivates
    it; a deactivation by an admin stays)."""

    __tablename__ = "admins"
    __table_args__ = (UniqueConstraint("idp_issuer", "idp_subject", name="uq_admin_idp_identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="admin")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_method: Mapped[str] = mapped_column(String(32), default="")
    origin: Mapped[str] = mapped_column(String(16), default="local")
    idp_issuer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    idp_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    idp_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
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
    def has_password(self) -> bool:
        """False for an account the identity provider signs in: its password lives there."""
        return bool(self.password_hash)

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


class PendingSignIn(db.Model):  # type: ignore[name-defined]
    """One started sign-in at the identity provider: single use, 10 minutes, keyed by a hash of
    `state` and bound to the browser that started it (a hash of a random value kept in its
    cookie session). The nonce is stored hashed; the PKCE verifier encrypted."""

    __tablename__ = "pending_sign_ins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce_hash: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[Secret] = mapped_column(EncryptedText())
    next_path: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
