"""The test servers' port choice: below the kernel's ephemeral range, distinct, bindable."""

from __future__ import annotations

import socket

import pytest

from tests._support.servers import _ephemeral_low, free_port


def test_free_port_is_outside_the_ephemeral_range_and_never_repeats() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10000 <= port < _ephemeral_low() for port in ports)
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_port_slices_the_space_by_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = {free_port() for _ in range(50)}
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = {free_port() for _ in range(50)}
    assert max(first) < min(second)
