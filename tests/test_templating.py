"""Relative times as pages show them: rounded to the nearest unit, and no expiry for a token
that cannot be used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.connections import Status
from app.web.templating import humanize_delta, token_expiry

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DAY, HOUR, MINUTE = 86400, 3600, 60


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.4, "59 s"),
        (59.5, "1 min"),
        (89, "1 min"),
        (90, "2 min"),
        (HOUR - 31, "59 min"),
        (HOUR - 30, "1 h"),
        (HOUR + 29 * MINUTE, "1 h 29 min"),
        (10 * HOUR - 31, "9 h 59 min"),
        (10 * HOUR - 30, "10 h"),
        (47 * HOUR + 29 * MINUTE, "47 h"),
        (47 * HOUR + 30 * MINUTE, "2 days"),
        (2 * DAY + 11 * HOUR, "2 days"),
        (2 * DAY + 12 * HOUR, "3 days"),
        (7 * DAY - 5, "7 days"),
        (7 * DAY - 11 * HOUR, "7 days"),
        (7 * DAY - 13 * HOUR, "6 days"),
        (-(7 * DAY - 5), "7 days"),
    ],
)
def test_humanize_delta_rounds_to_the_nearest_unit(seconds: float, text: str) -> None:
    assert humanize_delta(seconds) == text


def test_a_refresh_token_issued_seconds_ago_dies_in_seven_days() -> None:
    dies = token_expiry(NOW + timedelta(days=7, seconds=-3), Status("active", "Active", "ok"), NOW)
    assert ">in 7 days</time>" in dies


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("revoked", "revoked"),
        ("needs_reconnect", "no usable token"),
        ("revoke_pending", "being revoked"),
    ],
)
def test_an_unusable_token_shows_why_instead_of_an_expiry(code: str, text: str) -> None:
    shown = token_expiry(NOW + timedelta(minutes=57), Status(code, code, "bad"), NOW)
    assert (shown.striptags(), "<time" in shown) == (text, False)


@pytest.mark.parametrize(
    ("never", "text"), [("never", "never"), ("does not expire", "does not expire")]
)
def test_a_usable_token_without_expiry_says_so(never: str, text: str) -> None:
    assert (
        token_expiry(None, Status("does_not_expire", "Does not expire", "info"), NOW, never) == text
    )


@pytest.mark.parametrize("code", ["active", "expires_soon", "refreshing", "error", "checking"])
def test_a_usable_token_counts_down_to_its_expiry(code: str) -> None:
    shown = token_expiry(NOW + timedelta(minutes=57), Status(code, code, "ok"), NOW)
    assert (shown.striptags(), 'data-countdown="1"' in shown) == ("in 57 min", True)
