"""Validation of token and credential payloads into frozen values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.factorial import CreatedApiKey, CredentialInfo, TokenResponse, UnexpectedResponse

RECEIVED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def _token(**overrides: object) -> TokenResponse:
    payload: dict[str, object] = {"access_token": "at-secret", "token_type": "Bearer"}
    payload.update(overrides)
    return TokenResponse.from_payload(payload)


def test_expiry_counts_from_created_at() -> None:
    created = RECEIVED - timedelta(seconds=100)
    token = _token(expires_in=7200, created_at=int(created.timestamp()))
    assert token.expires_at(RECEIVED) == created + timedelta(seconds=7200)


def test_expiry_counts_from_receipt_without_created_at() -> None:
    assert _token(expires_in=3600).expires_at(RECEIVED) == RECEIVED + timedelta(hours=1)


def test_created_at_far_in_the_future_is_clamped_to_receipt() -> None:
    future = int((RECEIVED + timedelta(hours=5)).timestamp())
    token = _token(expires_in=60, created_at=future)
    assert token.expires_at(RECEIVED) == RECEIVED + timedelta(seconds=60)


def test_missing_expires_in_means_no_expiry() -> None:
    assert _token().expires_at(RECEIVED) is None


def test_expires_in_as_digit_string_is_accepted() -> None:
    assert _token(expires_in="7200").expires_in == 7200


@pytest.mark.parametrize(
    "value", [-1, "soon", 12.5, True, [], "-3", "²", "\u0661", "9" * 5000, 10**30, str(10**30)]
)
def test_invalid_expires_in_is_rejected(value: object) -> None:
    with pytest.raises(UnexpectedResponse):
        _token(expires_in=value)


@pytest.mark.parametrize("value", ["²", "\u0661", "9" * 5000, 10**30, "soon"])
def test_unusable_created_at_is_ignored(value: object) -> None:
    assert _token(expires_in=60, created_at=value).expires_at(RECEIVED) == RECEIVED + timedelta(
        seconds=60
    )


@pytest.mark.parametrize("value", [None, "", 42])
def test_access_token_must_be_a_non_empty_string(value: object) -> None:
    with pytest.raises(UnexpectedResponse):
        _token(access_token=value)


def test_scope_string_is_split() -> None:
    assert _token(scope="read write").scope == ("read", "write")


def test_repr_hides_tokens() -> None:
    text = repr(_token(refresh_token="rt-secret"))
    assert ("at-secret" in text, "rt-secret" in text) == (False, False)


def test_created_key_repr_hides_the_key() -> None:
    assert "key-secret" not in repr(CreatedApiKey(id="1", name="ci", token="key-secret"))


def test_user_credential_from_prefixed_id() -> None:
    info = CredentialInfo.from_payload(
        {"id": "user_7", "company_id": 1, "employee_id": 3, "first_name": "Ana", "last_name": "Li"},
        sent_api_key=False,
    )
    assert (info.kind, info.company_id, info.employee_id, info.full_name) == (
        "user",
        "1",
        "3",
        "Ana Li",
    )


def test_bare_id_with_company_fields_is_a_company_token() -> None:
    info = CredentialInfo.from_payload(
        {"id": 9, "company_id": 2, "legal_name": "Acme SL"}, sent_api_key=False
    )
    assert (info.kind, info.company_name) == ("company", "Acme SL")


def test_bare_id_with_company_fields_sent_as_api_key_is_an_api_key() -> None:
    info = CredentialInfo.from_payload(
        {"id": 9, "company_id": 2, "name": "Acme"}, sent_api_key=True
    )
    assert info.kind == "api_key"


def test_credential_without_company_is_rejected() -> None:
    with pytest.raises(UnexpectedResponse):
        CredentialInfo.from_payload({"id": "user_1"}, sent_api_key=False)
