"""edgekit: composable building blocks for software that runs at the edge.

Five layers, each a subpackage that is imported on first use, so that
``import edgekit`` stays fast and needs only the core dependencies:

- :mod:`edgekit.scan`: mDNS, BLE and WiFi scanners and a device inventory.
- :mod:`edgekit.infer`: one inference engine over ONNX Runtime and LiteRT.
- :mod:`edgekit.dsp`: streaming audio features and filters (numba).
- :mod:`edgekit.codec`: lossless compression of sensor series and blob deltas (numba).
- :mod:`edgekit.sync`: an LMDB store-and-forward queue that syncs to NATS, MQTT or HTTP.

:mod:`edgekit.pipelines` wires the layers into ready applications.
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
    ScanError,
    TransportError,
)

__version__ = "0.1.0"

#: The layer packages, imported lazily on first attribute access.
LAYERS: tuple[str, ...] = ("scan", "infer", "dsp", "codec", "sync")

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
    "ScanError",
    "TransportError",
    "__version__",
    "warmup",
]

_SUBPACKAGES = (*LAYERS, "pipelines", "errors")

if TYPE_CHECKING:
    from edgekit import codec, dsp, infer, pipelines, scan, sync  # noqa: F401


def warmup(layers: tuple[str, ...] | None = None) -> dict[str, float]:
    """Compile the numba kernels of the given layers (all by default); see :func:`edgekit._jit.warmup`."""
    from edgekit._jit import warmup as _warmup

    return _warmup(layers)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"edgekit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBPACKAGES})
