"""Who may enter through the identity provider, and as what; accounts follow its answer.

An admitted person's account is found by (issuer, subject), else taken over by its verified
email (never a break-glass account), else created; its email and (with a groups claim) its
role follow the provider at every sign-in. A refused answer about a known account deactivates
it and ends its sessions at once: someone removed from the group loses access like a
deactivated account. An admitted sign-in reactivates only an account the provider's refusal
deactivated; one an admin deactivated stays out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.identity import IdTokenClaims
from app.identity.config import OidcSettings
from app.models import Admin
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.people import sign_in_sessions

ROLE_BY_IDP = Actor(kind="system", label="identity provider")


class AccessRefused(Exception):
    """The provider vouched for this person, but the access rules do not admit them."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Decision:
    role: str | None  # None: keep the account's role (no groups claim configured)
    email: str


def decide(claims: IdTokenClaims, rules: OidcSettings) -> Decision:
    """The role this person gets, or AccessRefused with the first rule that keeps them out."""
    email = claims.email
    if not email or "@" not in email or len(email) > 254:
        raise AccessRefused("no_email", "The identity provider did not share your email address.")
    if not claims.email_verified:
        raise AccessRefused(
            "email_unverified",
            "Your email address is not verified at the identity provider, so it cannot sign in.",
        )
    domain = email.rsplit("@", 1)[1]
    if rules.allowed_domains and domain not in rules.allowed_domains:
        raise AccessRefused("domain_not_allowed", f"Accounts at {domain} cannot sign in here.")
    if not rules.groups_claim:
        return Decision(None, email)
    groups = claims.groups(rules.groups_claim)
    if groups & set(rules.admin_groups):
        return Decision("admin", email)
    if groups & set(rules.viewer_groups):
        return Decision("viewer", email)
    raise AccessRefused(
        "not_in_group", "You are not in a group allowed to use this app; ask an administrator."
    )


def find_account(session: DbSession, claims: IdTokenClaims) -> Admin | None:
    """The account linked to this provider identity, if any."""
    query = select(Admin).where(
        Admin.idp_issuer == claims.issuer, Admin.idp_subject == claims.subject
    )
    account: Admin | None = session.scalar(query)
    return account


def refuse(
    session: DbSession,
    claims: IdTokenClaims,
    error: AccessRefused,
    *,
    now: datetime,
    ip: str,
    deactivate: bool = True,
) -> None:
    """Record the refusal; when the access rules refused (`deactivate`), a linked account that
    was active is deactivated and its sessions ended. Commits."""
    account = find_account(session, claims)
    details = {"reason": error.reason, "subject": claims.subject[:100], "ip": ip}
    if deactivate and account is not None and account.active:
        account.active = False
        account.idp_refused_at = now
        ended = sign_in_sessions.end_all(session, account.id, now=now, reason="idp_refused")
        audit.record(
            session,
            "admin.deactivated",
            now=now,
            actor=ROLE_BY_IDP,
            target=account,
            message="the identity provider no longer admits this account",
            details={**details, "sessions_ended": ended},
        )
    audit.record(
        session,
        "auth.oidc_refused",
        now=now,
        actor=Actor(kind="anonymous", label=(claims.email or claims.subject)[:100]),
        target=account,
        outcome="failed",
        message=error.message,
        details=details,
    )
    session.commit()


def admit(session: DbSession, claims: IdTokenClaims, decision: Decision, *, now: datetime) -> Admin:
    """The account this admitted person signs in as, created or updated (not committed)."""
    account = find_account(session, claims)
    if account is None:
        account = _take_over_or_create(session, claims, decision, now)
    if not account.active:
        if account.idp_refused_at is None:
            raise AccessRefused("deactivated", "This account was deactivated by an administrator.")
        account.active = True
        account.idp_refused_at = None
        audit.record(session, "admin.activated", now=now, actor=ROLE_BY_IDP, target=account)
    if account.email != decision.email:
        _change_email(session, account, decision.email, now)
    if decision.role is not None and account.role != decision.role:
        audit.record(
            session,
            "admin.role_changed",
            now=now,
            actor=ROLE_BY_IDP,
            target=account,
            details={"from": account.role, "to": decision.role},
        )
        account.role = decision.role
    return account


def _take_over_or_create(
    session: DbSession, claims: IdTokenClaims, decision: Decision, now: datetime
) -> Admin:
    existing: Admin | None = session.scalar(select(Admin).where(Admin.email == decision.email))
    if existing is not None and (existing.break_glass or existing.idp_subject):
        raise AccessRefused(
            "email_taken",
            "An account with this email exists that cannot sign in through the identity "
            "provider (a break-glass account, or one linked to another identity).",
        )
    if existing is not None:
        existing.origin, existing.password_hash = "oidc", ""
        existing.idp_issuer, existing.idp_subject = claims.issuer, claims.subject
        audit.record(session, "admin.linked", now=now, actor=ROLE_BY_IDP, target=existing)
        return existing
    account = Admin(
        email=decision.email,
        password_hash="",
        role=decision.role or "viewer",
        origin="oidc",
        idp_issuer=claims.issuer,
        idp_subject=claims.subject,
        created_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        "admin.created",
        now=now,
        actor=ROLE_BY_IDP,
        target=account,
        details={"role": account.role, "origin": "oidc"},
    )
    return account


def _change_email(session: DbSession, account: Admin, email: str, now: datetime) -> None:
    if session.scalar(select(Admin.id).where(Admin.email == email)) is not None:
        raise AccessRefused("email_taken", "Another account already uses your new email address.")
    audit.record(
        session,
        "admin.email_changed",
        now=now,
        actor=ROLE_BY_IDP,
        target=account,
        details={"from": account.email, "to": email},
    )
    account.email = email
