"""Factorial clients, refresh policy and notifier for the running app, built from settings."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app
from sqlalchemy import Engine

from app.factorial import FactorialClient
from app.read_cache import ReadCache
from app.services import notify, tokens
from app.sweeper import client_factory, notifier_from, policy_from
from app.web.security import settings


def client_for(environment: str) -> FactorialClient:
    """A client for a configured environment; KeyError when it is not configured. The factory
    (and its per-thread keep-alive sessions) lives as long as the app."""
    factory = current_app.extensions.get("factorial_clients")
    if factory is None:
        factory = current_app.extensions.setdefault("factorial_clients", client_factory(settings()))
    return factory(environment)


def policy(app: Flask | None = None) -> tokens.RefreshPolicy:
    """The refresh policy from the app's settings (the current app's by default), built once:
    settings never change after start, and the token endpoint asks on every call."""
    if app is None:
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    found: tokens.RefreshPolicy | None = app.extensions.get("refresh_policy")
    if found is None:
        found = app.extensions.setdefault("refresh_policy", policy_from(app.extensions["settings"]))
    return found


def notifier() -> notify.Notifier:
    return notifier_from(settings())


def read_cache() -> ReadCache | None:
    """Where the token endpoint remembers its read (`app.read_cache`); None when off."""
    cache: ReadCache | None = current_app.extensions.get("read_cache")
    return cache


def read_engine() -> Engine:
    """Where prepared reads (`app.reads`) run."""
    engine: Engine = current_app.extensions["read_engine"]
    return engine
