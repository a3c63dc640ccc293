"""The test servers' port choice: below the kernel's ephemeral range, distinct, bindable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests._support.servers import Mosquitto, _ephemeral_low, free_port


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


def test_mosquitto_keeps_its_log_and_persistence_in_a_private_folder(tmp_path: Path) -> None:
    """As root, mosquitto would switch to its own user, who cannot enter pytest's 0700
    folders: it then wrote no persistence, and a persistent session was lost across a
    restart (an MQTT outage test failed so)."""
    root = tmp_path / "broker"
    root.mkdir(mode=0o700)
    broker = Mosquitto(root)
    broker.start()
    broker.stop()
    assert (root / "mosquitto.db").exists()
    assert "running" in (root / "mosquitto.log").read_text()
