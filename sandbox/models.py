"""The sandbox's own tables (plain SQLAlchemy, independent of the product's models).

A `Grant` is one consent (one company + employee + client + kind); every token pair issued
from it, through any number of refresh rotations, points back at it, so killing a grant kills
every token it produced — as an admin revoking an app in Factorial would.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    legal_name: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(10))
    logo: Mapped[str | None] = mapped_column(String(200))
    subscription_plan: Mapped[str] = mapped_column(String(40))


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(120))
    is_admin: Mapped[bool] = mapped_column(default=False)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def role(self) -> str:
        return "admin" if self.is_admin else "basic"


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[str] = mapped_column(String(80))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(200))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    kind: Mapped[str] = mapped_column(String(20))
    code_challenge: Mapped[str | None] = mapped_column(String(200))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    issued_at: Mapped[int]
    used: Mapped[bool] = mapped_column(default=False)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class Grant(Base):
    __tablename__ = "grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    kind: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int]
    revoked_at: Mapped[int | None]


class Token(Base):
    """One issued pair. `spent_at` is set when its refresh token was exchanged (rotation)."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(80))
    access_token: Mapped[str] = mapped_column(String(120), unique=True)
    refresh_token: Mapped[str | None] = mapped_column(String(120), unique=True)
    scope: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[int]
    expires_in: Mapped[int | None]
    refresh_expires_at: Mapped[int | None]
    access_revoked: Mapped[bool] = mapped_column(default=False)
    spent_at: Mapped[int | None]

    def check_client(self, client: object) -> bool:
        return getattr(client, "client_id", None) == self.client_id

    def get_scope(self) -> str:
        return self.scope


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(120))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int]


class SandboxState(Base):
    """The one row a restart needs besides the tables: what lives outside them while running.

    `schema` fingerprints the tables it was written with; a file whose fingerprint differs is
    from another sandbox version and is started fresh. `seeded_keys` is JSON holding the seeded
    API keys' text, because `GET /_sandbox/seed` shows them (a local fake's demo keys).
    """

    __tablename__ = "sandbox_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    schema: Mapped[str] = mapped_column(String(64))
    clock_offset: Mapped[float]
    seeded_keys: Mapped[str] = mapped_column(Text)
    seeded_at: Mapped[int]


class IdpKey(Base):
    """The identity provider's RSA signing key (PEM), kept so a restart on a file still
    validates the ID tokens it signed before."""

    __tablename__ = "idp_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    pem: Mapped[str] = mapped_column(Text)
