"""Access to the current app's sandbox state and its per-request database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from sandbox.store import Sandbox


def current() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["sandbox"]
    return sandbox


def db() -> Session:
    """The request's session; only exists while the request holds the sandbox lock."""
    session: Session | None = g.get("sandbox_db")
    if session is None:
        raise RuntimeError("sandbox database used outside a locked request")
    return session


def open_db() -> None:
    """Take the process-wide lock and start this request's session."""
    sandbox = current()
    sandbox.lock.acquire()
    g.sandbox_db = sandbox.sessions()


def close_db(commit: bool) -> None:
    """Commit (or roll back) and release the lock; safe to call twice."""
    session: Session | None = g.pop("sandbox_db", None)
    if session is None:
        return
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
        current().lock.release()
