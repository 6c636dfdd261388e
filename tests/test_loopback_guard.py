"""The suite's safety net: a test that tries to leave the machine fails instead of connecting."""

from __future__ import annotations

import socket

import pytest


def test_connecting_outside_loopback_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(ConnectionRefusedError, match="only reach loopback"),
    ):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet is sent


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
