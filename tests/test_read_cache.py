"""The token endpoint's remembered read (`app.infra.read_cache`): served from memory only while the
database proves nothing changed (PostgreSQL's change feed, SQLite's data version); a write
from any process is seen by the next call once the database has told this process of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text, update

from app import create_app
from app.infra.extensions import db
from app.infra.read_cache import APPLICATION_NAME, CHANNEL, MISS, ChangeFeed, ReadCache
from app.models import Connection, ServiceClient, ServiceClientGrant, utcnow
from app.services.service_api import service_clients
from app.wiring import wiring
from sandbox.testing import SandboxServer
from tests import factories, helpers
from tests.helpers import other_ending
from tests.lifecycle import refresh_requests


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the change feed is PostgreSQL's LISTEN/NOTIFY")


def _libpq(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def cache(app: Flask) -> ReadCache:
    found = wiring(app).service_api.reads.cache
    assert isinstance(found, ReadCache)
    _until(lambda: found.source.ticket() is not None, "the change feed never started listening")
    return found


@pytest.fixture
def feed(cache: ReadCache, database_url: str) -> ChangeFeed:
    _postgres_only(database_url)
    assert isinstance(cache.source, ChangeFeed)
    return cache.source


@pytest.fixture
def reads(app: Flask) -> Iterator[list[int]]:
    """One entry per connection the token endpoint's read engine hands out: a database read."""
    seen: list[int] = []
    engine = wiring(app).service_api.reads.engine

    def checkout(*_: Any) -> None:
        seen.append(1)

    event.listen(engine, "checkout", checkout)
    yield seen
    event.remove(engine, "checkout", checkout)


