"""Admin accounts: create, authenticate, change password or role, deactivate. Callers pass the
session."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select

from app.models import ROLES, Admin, utcnow
from app.services import DbSession, audit
from app.services.audit import SYSTEM, Actor
from app.services.people import passwords, sign_in_sessions

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


class AdminError(ValueError):
    """A request about admin accounts that cannot be carried out; the message is safe to show."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


MANAGED_BY_IDENTITY_PROVIDER = (
    "You sign in through your identity provider: your password is changed there, not here."
)


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not EMAIL_RE.match(cleaned):
        raise AdminError("Enter a valid email address.")
    return cleaned


def create_admin(
    session: DbSession,
    email: str,
    password: str,
    role: str = "admin",
    actor: Actor = SYSTEM,
    now: datetime | None = None,
    *,
    break_glass: bool = False,
) -> Admin:
    """Create and commit an account; AdminError for a bad email, password, role or a duplicate.
    A `break_glass` account may sign in with its password even with PASSWORD_LOGIN=off."""
    address = normalise_email(email)
    if role not in ROLES:
        raise AdminError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    try:
        passwords.check_policy(password, address)
    except passwords.WeakPassword as exc:
        raise AdminError(str(exc), "password") from exc
    if session.scalar(select(Admin.id).where(Admin.email == address)) is not None:
        raise AdminError("An account with this email already exists.")
    admin = Admin(
        email=address,
        password_hash=passwords.hash_password(password),
        role=role,
        break_glass=break_glass,
    )
    session.add(admin)
    session.flush()
    audit.record(
        session,
        "admin.created",
        now=now or utcnow(),
        actor=actor,
        target=admin,
        details={"role": role, "break_glass": break_glass},
    )
    session.commit()
    return admin


def authenticate(session: DbSession, email: str, password: str) -> Admin | None:
    """The active admin these credentials identify, else None (same cost for unknown emails).
    Signing in is `sign_in_sessions.start`'s business."""
    address = email.strip().lower()
    admin: Admin | None = session.scalar(select(Admin).where(Admin.email == address))
    if admin is None:
        passwords.burn_verification_time(password)
        return None
    if not passwords.verify_password(admin.password_hash, password) or not admin.active:
        return None
    if passwords.needs_rehash(admin.password_hash):
        admin.password_hash = passwords.hash_password(password)
        session.commit()
    return admin


def change_password(
    session: DbSession, admin: Admin, current: str, new: str, *, token: str, now: datetime
) -> str:
    """Set a new password once the current one is proved, under create-admin's policy; every
    other session of the account ends, and the one `token` names continues under the new
    token returned. AdminError (`field` names the form field) changes nothing."""
    if not admin.has_password:
        raise AdminError(MANAGED_BY_IDENTITY_PROVIDER, "password")
    if not passwords.verify_password(admin.password_hash, current):
        raise AdminError("Your current password is not correct.", "current_password")
    try:
        passwords.check_policy(new, admin.email)
    except passwords.WeakPassword as exc:
        raise AdminError(str(exc), "password") from exc
    if passwords.verify_password(admin.password_hash, new):
        raise AdminError("Choose a password different from the current one.", "password")
    record = sign_in_sessions.find(session, token)
    if record is None or record.admin_id != admin.id:
        raise AdminError("Your session has ended; sign in again.", "session")
    admin.password_hash = passwords.hash_password(new)
    new_token = sign_in_sessions.rotate(session, record, now=now)
    ended = sign_in_sessions.end_all(
        session, admin.id, now=now, reason="password_changed", keep=record.id
    )
    audit.record(
        session,
        "admin.password_changed",
        now=now,
        actor=_actor(admin),
        target=admin,
        details={"other_sessions_ended": ended},
    )
    session.commit()
    return new_token


def _active_admins_excluding(session: DbSession, admin: Admin) -> int:
    query = select(func.count(Admin.id)).where(
        Admin.active.is_(True), Admin.role == "admin", Admin.id != admin.id
    )
    return int(session.scalar(query) or 0)


def set_role(session: DbSession, actor: Admin, admin: Admin, role: str) -> None:
    """Change a role; the last active admin cannot demote themselves out of existence."""
    if role not in ROLES:
        raise AdminError(f"Role must be one of: {', '.join(ROLES)}.")
    if admin.role == "admin" and role != "admin" and _active_admins_excluding(session, admin) == 0:
        raise AdminError("At least one active admin must remain.")
    if admin.role != role:
        audit.record(
            session,
            "admin.role_changed",
            now=utcnow(),
            actor=_actor(actor),
            target=admin,
            details={"from": admin.role, "to": role},
        )
    admin.role = role
    session.commit()


def set_active(session: DbSession, actor: Admin, admin: Admin, active: bool) -> None:
    """Activate or deactivate; deactivation ends every session of the account at once."""
    if not active and admin.id == actor.id:
        raise AdminError("You cannot deactivate your own account.")
    if not active and admin.role == "admin" and _active_admins_excluding(session, admin) == 0:
        raise AdminError("At least one active admin must remain.")
    if admin.active != active:
        now = utcnow()
        admin.active = active
        admin.idp_refused_at = None  # an admin's decision: the provider no longer overrides it
        details: dict[str, int] = {}
        if not active:
            ended = sign_in_sessions.end_all(session, admin.id, now=now, reason="deactivated")
            details = {"sessions_ended": ended}
        action = "admin.activated" if active else "admin.deactivated"
        audit.record(session, action, now=now, actor=_actor(actor), target=admin, details=details)
    session.commit()


def _actor(admin: Admin) -> Actor:
    return Actor.admin(admin.id, admin.email)


def list_admins(session: DbSession) -> list[Admin]:
    return list(session.scalars(select(Admin).order_by(Admin.email)))


def count_admins(session: DbSession) -> int:
    return int(session.scalar(select(func.count(Admin.id))) or 0)
