"""Webhook notifications through a transactional outbox: one row per state transition.

`enqueue` adds the row in the caller's transaction, so a transition that commits is announced
exactly once and one that rolls back never is. `deliver_due` (run by the sweep, never by a
request) posts due rows with an HMAC-SHA256 signature, retrying with exponential backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select

from app.models import Notification
from app.services import DbSession

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
SIGNATURE_HEADER = "X-Factorial-Connect-Signature"
TIMESTAMP_HEADER = "X-Factorial-Connect-Timestamp"


@dataclass(frozen=True)
class Notifier:
    """Where webhooks go; disabled when no URL is configured."""

    url: str = ""
    secret: str = field(default="", repr=False)
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def enqueue(
    session: DbSession,
    notifier: Notifier,
    event: str,
    *,
    target_type: str,
    target_id: int | None,
    payload: dict[str, Any],
    now: datetime,
) -> Notification | None:
    """Add an outbox row (not committed here); nothing when webhooks are off."""
    if not notifier.enabled:
        return None
    row = Notification(
        event=event,
        target_type=target_type,
        target_id=target_id,
        payload={"event": event, "occurred_at": now.isoformat(), **payload},
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return row


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over `timestamp.body`, so a receiver can reject replays of old bodies."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_DELAY)


def deliver_due(
    session: DbSession, notifier: Notifier, now: datetime, limit: int = 50
) -> tuple[int, int]:
    """Post due notifications; returns (delivered, failed). Commits after each one."""
    if not notifier.enabled:
        return 0, 0
    query = (
        select(Notification)
        .where(
            Notification.delivered_at.is_(None),
            Notification.gave_up_at.is_(None),
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    delivered = failed = 0
    for row in list(session.scalars(query)):
        if _post(notifier, row, now):
            row.delivered_at = now
            delivered += 1
        else:
            failed += 1
        session.commit()
    return delivered, failed


def _post(notifier: Notifier, row: Notification, now: datetime) -> bool:
    body = json.dumps(row.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(notifier.secret, timestamp, body),
        "User-Agent": "factorial-connect-webhook/1",
    }
    row.attempts += 1
    try:
        response = requests.post(
            notifier.url,
            data=body,
            headers=headers,
            timeout=notifier.timeout,
            allow_redirects=False,
        )
        ok = 200 <= response.status_code < 300
        error = "" if ok else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok, error = False, type(exc).__name__
    if not ok:
        row.last_error = error
        row.next_attempt_at = now + backoff(row.attempts)
        if row.attempts >= MAX_ATTEMPTS:
            row.gave_up_at = now
        log.warning("webhook %s delivery failed (%s), attempt %d", row.event, error, row.attempts)
    return ok
