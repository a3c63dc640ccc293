"""OpenTelemetry export against a real OTLP/HTTP endpoint: an aiohttp server on 127.0.0.1
that decodes the protobuf requests (message classes from opentelemetry-proto)."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

pytest.importorskip("opentelemetry.sdk")
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from edgekit.errors import InvalidInputError
from edgekit.scan import Inventory
from edgekit.sync import SyncQueue
from edgekit.telemetry import OtelExporter, Telemetry
from tests._support.servers import free_port


class OtlpReceiver:
    """POST /v1/metrics: keeps every decoded ExportMetricsServiceRequest."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/metrics"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.content_type == "application/x-protobuf"
        message = ExportMetricsServiceRequest()
        message.ParseFromString(body)
        self.requests.append(message)
        return web.Response(
            body=ExportMetricsServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/metrics", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def points(self) -> dict[str, list[tuple[dict[str, str], float, Any]]]:
        """Metric name -> (attributes, value, the metric) of every point of the last request."""
        out: dict[str, list[tuple[dict[str, str], float, Any]]] = {}
        for rm in self.requests[-1].resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = metric.gauge if metric.HasField("gauge") else metric.sum
                    for p in data.data_points:
                        attrs = {a.key: a.value.string_value for a in p.attributes}
                        value = p.as_double if p.HasField("as_double") else p.as_int
                        out.setdefault(metric.name, []).append((attrs, value, metric))
        return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    server.start()
    yield server
    server.stop()


def test_metrics_arrive_by_otlp(receiver: OtlpReceiver, tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "uplink", max_bytes=2000, eviction="drop_oldest")
    queue.put_many([b"%d" % i for i in range(5)], topic="sensors")
    telemetry = Telemetry().observe(queue)
    with OtelExporter(telemetry, receiver.url, interval_s=3600, resource={"host": "gw1"}) as otel:
        assert otel.force_flush()
        points = receiver.points()
        resource = receiver.requests[-1].resource_metrics[0].resource
        attrs = {a.key: a.value.string_value for a in resource.attributes}
        assert attrs["service.name"] == "edgekit" and attrs["host"] == "gw1"
        (messages,) = points["edgekit_queue_messages"]
        assert messages[0] == {"queue": "uplink", "topic": "sensors"} and messages[1] == 5
        assert messages[2].HasField("gauge")
        (dropped,) = points["edgekit_queue_dropped_messages"]  # a counter: no _total
        assert dropped[1] == 0 and dropped[2].sum.is_monotonic
        assert points["edgekit_queue_stored_bytes"][0][2].unit == "By"
        assert points["edgekit_health_disk_free_bytes"][0][1] > 0
        # what changes is seen at the next export, read once for all instruments
        queue.put_many([b"x" * 300] * 10, topic="sensors")
        reads = otel.reads
        assert otel.force_flush()
        points = receiver.points()
        evicted = queue.stats().evicted
        assert evicted > 0
        assert points["edgekit_queue_dropped_messages"][0][1] == evicted
        assert otel.reads == reads + 1
        # a new series, and a new metric (an object observed later), are exported
        queue.put(b"a", topic="alerts")
        telemetry.observe(Inventory(), name="around")
        otel.force_flush()
        otel.force_flush()
        points = receiver.points()
        assert {a["topic"] for a, _, _ in points["edgekit_queue_messages"]} == {"sensors", "alerts"}
        assert points["edgekit_scan_devices"] == [({"inventory": "around"}, 0.0, ANY)]
    queue.close()


def test_bad_interval() -> None:
    with pytest.raises(InvalidInputError, match="interval_s"):
        OtelExporter(Telemetry(), interval_s=0)
