"""Template helpers: navigation, the environment banner, relative times with absolute hover."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_login import current_user
from markupsafe import Markup, escape

from app.models import utcnow
from app.web.security import settings

NAV = (
    ("dashboard.index", "Dashboard"),
    ("connect.page", "Connect"),
    ("api_keys.index", "API keys"),
    ("service_clients.index", "Services"),
    ("admins.index", "People"),
    ("audit.index", "Audit log"),
)


def humanize_delta(seconds: float) -> str:
    """'42 min', '3 h', '2 days': coarse enough to read at a glance."""
    s = abs(int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h {s % 3600 // 60} min" if s < 10 * 3600 else f"{s // 3600} h"
    return f"{s // 86400} days"


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
        return {"nav_items": nav_items, "app_banner": app_banner, "reltime": reltime}


def nav_items() -> tuple[tuple[str, str], ...]:
    return NAV if current_user.is_authenticated else ()


def app_banner() -> str:
    s = settings()
    if s.app_env == "demo":
        return "Demo mode: local Factorial sandbox, generated secrets — not for real company data."
    return ""
