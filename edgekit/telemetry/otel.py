""":class:`OtelExporter`: the same metrics as OpenTelemetry observable instruments, read by
callbacks at collection time and exported over OTLP/HTTP (the ``otel`` extra).

Each :class:`~edgekit.telemetry.metrics.Family` becomes one instrument: a gauge an
observable gauge, a counter an observable counter named without ``_total`` (OTLP's
Prometheus conversion adds it back); units in UCUM (``By``, ``s``, ``1``, ``Cel``); labels
become attributes. One collection reads every observed object once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from edgekit.errors import BackendUnavailableError, InvalidInputError

if TYPE_CHECKING:
    from edgekit.telemetry.metrics import Family
    from edgekit.telemetry.observe import Telemetry

__all__ = ["OtelExporter"]

_UCUM = {"bytes": "By", "seconds": "s", "ratio": "1", "celsius": "Cel"}


def _otel() -> dict[str, Any]:
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.metrics import Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
    except ImportError as exc:
        raise BackendUnavailableError("OpenTelemetry SDK and OTLP exporter", extra="otel") from exc
    return {
        "OTLPMetricExporter": OTLPMetricExporter,
        "Observation": Observation,
        "MeterProvider": MeterProvider,
        "PeriodicExportingMetricReader": PeriodicExportingMetricReader,
        "Resource": Resource,
    }


class OtelExporter:
    """Exports ``telemetry``'s metrics by OTLP/HTTP every ``interval_s`` (its own
    ``MeterProvider``; the global one is left alone).

    Args:
        telemetry: What to export.
        endpoint: The OTLP/HTTP metrics URL (``http://collector:4318/v1/metrics``).
        interval_s: Seconds between exports.
        headers: HTTP headers of each export (an API key).
        resource: Resource attributes (``service.name`` defaults to ``"edgekit"``).
        timeout_s: Seconds an export may take.

    Raises:
        BackendUnavailableError: The ``otel`` extra is not installed.
        InvalidInputError: ``interval_s`` is not positive.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        endpoint: str = "http://127.0.0.1:4318/v1/metrics",
        *,
        interval_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        resource: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not interval_s > 0:
            raise InvalidInputError(f"interval_s must be > 0, not {interval_s!r}")
        otel = _otel()
        self.telemetry = telemetry
        self.endpoint = endpoint
        self._observation = otel["Observation"]
        exporter = otel["OTLPMetricExporter"](
            endpoint=endpoint, headers=dict(headers or {}), timeout=timeout_s
        )
        self._reader = otel["PeriodicExportingMetricReader"](
            exporter, export_interval_millis=interval_s * 1000
        )
        attributes = {"service.name": "edgekit", **dict(resource or {})}
        self._provider = otel["MeterProvider"](
            metric_readers=[self._reader],
            resource=otel["Resource"].create(attributes),
            shutdown_on_exit=False,
        )
        self._meter = self._provider.get_meter("edgekit.telemetry")
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._instruments: dict[str, Any] = {}
        self._families: dict[str, Family] = {}
        self._read_at = -1.0
        self.reads = 0
        self._refresh(force=True)

    def _refresh(self, *, force: bool = False, create: bool = True) -> dict[str, Family]:
        """The families, read at most once per collection (the callbacks of one collection
        run within milliseconds of each other). Instruments for new names are made here
        when ``create``; a callback (inside a collection, where the SDK holds its lock)
        leaves that to a short thread, so they are exported from the next collection on."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._read_at > 0.5:
                self._families = {f.name: f for f in self.telemetry.families()}
                self._read_at = now
                self.reads += 1
            families = self._families
            new = [f for name, f in families.items() if name not in self._instruments]
        if new:
            if create:
                self._create(new)
            else:
                threading.Thread(target=self._create, args=(new,), daemon=True).start()
        return families

    def _create(self, families: list[Family]) -> None:
        with self._create_lock:
            for family in families:
                if family.name not in self._instruments:
                    self._instruments[family.name] = self._make(family)

    def _make(self, family: Family) -> Any:
        name = family.name
        unit = _UCUM.get(family.unit, "")

        def callback(options: Any) -> Iterable[Any]:
            found = self._refresh(create=False).get(name)
            if found is None:
                return []
            return [self._observation(value, labels) for labels, value in found.samples]

        if family.type == "counter":
            return self._meter.create_observable_counter(
                name.removesuffix("_total"), [callback], unit=unit, description=family.help
            )
        return self._meter.create_observable_gauge(
            name, [callback], unit=unit, description=family.help
        )

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Collect and export now; True when the export succeeded in time."""
        self._refresh(force=True)  # a fresh reading, and instruments for new names
        return bool(self._provider.force_flush(int(timeout_s * 1000)))

    def shutdown(self) -> None:
        """Export a last time and stop the export thread."""
        self._provider.shutdown()

    def __enter__(self) -> OtelExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
