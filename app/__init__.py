"""Factorial Connect: connect Factorial HR accounts and keep their tokens alive."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app.infra.settings import Settings, SettingsError
from app.infra.settings.environment import load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; in production, exit non-zero with one line per configuration problem."""
    instance = (overrides or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance or ROOT / "instance").resolve()),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    settings = _settings_or_exit(app, overrides)
    from app import bootstrap

    bootstrap.register_config(app, settings, overrides or {})
    bootstrap.register_logging(app, settings)
    bootstrap.register_extensions(app, settings)
    bootstrap.register_wiring(app, settings)
    bootstrap.register_security(app, settings)
    bootstrap.register_templating(app)
    bootstrap.register_errors(app)
    bootstrap.register_blueprints(app)
    bootstrap.register_cli(app)
    bootstrap.register_scheduler(app)
    return app


def _settings_or_exit(app: Flask, overrides: Mapping[str, Any] | None) -> Settings:
    try:
        return load_settings(instance_path=Path(app.instance_path), overrides=overrides)
    except SettingsError as exc:
        print("Factorial Connect cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2) from None
