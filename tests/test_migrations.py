"""Migrations: they build the schema from empty, step down and up, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.infra.extensions import db


def tables(app: Flask) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def test_upgrade_from_empty_creates_the_schema(app: Flask) -> None:
    assert {"admins", "alembic_version"} <= tables(app)


def test_downgrade_one_step_and_upgrade_again(app: Flask) -> None:
    with app.app_context():
        downgrade(revision="-1")
        upgrade()
    assert "admins" in tables(app)


def test_downgrade_to_base_removes_everything(app: Flask) -> None:
    with app.app_context():
        downgrade(revision="base")
    assert tables(app) <= {"alembic_version"}


def test_models_match_the_migrations(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
