"""Sign-in sessions: the server-side record behind every signed-in browser.

The cookie carries only a random token (256 bits); the table keeps its sha256 (a fast hash is
right for a random value), the account, how and when the session began, when it was last seen,
and when and why it ended. A session ends at sign-out, when its account's password changes or
the account is deactivated, after `idle` without a request, and `absolute` after it began,
whichever comes first. Every way of signing in (a password today, an identity provider later)
starts one with `start` once the account has proved who it is.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.models import Admin, SignInSession
from app.services import DbSession, audit

TOKEN_LIMIT = 128
USER_AGENT_LIMIT = 255
# Ended sessions are kept this long past their longest possible life, then deleted when their
# account next signs in: long enough to show an account's recent sessions.
RETAIN = timedelta(days=30)


@dataclass(frozen=True)
class Lifetimes:
    """How long a session may go without a request (`idle`) and live at all (`absolute`)."""

    idle: timedelta
    absolute: timedelta

    @property
    def touch_every(self) -> timedelta:
        """How stale `last_seen_at` may get before a request records it: at most once a minute
        per session, and often enough that the idle limit holds within a quarter of itself."""
        return min(timedelta(minutes=1), self.idle / 4)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def start(
    session: DbSession,
    admin: Admin,
    *,
    method: str,
    now: datetime,
    lifetimes: Lifetimes,
    ip_address: str = "",
    user_agent: str = "",
) -> str:
    """Begin a session for an account that has just proved who it is and commit; returns the
    token for the cookie (it exists nowhere else)."""
    horizon = now - lifetimes.absolute - RETAIN
    session.execute(
        delete(SignInSession).where(
            SignInSession.admin_id == admin.id, SignInSession.created_at < horizon
        )
    )
    token = _new_token()
    session.add(
        SignInSession(
            token_digest=digest(token),
            admin_id=admin.id,
            method=method,
            ip_address=ip_address[:45],
            user_agent=user_agent[:USER_AGENT_LIMIT],
            created_at=now,
            last_seen_at=now,
        )
    )
    admin.last_login_at = now
    admin.last_login_method = method
    session.commit()
    return token


def find(session: DbSession, token: str) -> SignInSession | None:
    """The open session this token names, if any (expiry is `resolve`'s business)."""
    if not token or len(token) > TOKEN_LIMIT:
        return None
    query = select(SignInSession).where(
        SignInSession.token_digest == digest(token), SignInSession.ended_at.is_(None)
    )
    record: SignInSession | None = session.scalar(query)
    return record


def resolve(session: DbSession, token: str, *, now: datetime, lifetimes: Lifetimes) -> Admin | None:
    """The active account this token signs in, or None: unknown, ended or expired session, or
    deactivated account. An expiry found here ends the session, audited. Use is recorded (and
    committed) at most every `touch_every`."""
    if not token or len(token) > TOKEN_LIMIT:
        return None
    found = session.execute(
        select(SignInSession, Admin)
        .join(Admin, Admin.id == SignInSession.admin_id)
        .where(SignInSession.token_digest == digest(token), SignInSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    record, admin = found
    if not admin.active:
        return None
    reason = _expired(record, now, lifetimes)
    if reason:
        if _end(session, record.id, now, reason):
            audit.record(
                session,
                "auth.session_expired",
                now=now,
                target=admin,
                message=_EXPIRY_MESSAGES[reason],
                details={"session": record.id, "reason": reason},
            )
        session.commit()
        return None
    if now - record.last_seen_at >= lifetimes.touch_every:
        record.last_seen_at = now
        session.commit()
    return admin


_EXPIRY_MESSAGES = {
    "idle": "session ended: no request within the idle limit",
    "lifetime": "session ended: older than the maximum session lifetime",
}


def _expired(record: SignInSession, now: datetime, lifetimes: Lifetimes) -> str:
    """Why the session has expired ("lifetime" first), or "" while it is alive."""
    if now - record.created_at >= lifetimes.absolute:
        return "lifetime"
    if now - record.last_seen_at >= lifetimes.idle:
        return "idle"
    return ""


def _end(session: DbSession, record_id: int, now: datetime, reason: str) -> bool:
    """End one session unless something else ended it first (compare-and-set): True if this
    call did, so concurrent requests audit an ending once."""
    result = session.execute(
        update(SignInSession)
        .where(SignInSession.id == record_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def sign_out(session: DbSession, token: str, *, now: datetime, ip_address: str = "") -> bool:
    """End the session this token names at its owner's request, audited, and commit; False
    when it was unknown or had already ended (nothing to record)."""
    record = find(session, token)
    if record is None or not _end(session, record.id, now, "signed_out"):
        session.rollback()
        return False
    admin = session.get(Admin, record.admin_id)
    audit.record(
        session,
        "auth.logout",
        now=now,
        actor=audit.Actor.admin(record.admin_id, admin.email if admin else ""),
        message="signed out",
        details={"ip": ip_address, "session": record.id},
    )
    session.commit()
    return True


def end_all(
    session: DbSession, admin_id: int, *, now: datetime, reason: str, keep: int | None = None
) -> int:
    """End every open session of an account except `keep` (not committed); how many ended."""
    query = update(SignInSession).where(
        SignInSession.admin_id == admin_id, SignInSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(SignInSession.id != keep)
    result = session.execute(
        query.values(ended_at=now, end_reason=reason).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def rotate(session: DbSession, record: SignInSession, *, now: datetime) -> str:
    """Give an open session a new token (not committed): the old cookie value stops working,
    the session itself (its age included) continues."""
    token = _new_token()
    record.token_digest = digest(token)
    record.last_seen_at = now
    return token
