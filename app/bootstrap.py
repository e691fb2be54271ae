"""The register_* steps `create_app` runs, one concern each."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from app.infra import database
from app.infra.crypto import KeyRing
from app.infra.extensions import csrf, db, login_manager, migrate
from app.infra.logging import setup_logging
from app.infra.read_cache import cache_for
from app.infra.reads import reader_engine
from app.infra.settings import Settings
from app.infra.throttle import SignInWindow
from app.wiring import Wiring, deps_from, wiring

log = logging.getLogger(__name__)


def register_config(app: Flask, settings: Settings, overrides: Mapping[str, Any]) -> None:
    _instance_folder(app, settings.database_url)
    app.config.update(overrides)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DEBUG=settings.debug,
        TESTING=overrides.get("TESTING", settings.app_env == "test"),
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=database.engine_options(settings.database_url),
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="fc_session",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # The server-side session enforces (and audits) both limits; the cookie outlives neither.
        PERMANENT_SESSION_LIFETIME=settings.session_max_hours * 3600,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if settings.proxy_fix_x_for or settings.proxy_fix_x_proto:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_fix_x_for, x_proto=settings.proxy_fix_x_proto
        )


def _instance_folder(app: Flask, url: str) -> None:
    """Create the instance folder when the SQLite database lives there (the default). Nothing
    else needs it: a service user that may not write the checkout must still be able to run
    `flask` commands against PostgreSQL, and a SQLite path configured elsewhere is the
    operator's (a missing folder there is a mistake to report, not to paper over)."""
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database and Path(database).parent == Path(app.instance_path):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def register_logging(app: Flask, settings: Settings) -> None:
    setup_logging(settings.log_level, settings.log_format)
    for warning in settings.warnings:
        log.warning(warning)


def register_extensions(app: Flask, settings: Settings) -> None:
    if settings.app_env == "test":
        from app.services.people.passwords import use_fast_hashing

        use_fast_hashing()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    from app.web import sessions

    login_manager.user_loader(sessions.load)


def register_wiring(app: Flask, settings: Settings) -> None:
    """Build what the app is made of (`app.wiring`) once; its engines get the key ring."""
    from app.web.api.runtime import build_service_api

    ring = KeyRing(settings.token_encryption_keys)
    with app.app_context():
        engine = db.engine
    database.prepare(engine, ring)
    connect_args = database.engine_options(settings.database_url).get("connect_args", {})
    read_engine = reader_engine(engine, connect_args)
    database.prepare(read_engine, ring)
    read_cache = cache_for(read_engine, engine, connect_args, settings.vend_cache_seconds)
    # Sign-in throttling counts in a `limits` storage of its own per app (Redis when configured).
    # Flask-Limiter is not used: no route has a declared limit, and its per-request hooks would
    # cost every request, the service API's hot path included, for nothing.
    app.extensions["wiring"] = Wiring(
        settings=settings,
        deps=deps_from(settings),
        keyring=ring,
        service_api=build_service_api(settings, app.config, read_engine, read_cache),
        login_throttle=SignInWindow(settings.ratelimit_storage_uri),
    )


def register_security(app: Flask, settings: Settings) -> None:
    from app.web.security import ApiAwareSessionInterface, install_security_headers

    install_security_headers(app, settings)
    app.session_interface = ApiAwareSessionInterface()


def register_templating(app: Flask) -> None:
    from app.web.templating import install_templating

    install_templating(app)


def register_errors(app: Flask) -> None:
    from app.web.errors import install_error_handlers

    install_error_handlers(app)


def register_blueprints(app: Flask) -> None:
    """Routes name record ids `<id:…>` (`app.web.numbers.IdConverter`), never `<int:…>`."""
    from app.web.numbers import IdConverter

    app.url_map.converters["id"] = IdConverter
    from app.web import health, metrics
    from app.web.admin import (
        account,
        admins,
        api_keys,
        audit,
        auth,
        connect,
        connections,
        dashboard,
        service_clients,
    )
    from app.web.api import routes as api

    modules = (auth, dashboard, connect, connections, api_keys, service_clients, audit, admins)
    for module in (*modules, account, api, health, metrics):
        app.register_blueprint(module.bp)


def register_scheduler(app: Flask) -> None:
    """Start the embedded sweep with the first request a process serves (not in CLI runs),
    when SCHEDULER=embedded outside tests; gunicorn starts it earlier (`extensions["sweep"]`)."""
    from app.refresh.scheduler import Embedded, sweeper_for

    wired = wiring(app)
    if wired.settings.scheduler != "embedded" or wired.settings.app_env == "test":
        return
    with app.app_context():
        embedded = Embedded(sweeper_for(db.engine, wired.deps, wired.settings))
    app.extensions["sweep"] = embedded

    @app.before_request
    def _start_sweep() -> None:
        embedded.start()


def register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
