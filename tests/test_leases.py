"""The one lease primitive (`app.infra.leases`): compare-and-set on a row's holder and expiry,
the same for a connection's lease and a named one."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from app.infra import leases
from app.infra.extensions import db
from app.models import Lease, utcnow

TTL = timedelta(minutes=1)


def hold_twice(app: Flask, first: str, second: str, later: timedelta) -> list[bool]:
    now = utcnow()
    with app.app_context():
        taken = [leases.hold(db.session, "job", first, now, TTL)]
        taken.append(leases.hold(db.session, "job", second, now + later, TTL))
        db.session.remove()
    return taken


def test_a_held_lease_is_refused_to_another(app: Flask) -> None:
    assert hold_twice(app, "a", "b", timedelta(seconds=30)) == [True, False]


def test_an_expired_lease_passes_to_another(app: Flask) -> None:
    assert hold_twice(app, "a", "b", timedelta(minutes=2)) == [True, True]


def test_the_holder_renews_its_own_lease(app: Flask) -> None:
    assert hold_twice(app, "a", "a", timedelta(seconds=30)) == [True, True]


def test_a_given_back_lease_is_free_at_once(app: Flask) -> None:
    now = utcnow()
    with app.app_context():
        leases.hold(db.session, "job", "a", now, TTL)
        leases.let_go(db.session, "job", "a")
        taken = leases.hold(db.session, "job", "b", now, TTL)
    assert taken is True


def test_only_the_holder_gives_a_lease_back(app: Flask) -> None:
    now = utcnow()
    with app.app_context():
        leases.hold(db.session, "job", "a", now, TTL)
        leases.let_go(db.session, "job", "b")
        owner = db.session.scalar(select(Lease.owner).where(Lease.name == "job"))
    assert owner == "a"


def test_a_connection_lease_is_refused_while_held(app: Flask, user_connection: int) -> None:
    now = utcnow()
    with app.app_context():
        first = leases.take(db.session, leases.CONNECTION, user_connection, "a", now, TTL)
        db.session.commit()
        second = leases.take(db.session, leases.CONNECTION, user_connection, "b", now, TTL)
        db.session.rollback()
    assert (first is not None, second) == (True, None)
