"""API keys: add (verified before saving), delete here, status and summary.

A key has total access and never expires; the only way it dies is someone deleting it in
Factorial. So it is stored encrypted, found by a sha256 digest, and re-verified on a schedule
(`api_key_verification`). Factorial's keys API is used by `api_key_remote` (create, list,
delete) and `api_key_rotation`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.factorial import CredentialInfo, FactorialError, Unauthorized
from app.factorial.errors import sanitize
from app.infra.crypto import Secret
from app.models import ApiKey, AuditEvent
from app.services import DbSession, audit
from app.services.audit import Actor
from app.services.deps import Deps

log = logging.getLogger(__name__)

KEY_LIMIT = 4096
LABEL_LIMIT = 120
_B64URL_PART = re.compile(r"[A-Za-z0-9_-]+={0,2}")
REJECTED_MESSAGE = "Factorial rejected this key (it was deleted or is not valid there)."


class ApiKeyError(Exception):
    """An API key operation stopped; `message` is safe to show and never holds the key."""

    def __init__(self, reason: str, message: str, *, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.existing_id = existing_id


class InvalidKey(ApiKeyError):
    """The pasted text cannot be an API key; nothing was sent anywhere."""


class DuplicateKey(ApiKeyError):
    """The key is already stored; `existing_id` points to it."""


class KeyRejected(ApiKeyError):
    """Factorial answered 401 for this key."""


class ProviderFailed(ApiKeyError):
    """Factorial could not be asked, or answered something we cannot use."""


@dataclass(frozen=True)
class KeyStatus:
    code: str
    label: str
    tone: str  # ok | warn | bad | muted, as the pages colour it


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_shape(raw: str) -> str:
    """The stripped key, or InvalidKey saying what is wrong with its shape."""
    key = raw.strip()
    if not key:
        raise InvalidKey("empty", "Paste the API key.")
    if len(key) > KEY_LIMIT:
        raise InvalidKey("too_long", f"That is too long for an API key (at most {KEY_LIMIT}).")
    if any(ch.isspace() for ch in key):
        raise InvalidKey("whitespace", "An API key has no spaces or line breaks; paste one line.")
    if any(not (33 <= ord(ch) <= 126) for ch in key):
        raise InvalidKey("not_ascii", "An API key contains only printable ASCII characters.")
    parts = key.split(".")
    if len(parts) != 3 or not all(_B64URL_PART.fullmatch(part) for part in parts):
        raise InvalidKey(
            "not_jwt",
            "That does not look like a Factorial API key: three base64url parts joined by dots.",
        )
    return key


def clean_label(label: str) -> str:
    return " ".join(label.split())[:LABEL_LIMIT]


def identify(deps: Deps, environment: str, key: str) -> CredentialInfo:
    """Ask the credentials endpoint who owns `key`; KeyRejected on 401, ProviderFailed else."""
    try:
        client = deps.clients(environment)
    except KeyError:
        raise ApiKeyError("unknown_environment", "That environment is not configured.") from None
    with client:
        try:
            return client.credentials(api_key=key)
        except Unauthorized:
            raise KeyRejected("rejected", "Factorial rejected this key.") from None
        except FactorialError as exc:
            detail = sanitize(exc.message, redact=(key,))
            message = f"Could not check the key with Factorial: {detail}"
            raise ProviderFailed("provider", message) from None


def add(
    session: DbSession,
    deps: Deps,
    *,
    environment: str,
    label: str,
    raw_key: str,
    actor: Actor,
) -> ApiKey:
    """Verify the pasted key with Factorial, then store it; nothing is stored on any failure."""
    key = check_shape(raw_key)
    key_digest = digest(key)
    _refuse_duplicate(session, environment, key_digest)
    now = deps.clock()
    try:
        info = identify(deps, environment, key)
    except (KeyRejected, ProviderFailed) as exc:
        _record_failed_add(session, exc, actor=actor, environment=environment, now=now)
        raise
    row = new_row(environment, clean_label(label), key, info, actor, now)
    row.last_verified_at, row.last_verified_result = now, "ok"
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same key stored concurrently
        session.rollback()
        _refuse_duplicate(session, environment, key_digest)
        raise
    audit.record(session, "api_key.added", now=now, actor=actor, target=row, details=facts(row))
    session.commit()
    log.info("API key %s added for company %s", row.id, row.company_id)
    return row


def new_row(
    environment: str, label: str, key: str, info: CredentialInfo, actor: Actor, now: datetime
) -> ApiKey:
    secret = Secret(key)
    return ApiKey(
        environment=environment,
        label=label or info.company_name or f"Company {info.company_id}",
        key=secret,
        fingerprint=secret.fingerprint,
        key_digest=digest(key),
        company_id=info.company_id,
        company_name=info.company_name or "",
        credential_id=info.id[:128],
        created_by_id=actor.id,
        created_at=now,
    )


def facts(key: ApiKey) -> dict[str, Any]:
    """What an audit event or webhook may say about a key: identities, never the key."""
    return {
        "environment": key.environment,
        "company_id": key.company_id,
        "company_name": key.company_name,
        "label": key.label,
        "fingerprint": key.fingerprint,
        "remote_key_id": key.remote_key_id,
    }


def _refuse_duplicate(session: DbSession, environment: str, key_digest: str) -> None:
    existing = session.scalar(
        select(ApiKey.id).where(ApiKey.environment == environment, ApiKey.key_digest == key_digest)
    )
    if existing is not None:
        raise DuplicateKey("duplicate", "This key is already stored.", existing_id=existing)


def _record_failed_add(
    session: DbSession, error: ApiKeyError, *, actor: Actor, environment: str, now: datetime
) -> None:
    audit.record_now(
        session,
        "api_key.add_failed",
        now=now,
        actor=actor,
        outcome="failed",
        message=error.message,
        details={"reason": error.reason, "environment": environment},
    )


def delete_local(
    session: DbSession, key: ApiKey, *, actor: Actor, now: datetime, **extra: Any
) -> None:
    """Forget the key here (audited); Factorial is not told. Commits."""
    audit.record(
        session, "api_key.deleted", now=now, actor=actor, target=key,
        details={**facts(key), **extra},
    )  # fmt: skip
    session.execute(
        update(ApiKey).where(ApiKey.replaced_by_id == key.id).values(replaced_by_id=None)
    )
    session.delete(key)
    session.commit()
    log.info("API key %s deleted", key.id)


def summary(session: DbSession) -> dict[str, int]:
    """Counts for the dashboard strip: total, ok, rejected, error, unverified."""
    rows = session.execute(
        select(ApiKey.last_verified_result, func.count(ApiKey.id)).group_by(
            ApiKey.last_verified_result
        )
    )
    counts = {result or "unverified": int(n) for result, n in rows}
    out = {name: counts.get(name, 0) for name in ("ok", "rejected", "error", "unverified")}
    return {"total": sum(out.values()), **out}


def status_of(key: ApiKey) -> KeyStatus:
    if not key.key.readable:
        return KeyStatus("undecryptable", "Undecryptable", "bad")
    result = key.last_verified_result
    if result == "ok":
        return KeyStatus("ok", "Verified", "ok")
    if result == "rejected":
        return KeyStatus("rejected", "Rejected", "bad")
    if result == "error":
        return KeyStatus("error", "Check failed", "warn")
    return KeyStatus("unverified", "Not verified", "muted")


def list_keys(session: DbSession) -> list[ApiKey]:
    query = select(ApiKey).order_by(
        ApiKey.environment, ApiKey.company_name, ApiKey.label, ApiKey.id
    )
    return list(session.scalars(query))


def get_key(session: DbSession, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def events_for(session: DbSession, key_id: int, limit: int = 50) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.target_type == "api_key", AuditEvent.target_id == key_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
