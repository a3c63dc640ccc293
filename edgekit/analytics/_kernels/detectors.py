"""Kernels of the anomaly detectors (``edgekit.analytics.detectors`` and ``_detector``)."""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit


@njit
def hysteresis(scores, on, off, alarm):
    """Alarms of ``scores``: on above ``on``, off below ``off``, else the previous value.

    ``alarm`` is the alarm before the first score; NaN scores keep the previous value.
    Returns (alarms, last alarm).
    """
    out = np.empty(scores.shape[0], dtype=np.bool_)
    for i in range(scores.shape[0]):
        s = scores[i]
        if s > on:
            alarm = True
        elif s < off:
            alarm = False
        out[i] = alarm
    return out, alarm
