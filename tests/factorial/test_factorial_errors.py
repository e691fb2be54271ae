"""Retry-After parsing and the safety of error messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.factorial import (
    FactorialError,
    InvalidGrant,
    ProviderUnavailable,
    RateLimited,
    parse_retry_after,
)
from app.factorial.errors import sanitize

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def test_delta_seconds_are_returned_as_float() -> None:
    assert parse_retry_after("12", NOW) == 12.0


def test_http_date_becomes_seconds_from_now() -> None:
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30.0


def test_http_date_in_the_past_means_retry_now() -> None:
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0.0


def test_large_values_are_capped() -> None:
    assert parse_retry_after("86400", NOW, cap=60.0) == 60.0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "nan", "inf", "12 seconds"])
def test_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@given(st.integers(min_value=0, max_value=10**9), st.floats(min_value=0, max_value=10**6))
def test_any_delta_is_clamped_to_the_cap(seconds: int, cap: float) -> None:
    assert parse_retry_after(str(seconds), NOW, cap=cap) == min(float(seconds), cap)


@given(st.text(max_size=64))
def test_arbitrary_text_never_raises_and_stays_in_bounds(value: str) -> None:
    result = parse_retry_after(value, NOW, cap=300.0)
    assert result is None or 0.0 <= result <= 300.0


def test_sanitize_masks_secrets_and_truncates() -> None:
    text = sanitize("bad token s3cret-value " + "x" * 500, redact=["s3cret-value"])
    assert ("s3cret-value" not in text, len(text) <= 200) == (True, True)


def test_sanitize_flattens_control_characters() -> None:
    assert sanitize("line1\nline2\x00end") == "line1 line2 end"


def test_str_of_an_error_is_its_message() -> None:
    assert str(InvalidGrant("spent", status=400)) == "spent"


def test_every_error_has_a_default_message() -> None:
    assert str(ProviderUnavailable()) == ProviderUnavailable.default_message


def test_rate_limited_carries_retry_after() -> None:
    error = RateLimited(retry_after=7.5)
    assert (error.retry_after, error.status, isinstance(error, FactorialError)) == (7.5, 429, True)
