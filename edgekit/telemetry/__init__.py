"""Every layer's figures as Prometheus and OpenTelemetry metrics, device health, resource
limits, telemetry that survives an outage, and a local status page.

The host registers what it has (``Telemetry().observe(queue, engine, inventory)``); every
value is read from the layers' own ``stats()`` / ``status()`` snapshots at scrape time,
so observing costs the hot paths nothing. Names are imported on first use: ``import
edgekit.telemetry`` loads neither prometheus_client, psutil nor aiohttp (the
``telemetry`` extra), nor OpenTelemetry (the ``otel`` extra).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it (imported on first attribute access).
_EXPORTS: dict[str, str] = {
    "Telemetry": "observe",
    "Health": "health",
    "HealthReader": "health",
    "read_health": "health",
    "ResourceGuard": "guard",
    "GuardStats": "guard",
    "GatedEngine": "guard",
    "TelemetryRecorder": "recorder",
    "RecorderStats": "recorder",
    "TelemetryFrame": "recorder",
    "decode_telemetry": "recorder",
    "OtelExporter": "otel",
    "serve": "server",
    "async_serve": "server",
    "Server": "server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit.telemetry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"edgekit.telemetry.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
