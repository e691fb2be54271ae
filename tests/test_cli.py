"""`flask` commands: create-admin and encryption key management."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.infra.extensions import db
from app.infra.settings.refusals import valid_fernet_key
from app.models import Admin
from tests.conftest import PASSWORD


def stored_roles(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(a.email, a.role) for a in db.session.scalars(select(Admin))]


def test_create_admin_from_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-admin", "Boss@Example.com", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert (result.exit_code, stored_roles(app)) == (0, [("boss@example.com", "admin")])


def test_create_viewer(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(
        args=["create-admin", "v@example.com", "--role", "viewer", "--password-stdin"],
        input=PASSWORD,
    )
    assert stored_roles(app) == [("v@example.com", "viewer")]


def test_create_admin_prompts_twice_without_stdin_flag(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-admin", "p@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0


def test_create_admin_refuses_a_weak_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-admin", "w@example.com", "--password-stdin"], input="short\n"
    )
    assert (result.exit_code, "at least 12" in result.output, stored_roles(app)) == (1, True, [])


def test_create_admin_refuses_a_duplicate(
    app: Flask, runner: FlaskCliRunner, admin_id: int
) -> None:
    result = runner.invoke(
        args=["create-admin", "ada@example.com", "--password-stdin"], input=PASSWORD
    )
    assert (result.exit_code, "already exists" in result.output) == (1, True)


def test_create_admin_refuses_a_bad_email(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-admin", "not-an-email", "--password-stdin"], input=PASSWORD
    )
    assert (result.exit_code, "valid email" in result.output) == (1, True)


def test_create_admin_never_echoes_the_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-admin", "e@example.com", "--password-stdin"], input=PASSWORD
    )
    assert PASSWORD not in result.output


def test_keys_generate_prints_a_fernet_key(runner: FlaskCliRunner) -> None:
    assert valid_fernet_key(runner.invoke(args=["keys", "generate"]).output.strip())


def test_keys_rotate_on_an_empty_database(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["keys", "rotate"])
    assert (result.exit_code, "Re-encrypted 0 secret(s)" in result.output) == (0, True)


def test_demo_bootstrap_refuses_outside_demo(runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["demo", "bootstrap"]).exit_code == 1
