"""Fixtures of the telemetry tests: a real Prometheus, a headless Chromium (both one per
session), a real inference model (Silero VAD, ONNX) and a queue observed by a Telemetry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.servers import Prometheus


@pytest.fixture(scope="session", autouse=True)
def _prometheus_early(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus | None]:
    """Prometheus, started with the first telemetry test when a test of the run needs it:
    its first scrape comes about 5 s after it starts (its discovery's throttle), time the
    other tests use meanwhile."""
    if not any("prometheus" in getattr(i, "fixturenames", ()) for i in request.session.items):
        yield None
        return
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus(_prometheus_early: Prometheus | None) -> Prometheus:
    """Debian's prometheus on 127.0.0.1, scraping ``127.0.0.1:<target_port>`` every 0.5 s."""
    assert _prometheus_early is not None
    return _prometheus_early


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (selenium), resolving no name: nothing beyond 127.0.0.1."""
    from tests._support.browser import available, chromium

    missing = available()
    assert missing is None, missing
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def vad() -> Iterator[Any]:
    """An InferenceEngine of Silero VAD's ONNX model (the silero-vad package's file)."""
    from edgekit.infer import InferenceEngine
    from tests.infer.models import silero_path

    with InferenceEngine(silero_path(), warmup=1) as engine:
        yield engine


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Any]:
    from edgekit.sync import SyncQueue

    with SyncQueue(tmp_path / "queue") as q:
        yield q
