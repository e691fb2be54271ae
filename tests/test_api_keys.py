"""API keys through the pages, over real HTTP against the sandbox: add, verify, delete, create."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.infra.extensions import db
from app.services.keys import api_keys
from sandbox.testing import SandboxServer
from tests.api_key_flows import (
    CREDENTIALS_PATH,
    NIMBUS,
    UNKNOWN_KEY,
    add_key,
    count_events,
    count_keys,
    delete_in_factorial,
    key_id_from,
    load_key,
    paste,
    post_action,
    remote_ids,
    seeded_key,
    works_in_factorial,
)
from tests.conftest import AuthActions

pytestmark = pytest.mark.usefixtures("admin_id")


def test_pasted_key_is_verified_and_stored_with_its_company(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key = load_key(app, key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"])))
    assert key is not None
    assert (key.company_id, key.last_verified_result, key.label) == ("1", "ok", "Payroll export")


def test_stored_key_keeps_only_its_last_four_as_fingerprint(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    key = load_key(app, key_id_from(paste(client, signed_in, token)))
    assert key is not None and key.fingerprint == "…" + token[-4:]


def test_label_defaults_to_the_company_name(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = paste(client, signed_in, seeded_key(sandbox, NIMBUS)["token"], label="")
    key = load_key(app, key_id_from(response))
    assert key is not None and key.label.startswith("Nimbus")


def test_key_deleted_in_factorial_is_refused_and_not_stored(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    delete_in_factorial(sandbox, seeded)
    response = paste(client, signed_in, seeded["token"])
    assert response.status_code == 400
    assert "Factorial rejected this key" in response.get_data(as_text=True)
    assert count_keys(app) == 0


def test_unknown_jwt_shaped_key_is_refused_and_not_stored(
    app: Flask, client: FlaskClient, signed_in: AuthActions
) -> None:
    response = paste(client, signed_in, UNKNOWN_KEY)
    assert (response.status_code, count_keys(app)) == (400, 0)


def test_factorial_outage_on_add_says_so_and_stores_nothing(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    sandbox.fault(CREDENTIALS_PATH, mode="fail", status=503)
    response = paste(client, signed_in, seeded_key(sandbox)["token"])
    assert "Could not check the key with Factorial" in response.get_data(as_text=True)
    assert count_keys(app) == 0


def test_duplicate_key_points_to_the_stored_one(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    first = key_id_from(paste(client, signed_in, token))
    response = paste(client, signed_in, f"  {token}\n")
    assert response.status_code == 400
    assert f'href="/api-keys/{first}"' in response.get_data(as_text=True)
    assert count_keys(app) == 1


GARBAGE = [
    pytest.param("", "Paste the API key", id="empty"),
    pytest.param("a." * 5120, "too long", id="10KB"),
    pytest.param("eyJhbGci.eyJjb21w\nYW55.c2ln", "no spaces or line breaks", id="newline"),
    pytest.param("eyJhbGci.eyJjb21wé.c2ln", "printable ASCII", id="non-ascii"),
    pytest.param("not-a-jwt-at-all", "three base64url parts", id="not-jwt"),
    pytest.param("a.b.c.d", "three base64url parts", id="four-parts"),
]


@pytest.mark.parametrize(("garbage", "message"), GARBAGE)
def test_garbage_is_a_form_error_and_goes_nowhere(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    garbage: str,
    message: str,
) -> None:
    response = paste(client, signed_in, garbage)
    assert (response.status_code, message in response.get_data(as_text=True)) == (400, True)
    assert (count_keys(app), sandbox.counts()["requests"]) == (0, {})


def test_reverify_notices_a_key_deleted_in_factorial(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = key_id_from(paste(client, signed_in, seeded["token"]))
    delete_in_factorial(sandbox, seeded)
    post_action(client, signed_in, f"/api-keys/{key_id}/verify")
    key = load_key(app, key_id)
    assert key is not None and key.last_verified_result == "rejected"
    assert key.rejected_since is not None


def test_reverify_shows_the_rejection(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = key_id_from(paste(client, signed_in, seeded["token"]))
    delete_in_factorial(sandbox, seeded)
    response = post_action(client, signed_in, f"/api-keys/{key_id}/verify")
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Rejected" in body and "api_key.rejected" in body


def test_detail_lists_the_keys_audit_events(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"]))
    post_action(client, signed_in, f"/api-keys/{key_id}/verify")
    body = client.get(f"/api-keys/{key_id}").get_data(as_text=True)
    assert "api_key.added" in body and "api_key.verified" in body


def test_delete_asks_for_confirmation_first(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"]))
    body = client.get(f"/api-keys/{key_id}/delete").get_data(as_text=True)
    assert "Delete Payroll export" in body and count_keys(app) == 1


def test_pasted_key_offers_no_delete_in_factorial(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"]))
    body = client.get(f"/api-keys/{key_id}/delete").get_data(as_text=True)
    assert 'name="in_factorial"' not in body


def test_delete_in_factorial_of_a_pasted_key_is_refused(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"]))
    response = post_action(client, signed_in, f"/api-keys/{key_id}/delete", in_factorial="y")
    assert "not created here" in response.get_data(as_text=True)
    assert (response.status_code, count_keys(app)) == (400, 1)


def test_local_delete_forgets_the_key_but_leaves_it_in_factorial(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    key_id = key_id_from(paste(client, signed_in, token))
    response = post_action(client, signed_in, f"/api-keys/{key_id}/delete")
    assert response.status_code == 303
    assert (count_keys(app), works_in_factorial(sandbox, token)) == (0, True)


def test_delete_is_audited(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = key_id_from(paste(client, signed_in, seeded_key(sandbox)["token"]))
    post_action(client, signed_in, f"/api-keys/{key_id}/delete")
    assert count_events(app, "api_key.deleted") == 1


def create_here(client: FlaskClient, auth: AuthActions, authority_id: int) -> int:
    response = post_action(client, auth, f"/api-keys/{authority_id}/create", label="Nightly sync")
    return key_id_from(response)


def test_create_in_factorial_stores_a_verified_key(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    authority = add_key(app, 1, seeded_key(sandbox)["token"])
    key = load_key(app, create_here(client, signed_in, authority))
    assert key is not None
    assert (key.label, key.last_verified_result, key.company_id) == ("Nightly sync", "ok", "1")


def test_created_key_remembers_its_factorial_id(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    key = load_key(app, create_here(client, signed_in, add_key(app, 1, token)))
    assert key is not None and key.remote_key_id in remote_ids(sandbox, token)


def test_create_failure_in_factorial_stores_nothing(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    authority = add_key(app, 1, seeded_key(sandbox)["token"])
    sandbox.fault("/api/v1/core/keys", mode="fail", status=503)
    response = post_action(client, signed_in, f"/api-keys/{authority}/create", label="Nightly")
    assert "Not created" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert count_keys(app) == 1


@pytest.mark.parametrize("label", ["", "x" * 121], ids=["empty", "too-long"])
def test_create_needs_a_sensible_label(
    app: Flask,
    client: FlaskClient,
    signed_in: AuthActions,
    sandbox: SandboxServer,
    label: str,
) -> None:
    authority = add_key(app, 1, seeded_key(sandbox)["token"])
    response = post_action(client, signed_in, f"/api-keys/{authority}/create", label=label)
    assert response.status_code == 400 and 'class="field-error"' in response.get_data(as_text=True)
    assert (count_keys(app), sandbox.counts()["requests"].get("/api/v1/core/keys")) == (1, None)


def test_label_longer_than_120_is_a_form_error(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    response = paste(client, signed_in, seeded_key(sandbox)["token"], label="x" * 121)
    assert (response.status_code, count_keys(app)) == (400, 0)


def test_delete_in_factorial_removes_a_key_created_here(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    created = load_key(app, create_here(client, signed_in, add_key(app, 1, token)))
    assert created is not None
    post_action(client, signed_in, f"/api-keys/{created.id}/delete", in_factorial="y")
    assert created.remote_key_id not in remote_ids(sandbox, token)
    assert count_keys(app) == 1


def test_failed_delete_in_factorial_keeps_the_key_here(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    created = load_key(
        app, create_here(client, signed_in, add_key(app, 1, seeded_key(sandbox)["token"]))
    )
    assert created is not None
    sandbox.fault(f"/api/v1/core/keys/{created.remote_key_id}", mode="fail", status=503)
    response = post_action(client, signed_in, f"/api-keys/{created.id}/delete", in_factorial="y")
    assert response.status_code == 502
    assert "Nothing was deleted" in response.get_data(as_text=True)
    assert count_keys(app) == 2


def test_keys_in_factorial_marks_which_ones_are_held(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = add_key(app, 1, seeded["token"])
    other = sandbox.mint_api_key(1, "Held elsewhere")
    body = client.get(f"/api-keys/{key_id}/factorial").get_data(as_text=True)
    assert body.count('status-ok">held') == 1 and "Held elsewhere" in body
    assert str(other["id"]) in body


def test_keys_in_factorial_view_records_the_authoritys_use(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    key_id = add_key(app, 1, seeded_key(sandbox)["token"])
    client.get(f"/api-keys/{key_id}/factorial")
    key = load_key(app, key_id)
    assert key is not None and key.last_used_at is not None


def test_list_shows_company_status_and_fingerprint(
    client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    token = seeded_key(sandbox)["token"]
    paste(client, signed_in, token)
    body = client.get("/api-keys/").get_data(as_text=True)
    assert "Acme" in body and "Verified" in body and "…" + token[-4:] in body


def test_add_form_masks_the_paste_field(client: FlaskClient, signed_in: AuthActions) -> None:
    body = client.get("/api-keys/new").get_data(as_text=True)
    assert 'type="password"' in body and 'autocomplete="off"' in body


def test_summary_counts_keys_by_result(
    app: Flask, client: FlaskClient, signed_in: AuthActions, sandbox: SandboxServer
) -> None:
    seeded = seeded_key(sandbox)
    key_id = key_id_from(paste(client, signed_in, seeded["token"]))
    paste(client, signed_in, seeded_key(sandbox, NIMBUS)["token"])
    delete_in_factorial(sandbox, seeded)
    post_action(client, signed_in, f"/api-keys/{key_id}/verify")
    with app.app_context():
        summary = api_keys.summary(db.session)
    assert summary == {"total": 2, "ok": 1, "rejected": 1, "error": 0, "unverified": 0}


def test_unknown_key_page_is_a_404(client: FlaskClient, signed_in: AuthActions) -> None:
    assert client.get("/api-keys/999").status_code == 404
