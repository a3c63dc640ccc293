"""edgekit: composable building blocks for software that runs at the edge.

Seven layers, each a subpackage that is imported on first use, so that
``import edgekit`` stays fast and needs only the core dependencies:

- :mod:`edgekit.scan`: mDNS, BLE and WiFi scanners and a device inventory.
- :mod:`edgekit.infer`: one inference engine over ONNX Runtime and LiteRT.
- :mod:`edgekit.dsp`: streaming audio features and filters (numba).
- :mod:`edgekit.codec`: lossless compression of sensor series and blob deltas (numba).
- :mod:`edgekit.sync`: an LMDB store-and-forward queue that syncs to NATS, MQTT or HTTP.
- :mod:`edgekit.analytics`: streaming statistics, change and anomaly detection, IMU fusion (numba).
- :mod:`edgekit.state`: local-first replicated state and device twins, synced through NATS KeyValue.

:mod:`edgekit.pipelines` wires the layers into ready applications; :mod:`edgekit.telemetry`
makes every layer observable (Prometheus, OpenTelemetry, a local status page).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgekit.errors import (
    BackendUnavailableError,
    CorruptDataError,
    EdgekitError,
    InferenceError,
    InvalidInputError,
    ModelLoadError,
    QueueError,
    QueueFullError,
    ResourceLimitError,
    ScanError,
    StateError,
    TransportConfigError,
    TransportError,
)

__version__ = "0.1.0"

#: The layer packages, imported lazily on first attribute access.
LAYERS: tuple[str, ...] = ("scan", "infer", "dsp", "codec", "sync", "analytics", "state")

__all__ = [
    "LAYERS",
    "BackendUnavailableError",
    "CorruptDataError",
    "EdgekitError",
    "InferenceError",
    "InvalidInputError",
    "ModelLoadError",
    "QueueError",
    "QueueFullError",
    "ResourceLimitError",
    "ScanError",
    "StateError",
    "TransportConfigError",
    "TransportError",
    "__version__",
    "warmup",
]

_SUBPACKAGES = (*LAYERS, "pipelines", "telemetry", "errors")

if TYPE_CHECKING:
    from edgekit import (  # noqa: F401
        analytics,
        codec,
        dsp,
        infer,
        pipelines,
        scan,
        state,
        sync,
        telemetry,
    )


def warmup(layers: tuple[str, ...] | None = None) -> dict[str, float]:
    """Compile (or load from cache) the numba kernels of ``layers`` (all by default).

    Returns seconds spent per layer with kernels. A second process finds them in the
    cache (see ``docs/jit.md``). Then drops the page cache of the native libraries the
    layers map, so that a process started after an install maps only the pages it uses
    (see ``docs/small-devices.md``).

    Raises:
        InvalidInputError: a name that is not one of :data:`LAYERS`.
    """
    from edgekit._jit import warmup as _warmup

    chosen = LAYERS if layers is None else tuple(layers)
    unknown = [layer for layer in chosen if layer not in LAYERS]
    if unknown:
        from edgekit.errors import InvalidInputError

        raise InvalidInputError(f"unknown layer {unknown[0]!r}; expected one of {LAYERS}")
    timings = _warmup(chosen)
    from edgekit._memory import drop_cached_libraries

    drop_cached_libraries()
    return timings


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"edgekit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBPACKAGES})
