"""NATS fixtures of the state tests: a shared nats-server -js, a fresh one a test may
stop, and a 3-server JetStream cluster (tests/_support/servers.py)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.servers import NatsServer, free_port

_BUCKETS = itertools.count(1)


@pytest.fixture
def bucket() -> str:
    """A bucket name no other test of the session uses (tests share one server)."""
    return f"state{next(_BUCKETS)}"


@pytest.fixture(scope="session")
def shared_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server -js for the state tests that do not stop it (each its own bucket)."""
    server = NatsServer(tmp_path_factory.mktemp("state-nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh single nats-server -js for one test (it may stop and restart it)."""
    server = NatsServer(tmp_path / "nats")
    server.root.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three nats-servers with JetStream clustered on 127.0.0.1, a metadata leader elected."""
    root = tmp_path / "cluster"
    root.mkdir()
    cports = [free_port() for _ in range(3)]
    servers = [
        NatsServer(root, name=f"n{i + 1}", cluster=cports, cluster_port=cports[i]) for i in range(3)
    ]
    for server in servers:
        server.start(wait=False)
    for server in servers:
        server.wait_ready(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = "".join(s.log.read_text(errors="replace") for s in servers)
        if "JetStream cluster new metadata leader" in logs:
            break
        time.sleep(0.1)
    yield servers
    for server in servers:
        server.stop()
