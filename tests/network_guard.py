"""Keeps the tests on this machine: a socket may connect to loopback or a Unix path only."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class OffLoopback(OSError):
    """A test tried to reach beyond this machine; an OSError, as an unplugged network gives."""


def is_loopback(host: Any) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) or the name localhost; every other name is refused
    before it is resolved, so no DNS query leaves either."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if str(host).lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped and mapped.is_loopback))


def install(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Guard `socket.socket.connect`/`connect_ex` and `socket.create_connection` for this
    process and its threads; returns the list the refused destinations are appended to."""
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def check(family: int, address: Any) -> None:
        if family == getattr(socket, "AF_UNIX", None) or is_loopback(address[0]):
            return
        refused.append(f"{address[0]}:{address[1]}")
        raise OffLoopback(f"tests may not connect to {address[0]}:{address[1]} (loopback only)")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock.family, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock.family, address)
        return real_connect_ex(sock, address)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        check(socket.AF_INET, address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return refused