def _until(condition: Callable[[], bool], message: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def _quiet_for(cache: ReadCache, seconds: float) -> bool:
    """No change announced for `seconds`."""
    ticket = cache.source.ticket()
    time.sleep(seconds)
    return cache.source.ticket() == ticket


def _token(client: FlaskClient, connection_id: int, secret: str) -> Any:
    return client.get(f"/api/v1/connections/{connection_id}/token", headers=helpers.bearer(secret))


def _outside(database_url: str, statement: Any) -> None:
    """A write from outside this app's engines: as another worker, host or psql would make."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as other:
            other.execute(statement)
    finally:
        engine.dispose()


def test_a_repeated_call_is_served_without_reading_the_database(
    app: Flask, client: FlaskClient, cache: ReadCache, reads: list[int], user_connection: int
) -> None:
    secret = factories.make_client(app, connections=(user_connection,))
    # PostgreSQL tells of those commits a moment after they return: hear them before counting.
    _until(lambda: _quiet_for(cache, 0.3), "the database kept announcing changes")
    first = _token(client, user_connection, secret)
    assert first.status_code == 200
    assert len(reads) == 1
    for _ in range(5):
        again = _token(client, user_connection, secret)
        assert again.status_code == 200
        assert again.get_json() == first.get_json()
        assert again.headers["Cache-Control"] == "no-store"
    assert len(reads) == 1


def test_a_wrong_secret_is_refused_from_memory_too(
    app: Flask, client: FlaskClient, cache: ReadCache, reads: list[int], user_connection: int
) -> None:
    secret = factories.make_client(app, connections=(user_connection,))
    assert _token(client, user_connection, secret).status_code == 200
    wrong = other_ending(secret)
    refused = _token(client, user_connection, wrong)
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers


@pytest.mark.parametrize(
    "change",
    ["revoke client", "revoke connection", "drop grant", "token expires"],
)
def test_a_write_from_another_process_is_seen_once_the_database_says_so(
    app: Flask,
    client: FlaskClient,
    cache: ReadCache,
    user_connection: int,
    database_url: str,
    change: str,
) -> None:
    """The write is committed on a connection this process does not own, as another gunicorn
    worker, host or psql would. SQLite's data version shows it to the very next call.
    PostgreSQL delivers its notice a moment after the writer's commit returns (the listening
    backend is signalled, then sends it): the next call after it arrives must not be answered
    from memory. The age bound is lifted here, so only the notice can make the change seen."""
    cache.seconds = 3600
    secret = factories.make_client(app, connections=(user_connection,))
    assert _token(client, user_connection, secret).status_code == 200
    assert _token(client, user_connection, secret).status_code == 200  # now from memory
    past = utcnow() - timedelta(hours=1)
    statements: dict[str, list[Any]] = {
        "revoke client": [update(ServiceClient).values(revoked_at=past)],
        "revoke connection": [update(Connection).values(revoked_at=past)],
        "drop grant": [ServiceClientGrant.__table__.delete()],
        # expired with no refresh token: nothing can renew it
        "token expires": [update(Connection).values(expires_at=past, refresh_token=None)],
    }
    for statement in statements[change]:
        _outside(database_url, statement)
    expected = {"revoke client": 401, "drop grant": 403}.get(change, 409)
    _seen(cache, lambda: _token(client, user_connection, secret).status_code == expected, change)


def _seen(cache: ReadCache, probe: Callable[[], bool], change: str) -> None:
    """A change feed hears the change within a second; without one the next read sees it."""
    if isinstance(cache.source, ChangeFeed):
        _until(probe, f"{change}: the change was never seen", seconds=1)
    else:
        assert probe(), change


def test_a_write_in_this_process_is_seen_at_once(
    app: Flask, client: FlaskClient, cache: ReadCache, user_connection: int
) -> None:
    secret = factories.make_client(app, connections=(user_connection,))
    assert _token(client, user_connection, secret).status_code == 200
    assert _token(client, user_connection, secret).status_code == 200
    with app.app_context():
        row = db.session.scalars(select(ServiceClient)).one()
        service_clients.revoke(db.session, row, wiring(app).deps, actor=factories.ADMIN)
    assert _token(client, user_connection, secret).status_code == 401


def test_every_write_to_what_the_read_holds_is_notified_at_commit(
    app: Flask, feed: ChangeFeed, user_connection: int, database_url: str
) -> None:
    factories.make_client(app, connections=(user_connection,))
    import psycopg

    with psycopg.connect(_libpq(database_url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")

        def heard() -> list[str]:
            return sorted({n.payload for n in listener.notifies(timeout=0.5)})

        assert heard() == []
        with app.app_context():
            db.session.execute(update(Connection).values(token_type="Bearer"))
            assert heard() == []  # not before the commit
            db.session.commit()
            assert heard() == ["connections"]
            db.session.execute(update(ServiceClient).values(name="Renamed"))
            db.session.execute(ServiceClientGrant.__table__.delete())
            db.session.commit()
            assert heard() == ["service_client_grants", "service_clients"]
            db.session.execute(select(Connection)).all()
            db.session.commit()
            assert heard() == []  # reads say nothing


def test_while_the_feed_is_down_every_call_reads_the_database(
    app: Flask,
    client: FlaskClient,
    feed: ChangeFeed,
    reads: list[int],
    user_connection: int,
    database_url: str,
) -> None:
    secret = factories.make_client(app, connections=(user_connection,))
    assert _token(client, user_connection, secret).status_code == 200
    before = len(reads)
    _outside(
        database_url,
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"
        ).bindparams(name=APPLICATION_NAME),
    )
    _until(lambda: not feed.live, "the feed never noticed its connection was gone", 10)
    for _ in range(3):
        assert _token(client, user_connection, secret).status_code == 200
    assert len(reads) == before + 3
    _until(feed.quiet, "the feed never reconnected")
    assert _token(client, user_connection, secret).status_code == 200
    settled = len(reads)
    assert _token(client, user_connection, secret).status_code == 200
    assert len(reads) == settled


def test_a_remembered_row_is_dropped_after_its_age_bound(cache: ReadCache) -> None:
    now = [100.0]
    short = ReadCache(cache.source, 2, clock=lambda: now[0])
    row, ticket = short.get("key")
    assert row is MISS
    short.put("key", "row", ticket)
    assert short.get("key")[0] == "row"
    now[0] += 2.5
    assert short.get("key")[0] is MISS


def test_a_read_that_raced_a_change_is_not_served(
    app: Flask, cache: ReadCache, user_connection: int, database_url: str
) -> None:
    """The ticket is taken before the read: a change after it leaves the entry unusable."""
    _, ticket = cache.get("raced")
    _outside(database_url, update(Connection).values(token_type="Bearer"))
    _until(lambda: cache.source.ticket() != ticket, "the change was never heard", seconds=1)
    cache.put("raced", "row", ticket)
    assert cache.get("raced")[0] is MISS


def test_the_cache_is_off_with_zero_seconds(
    app_settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        wiring(create_app({**app_settings, "VEND_CACHE_SECONDS": "0"})).service_api.reads.cache
        is None
    )
    assert wiring(create_app(app_settings)).service_api.reads.cache is not None
    with pytest.raises(SystemExit):
        create_app({**app_settings, "VEND_CACHE_SECONDS": "-1"})
    assert "VEND_CACHE_SECONDS must not be negative" in capsys.readouterr().err


@pytest.fixture
def usage_every_half_second(app_settings: dict[str, Any]) -> None:
    app_settings["API_USAGE_INTERVAL"] = 0.5


@pytest.mark.usefixtures("usage_every_half_second")
def test_calls_answered_from_memory_are_counted_like_any_other(
    app: Flask, client: FlaskClient, cache: ReadCache, reads: list[int], user_connection: int
) -> None:
    secret = factories.make_client(app, connections=(user_connection,))
    vends = "factorial_connect_vends_total"
    before = helpers.value(helpers.samples(client), vends, outcome="ok")
    statuses = [_closed(_token(client, user_connection, secret)) for _ in range(6)]
    served_from_memory = 6 - len(reads)
    time.sleep(0.6)  # the interval passes: the next call hands back the pending count
    statuses.append(_closed(_token(client, user_connection, secret)))
    assert (statuses, served_from_memory > 0) == ([200] * 7, True)
    assert helpers.value(helpers.samples(client), vends, outcome="ok") == before + 7
    assert sum(row["count"] for row in helpers.audit_rows(app, "connection.token_vended")) == 7


def test_a_remembered_token_entering_the_refresh_margin_is_refreshed_first(
    app: Flask,
    client: FlaskClient,
    cache: ReadCache,
    sandbox: SandboxServer,
    user_connection: int,
) -> None:
    cache.seconds = 3600
    secret = factories.make_client(app, connections=(user_connection,))
    first = _token(client, user_connection, secret).get_json()["access_token"]
    assert _token(client, user_connection, secret).status_code == 200  # now from memory
    key = (int(secret.split("_")[1]), user_connection)
    expires = helpers.column(app, user_connection, Connection.expires_at)
    with time_machine.travel(expires - timedelta(seconds=60), tick=True):
        remembered = cache.get(key)[0] is not MISS  # readiness alone must decline it
        answer = _token(client, user_connection, secret)
    assert (remembered, answer.status_code, refresh_requests(sandbox)) == (True, 200, 1)
    assert answer.get_json()["access_token"] != first


def _closed(response: Any) -> int:
    """Close as a server does once the answer is sent (usage is written then); the status."""
    response.close()
    return int(response.status_code)
