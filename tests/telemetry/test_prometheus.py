"""A real Prometheus scrapes ``serve``: the values its HTTP API answers are the layers' own."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue
from edgekit.telemetry import Telemetry, serve
from tests._support.servers import Prometheus
from tests.infer.models import silero_feeds

DOCS = Path(__file__).parents[2] / "docs" / "telemetry.md"


def wait_for(prometheus: Prometheus, expr: str, expected: float, timeout: float = 20.0) -> None:
    """Until Prometheus answers ``expr`` with one sample equal to ``expected``."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = prometheus.query(expr)
        if len(found) == 1 and float(found[0]["value"][1]) == expected:  # type: ignore[index]
            return
        time.sleep(0.25)
    raise AssertionError(f"{expr}: expected {expected}, Prometheus has {found}")


def test_prometheus_scrapes_what_the_layers_hold(
    tmp_path: Path, prometheus: Prometheus, vad: Any
) -> None:
    with SyncQueue(tmp_path / "uplink") as q:
        engine = SyncEngine(q, DirectoryTransport(tmp_path / "out"))
        q.put_many([b"sent %d" % i for i in range(4)], topic="early")
        assert engine.sync_now(10) == 4
        q.put_many([b"a" * 100] * 7, topic="alpha")
        q.put_many([b"b" * 10] * 3, topic="beta")
        calls = vad.stats().calls
        for _ in range(25):
            vad.run(silero_feeds())
        stats = vad.stats()
        telemetry = Telemetry(data_dir=tmp_path).observe(q, engine, vad, name=None)
        with serve(telemetry, port=prometheus.target_port):
            wait_for(prometheus, 'up{job="edgekit"}', 1)
            wait_for(prometheus, 'edgekit_queue_messages{queue="uplink",topic="alpha"}', 7)
            wait_for(prometheus, 'edgekit_queue_messages{queue="uplink",topic="beta"}', 3)
            wait_for(prometheus, 'edgekit_queue_depth_messages{queue="uplink"}', 10)
            wait_for(prometheus, 'edgekit_sync_sent_messages_total{engine="uplink"}', 4)
            wait_for(prometheus, "edgekit_infer_calls_total", calls + 25)
            p99 = prometheus.query('edgekit_infer_latency_seconds{percentile="99"}')
            assert float(p99[0]["value"][1]) == pytest.approx(stats.p99_us / 1e6)  # type: ignore[index]
            free = prometheus.query("edgekit_health_disk_free_bytes")
            assert float(free[0]["value"][1]) > 0  # type: ignore[index]
            # The queue changes; the next scrapes see it.
            q.put_many([b"c"] * 5, topic="alpha")
            wait_for(prometheus, 'edgekit_queue_messages{queue="uplink",topic="alpha"}', 12)
            wait_for(prometheus, "sum by (queue) (edgekit_queue_messages)", 15)
            # The docs' Grafana queries: Prometheus accepts each, and each metric exists.
            names = set(re.findall(r"^# TYPE (\w+) ", telemetry.metrics_text().decode(), re.M))
            names |= {f"{n}_total" for n in names}  # a counter's family name drops _total
            queries = re.findall(r"```promql\n(.*?)```", DOCS.read_text(), re.S)
            assert len(queries) >= 5
            for query in queries:
                prometheus.query(query.strip())  # asserts status "success"
                assert set(re.findall(r"edgekit_\w+", query)) <= names, query
        engine.close()
