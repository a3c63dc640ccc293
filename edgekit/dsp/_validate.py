"""Input checks shared by the public dsp functions; every failure is an InvalidInputError."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit._jit import lazy_kernels
from edgekit.dsp._audio_input import AUDIO_DTYPES as AUDIO_DTYPES
from edgekit.dsp._audio_input import audio as audio
from edgekit.dsp._audio_input import to_float
from edgekit.errors import InvalidInputError

#: The numba kernels module, imported on first use and cached.
kernels = lazy_kernels("dsp")


def float_audio(x: Any, name: str = "y") -> np.ndarray:
    """Like :func:`audio`; int16 becomes float32 in [-1, 1) (divided by 32768)."""
    return to_float(audio(x, name))


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an int, got {value!r}")
    if value <= 0:
        raise InvalidInputError(f"{name} must be positive, got {value}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(out) or out <= 0:
        raise InvalidInputError(f"{name} must be a positive finite number, got {value!r}")
    return out
