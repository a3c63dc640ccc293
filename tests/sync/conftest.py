"""Fixtures of the sync tests: a queue, mosquitto, a small disk; the NATS fixtures
(``shared_nats``, ``nats_server``, ``nats_cluster``) are in tests/conftest.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit.sync import SyncQueue
from tests._support.servers import Mosquitto


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[SyncQueue]:
    """A fresh SyncQueue in a temp dir, closed after the test."""
    with SyncQueue(tmp_path / "q") as q:
        yield q


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto broker on a free port of 127.0.0.1."""
    root = tmp_path / "mosquitto"
    root.mkdir()
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
