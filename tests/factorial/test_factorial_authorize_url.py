"""The authorize URL: exact parameters for user/company tokens, PKCE and scopes."""

from __future__ import annotations

import string

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.factorial import FactorialClient
from tests.factorial.support import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment_at, query_of

BASE = "https://api.example.test"
URL_SAFE = set(string.ascii_letters + string.digits + "-_")
UNRESERVED = URL_SAFE | set(".~")


def _client(**overrides: object) -> FactorialClient:
    return FactorialClient(environment_at(BASE + "/", **overrides))


def test_user_url_without_pkce_or_scopes_has_exactly_the_basics() -> None:
    url = _client().authorization_url(state="st-1", kind="user", code_verifier=None)
    assert query_of(url) == {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "st-1",
    }


def test_url_points_at_the_environment_authorize_endpoint() -> None:
    url = _client().authorization_url(state="st-1", kind="user", code_verifier=None)
    assert url.split("?")[0] == f"{BASE}/oauth/authorize"


def test_company_url_asks_for_a_company_token() -> None:
    url = _client().authorization_url(state="st-1", kind="company", code_verifier=None)
    assert query_of(url)["resource_owner_type"] == "company"


def test_user_url_does_not_mention_resource_owner_type() -> None:
    url = _client().authorization_url(state="st-1", kind="user", code_verifier=None)
    assert "resource_owner_type" not in query_of(url)


def test_pkce_adds_an_s256_challenge_of_the_verifier() -> None:
    client = _client()
    verifier = client.new_code_verifier()
    query = query_of(client.authorization_url(state="s", kind="user", code_verifier=verifier))
    assert (query["code_challenge"], query["code_challenge_method"]) == (
        create_s256_code_challenge(verifier),
        "S256",
    )


def test_scopes_are_space_joined() -> None:
    url = _client(scopes=("employees", "time_off")).authorization_url(
        state="s", kind="user", code_verifier=None
    )
    assert query_of(url)["scope"] == "employees time_off"


def test_url_never_carries_the_client_secret() -> None:
    url = _client().authorization_url(state="s", kind="company", code_verifier="v" * 43)
    assert CLIENT_SECRET not in url


def test_state_has_at_least_128_bits_and_is_url_safe() -> None:
    state = FactorialClient.new_state()
    assert (len(state) >= 22, set(state) <= URL_SAFE) == (True, True)


def test_states_do_not_repeat() -> None:
    assert len({FactorialClient.new_state() for _ in range(100)}) == 100


def test_code_verifier_fits_rfc_7636() -> None:
    verifier = FactorialClient.new_code_verifier()
    assert (43 <= len(verifier) <= 128, set(verifier) <= UNRESERVED) == (True, True)
