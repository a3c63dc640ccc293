"""Input checks shared by the public dsp functions; every failure is an InvalidInputError."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit._jit import lazy_kernels
from edgekit.errors import InvalidInputError

#: The numba kernels module, imported on first use and cached.
kernels = lazy_kernels("dsp")


AUDIO_DTYPES = (np.dtype(np.int16), np.dtype(np.float32), np.dtype(np.float64))


def audio(x: Any, name: str = "y", *, allow_empty: bool = False) -> np.ndarray:
    """``x`` as a 1-D int16/float32/float64 array with finite values."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x, dtype=np.float64)
        else:
            raise InvalidInputError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in AUDIO_DTYPES:
        raise InvalidInputError(f"{name} must have dtype int16, float32 or float64, got {x.dtype}")
    if x.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D (mono samples), got shape {x.shape}")
    if x.size == 0 and not allow_empty:
        raise InvalidInputError(f"{name} is empty")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    result: np.ndarray = x
    return result


def float_audio(x: Any, name: str = "y") -> np.ndarray:
    """Like :func:`audio`; int16 becomes float32 in [-1, 1) (divided by 32768)."""
    arr = audio(x, name)
    if arr.dtype == np.int16:
        scaled: np.ndarray = arr.astype(np.float32) / np.float32(32768.0)
        return scaled
    return arr


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
