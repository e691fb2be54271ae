"""Factorial counts a POST when it arrives, the app when it takes the slot just before sending.
A POST that travelled slowly sits later in Factorial's window than in ours; the next one sent
the moment our window frees a slot must still not draw a 429."""

from __future__ import annotations

import time

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from sandbox.testing import SandboxServer
from tests.factories import make_client
from tests.helpers import bearer

KEYS = "v1/core/keys"  # a v1 write: 100 POSTs a minute per credential
CREDENTIALS = "2026-10-01/resources/api_public/credentials"
TRANSIT = 0.6  # how much later than its slot the first POST reaches Factorial


def test_a_slot_freed_by_a_slow_post_waits_for_factorials_window(
    app: Flask, client: FlaskClient, sandbox: SandboxServer, api_key_id: int
) -> None:
    secret = make_client(app, scopes=("proxy",), keys=(api_key_id,))
    path = f"/api/v1/api-keys/{api_key_id}/proxy/{KEYS}"
    # A GET (not limited) first, so the first POST takes its slot right after `first_slot`.
    client.get(f"/api/v1/api-keys/{api_key_id}/proxy/{CREDENTIALS}", headers=bearer(secret))
    sandbox.fault(f"/api/{KEYS}", mode="delay", delay=TRANSIT)
    first_slot = time.time()
    answers = [
        client.post(path, headers=bearer(secret), json={"name": f"k{n}"}) for n in range(100)
    ]
    # Both clocks jump to just after a one-minute window would free the first slot (0.3 s
    # after it), while Factorial's still holds that POST (it arrived TRANSIT s after its slot).
    shift = first_slot + 60.3 - time.time()
    sandbox.set_clock(shift)
    with time_machine.travel(time.time() + shift, tick=True):
        answers.append(client.post(path, headers=bearer(secret), json={"name": "next"}))
    assert [a.status_code for a in answers] == [201] * 101
