"""Streaming statistics, change and anomaly detection, and IMU sensor fusion (numba kernels).

Everything works block by block with carried state: feeding a stream in blocks of any size
gives the same output as feeding it whole. Detectors share one protocol (``fit``, ``score``,
``predict``, ``update``, ``state``/``from_state``); fusion filters take gyroscope (rad/s),
accelerometer and optional magnetometer samples and give quaternions ``w, x, y, z``.

Names are imported on first use, so ``import edgekit.analytics`` does not load numba.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it (imported on first attribute access).
_EXPORTS: dict[str, str] = {
    # streaming statistics and change detection (stats.py, change.py)
    "RunningStats": "stats",
    "Ewma": "stats",
    "Rolling": "stats",
    "RollingOutput": "stats",
    "Quantile": "stats",
    "RateOfChange": "stats",
    "Cusum": "change",
    "PageHinkley": "change",
    "Bocpd": "change",
    "ChangeOutput": "change",
    # anomaly detectors (detectors/ or detectors.py), the NAB scorer (nab.py)
    "Detector": "_detector",
    "EwmaZScore": "detectors",
    "HalfSpaceTrees": "detectors",
    "MatrixProfileDiscord": "detectors",
    "ContextNovelty": "contextual",
    # multivariate detectors (multivariate.py)
    "HotellingT2": "multivariate",
    "PcaT2Q": "multivariate",
    "NAB_PROFILES": "nab",
    "NabCorpus": "nab",
    "NabProfile": "nab",
    "NabScore": "nab",
    "detector_likelihoods": "nab",
    "load_nab": "nab",
    "read_nab_results": "nab",
    # IMU sensor fusion and its error measures (fusion.py, broad.py)
    "Madgwick": "fusion",
    "Mahony": "fusion",
    "RobustAhrs": "fusion",
    "Complementary": "fusion",
    "Kalman1D": "fusion",
    "BroadErrors": "broad",
    "broad_errors": "broad",
    "broad_error_angles": "broad",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit.analytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"edgekit.analytics.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
