"""Factorial clients for the configured environments, built from settings per use."""

from __future__ import annotations

from app.factorial import FactorialClient
from app.web.security import settings


def client_for(environment: str) -> FactorialClient:
    """A client for a configured environment; KeyError when it is not configured."""
    s = settings()
    return FactorialClient(
        s.environments[environment],
        connect_timeout=s.factorial_connect_timeout,
        read_timeout=s.factorial_read_timeout,
    )
