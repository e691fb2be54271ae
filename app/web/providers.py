"""Factorial clients, refresh policy and notifier for the running app (`app.wiring`)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine

from app.factorial import FactorialClient
from app.infra.read_cache import ReadCache
from app.refresh.policy import RefreshPolicy
from app.services.notify import Notifier
from app.wiring import wiring


def client_for(environment: str) -> FactorialClient:
    """A client for a configured environment; KeyError when it is not configured."""
    return wiring().deps.clients(environment)


def policy(app: Flask | None = None) -> RefreshPolicy:
    return wiring(app).deps.policy


def notifier() -> Notifier:
    return wiring().deps.notifier


def read_cache() -> ReadCache | None:
    return wiring().read_cache


def read_engine() -> Engine:
    return wiring().read_engine
