"""Real servers for the sync tests: nats-server (JetStream, single and a 3-node cluster), mosquitto."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit.sync import SyncQueue
from tests._support.servers import Mosquitto, NatsServer, free_port


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[SyncQueue]:
    """A fresh SyncQueue in a temp dir, closed after the test."""
    with SyncQueue(tmp_path / "q") as q:
        yield q


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh single nats-server -js for one test (it may stop and restart it)."""
    server = NatsServer(tmp_path / "nats")
    server.root.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server -js for the tests that do not stop it (each uses its own stream)."""
    server = NatsServer(tmp_path_factory.mktemp("nats-shared"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three nats-servers with JetStream clustered on 127.0.0.1."""
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
    # Wait until JetStream has a meta leader.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = "".join(s.log.read_text(errors="replace") for s in servers)
        if "JetStream cluster new metadata leader" in logs:
            break
        time.sleep(0.1)
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto broker on a free port of 127.0.0.1."""
    root = tmp_path / "mosquitto"
    root.mkdir()
    os.chmod(root, 0o777)  # mosquitto may drop privileges when run as root
    broker = Mosquitto(root)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs: a disk that fills up. Mounting needs root, as CI has; without it
    these tests fail and say so (a skip would leave the full-disk path untested)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"the full-disk tests mount a 6 MiB tmpfs and need root: {done.stderr.decode().strip()}"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
