"""Template helpers: navigation, the environment banner, relative times with absolute hover."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_login import current_user
from markupsafe import Markup, escape

from app.infra.settings import SANDBOX_CLIENT_ID
from app.models import utcnow
from app.wiring import wiring

NAV = (
    ("dashboard.index", "Dashboard"),
    ("connect.page", "Connect"),
    ("api_keys.index", "API keys"),
    ("service_clients.index", "Services"),
    ("admins.index", "People"),
    ("audit.index", "Audit log"),
)


def _nearest(value: float) -> int:
    """Half up, as the page's script rounds (Math.round), not to even."""
    return int(value + 0.5)


def humanize_delta(seconds: float) -> str:
    """'42 min', '3 h', '2 days': coarse enough to read at a glance, each unit rounded to the
    nearest (a 7-day token a few seconds old still reads '7 days'); static/app.js mirrors it."""
    s = _nearest(abs(seconds))
    if s < 60:
        return f"{s} s"
    minutes = _nearest(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 10 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    hours = _nearest(s / 3600)
    if hours < 48:
        return f"{hours} h"
    return f"{_nearest(s / 86400)} days"


# Statuses whose token cannot be used: their expiry says so rather than counting down.
UNUSABLE = {
    "revoked": "revoked",
    "revoke_pending": "being revoked",
    "needs_reconnect": "no usable token",
}


def usable(status: object) -> bool:
    """Whether a connection in this status (connections.Status) holds a token we can vend."""
    return getattr(status, "code", "") not in UNUSABLE


def token_expiry(
    expires_at: datetime | None, status: object, now: datetime, never: str = "never"
) -> Markup:
    """A connection's expiry: a live countdown, `never` for a token without expiry, or what
    makes its token unusable (revoked, no usable token) instead of a time it will never see."""
    code = getattr(status, "code", "")
    if code in UNUSABLE:
        return Markup('<span class="muted">{}</span>').format(UNUSABLE[code])
    if expires_at is None:
        return Markup("{}").format(never)
    return reltime(expires_at, now, countdown=True)


def reltime(when: datetime | None, now: datetime | None = None, countdown: bool = False) -> Markup:
    """A <time> element reading 'in 42 min' or '3 h ago', with the absolute UTC time on hover."""
    if when is None:
        return Markup("—")
    now = now or utcnow()
    when = when.astimezone(UTC)
    delta = (when - now).total_seconds()
    text = f"in {humanize_delta(delta)}" if delta >= 0 else f"{humanize_delta(delta)} ago"
    absolute = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    extra = Markup(' data-countdown="1"') if countdown else Markup("")
    return Markup('<time datetime="{}" title="{}"{}>{}</time>').format(
        when.isoformat(), absolute, extra, escape(text)
    )


def install_templating(app: Flask) -> None:
    @app.context_processor
    def _helpers() -> dict[str, object]:
        return {
            "nav_items": nav_items,
            "app_banner": app_banner,
            "reltime": reltime,
            "token_expiry": token_expiry,
            "usable": usable,
            "sandbox_seed_url": sandbox_seed_url,
        }


def nav_items() -> tuple[tuple[str, str], ...]:
    return NAV if current_user.is_authenticated else ()


def app_banner() -> str:
    s = wiring().settings
    if s.app_env == "demo":
        return "Demo mode: local Factorial sandbox, generated secrets — not for real company data."
    return ""


def sandbox_seed_url() -> str:
    """In demo mode on the bundled sandbox, where it lists the API keys it seeded; else ''."""
    s = wiring().settings
    demo = s.environments.get("demo")
    if s.app_env != "demo" or demo is None or demo.client_id != SANDBOX_CLIENT_ID:
        return ""
    return demo.base_url.rstrip("/") + "/_sandbox/seed"
