"""Re-verifying stored API keys: on an admin's demand, and the daily check over all of them.

The change to rejected (and back) is audited and announced once per transition; a check that
changes nothing is audited only when a person asked for it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from app.models import ApiKey
from app.services import DbSession, audit, notify
from app.services.audit import SYSTEM, Actor
from app.services.deps import Deps
from app.services.keys.api_keys import (
    REJECTED_MESSAGE,
    ApiKeyError,
    KeyRejected,
    facts,
    identify,
)

log = logging.getLogger(__name__)


def verify(session: DbSession, key: ApiKey, deps: Deps, *, actor: Actor = SYSTEM) -> str:
    """Re-verify now and record the result (`ok`, `rejected` or `error`); commits."""
    now = deps.clock()
    notifier = deps.notifier
    result, message = _check(deps, key)
    was_rejected = key.rejected_since is not None
    key.last_verified_at, key.last_verified_result, key.last_error = now, result, message
    if result == "rejected" and not was_rejected:
        key.rejected_since = now
        _transition(session, notifier, key, "api_key.rejected", now, actor, message)
    elif result == "ok" and was_rejected:
        key.rejected_since = None
        _transition(session, notifier, key, "api_key.recovered", now, actor, "")
    elif actor.kind != "system":
        outcome = "ok" if result == "ok" else "failed"
        audit.record(
            session, "api_key.verified", now=now, actor=actor, target=key, outcome=outcome,
            message=message, details={"result": result},
        )  # fmt: skip
    session.commit()
    return result


def _check(deps: Deps, key: ApiKey) -> tuple[str, str]:
    if not key.key.readable:
        return "error", "The stored key cannot be decrypted with the configured encryption keys."
    try:
        info = identify(deps, key.environment, key.key.reveal())
    except KeyRejected:
        return "rejected", REJECTED_MESSAGE
    except ApiKeyError as exc:
        return "error", exc.message
    key.company_name = info.company_name or key.company_name
    key.credential_id = info.id[:128]
    return "ok", ""


def _transition(
    session: DbSession,
    notifier: notify.Notifier,
    key: ApiKey,
    event: str,
    now: datetime,
    actor: Actor,
    message: str,
) -> None:
    outcome = "failed" if event == "api_key.rejected" else "ok"
    audit.record(
        session, event, now=now, actor=actor, target=key, outcome=outcome, message=message,
        details=facts(key),
    )  # fmt: skip
    notify.enqueue(
        session,
        notifier,
        event,
        target_type="api_key",
        target_id=key.id,
        payload={"api_key": {"id": key.id, **facts(key)}},
        now=now,
    )
    log.warning("API key %s: %s", key.id, event)


def verify_due(session: DbSession, deps: Deps, every: timedelta) -> int:
    """Verify every key not verified within `every`; returns how many were checked."""
    now = deps.clock()
    due = select(ApiKey.id).where(
        or_(ApiKey.last_verified_at.is_(None), ApiKey.last_verified_at <= now - every)
    )
    ids = list(session.scalars(due.order_by(ApiKey.id)))
    for key_id in ids:
        key = session.get(ApiKey, key_id)
        if key is not None:
            verify(session, key, deps)
    return len(ids)
