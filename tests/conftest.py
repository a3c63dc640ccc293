"""Fixtures shared by every layer's tests; layer fixtures live in tests/<layer>/conftest.py."""

from __future__ import annotations

import os
import sys

# Benchmarks and tests alike: one BLAS thread on this small shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests._support.servers import NatsServer, free_port, wait_cluster_ready

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under the shifted-clock run (noxfile's run_shifted_clock), check the shift took."""
    shift = os.environ.get("EDGEKIT_TEST_CLOCK_SHIFT")
    if shift:
        import time

        seconds, real_now = (float(part) for part in shift.split(":"))
        ahead = time.time() - real_now
        if not seconds - 3600 < ahead < seconds + 86400:
            raise pytest.UsageError(
                f"EDGEKIT_TEST_CLOCK_SHIFT asks for the clock {seconds:.0f} s ahead; "
                f"it is {ahead:.0f} s ahead (is libfaketime preloaded?)"
            )


def _numba_cache_setting() -> tuple[str | None, object]:
    config = sys.modules.get("numba.core.config")
    return os.environ.get("NUMBA_CACHE_DIR"), getattr(config, "CACHE_DIR", None)


@pytest.fixture(autouse=True)
def _keeps_the_numba_cache() -> Iterator[None]:
    """No test may leave its worker pointed at another numba cache: every later kernel of
    the worker, and every subprocess it starts, would compile from scratch (minutes here)."""
    before = _numba_cache_setting()
    yield
    after = _numba_cache_setting()
    if before[0] != after[0] or (before[1] is not None and before[1] != after[1]):
        pytest.fail(f"the test changed numba's cache setting: {before} -> {after}")


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
    """One nats-server -js for the tests that do not stop it (each uses its own stream or
    bucket)."""
    server = NatsServer(tmp_path_factory.mktemp("nats-shared"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three nats-servers with JetStream clustered on 127.0.0.1, ready to place a stream of
    three replicas (a metadata leader elected is not enough on a loaded machine: the first
    R3 stream's creation can still time out while the peers catch up)."""
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
    wait_cluster_ready([s.url for s in servers], 60)
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def speech():
    """``speech(text, voice="en", speed=160, sr=16000)``: espeak-ng speech as int16 samples."""
    from tests._support.audio import speech as synthesize

    return synthesize
