"""Polyphase resampling, as ``scipy.signal.resample_poly``, in one call or block by block."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from edgekit.dsp._audio_input import checked_block
from edgekit.dsp._validate import audio, kernels, positive_int
from edgekit.errors import InvalidInputError

__all__ = ["Resampler", "resample", "resample_filter"]

_F64 = np.dtype(np.float64)


def _ratio(orig_sr: Any, target_sr: Any) -> tuple[int, int]:
    orig = positive_int(orig_sr, "orig_sr")
    target = positive_int(target_sr, "target_sr")
    g = math.gcd(orig, target)
    return target // g, orig // g


@functools.lru_cache(maxsize=32)
def _kaiser_lowpass(up: int, down: int, beta: float) -> np.ndarray:
    max_rate = max(up, down)
    cutoff = 1.0 / max_rate
    half_len = 10 * max_rate
    numtaps = 2 * half_len + 1
    m = np.arange(numtaps) - 0.5 * (numtaps - 1)
    h = cutoff * np.sinc(cutoff * m)
    h = h * np.kaiser(numtaps, beta)
    h = h / np.sum(h)
    h = h * up
    h.setflags(write=False)
    result: np.ndarray = h
    return result


def resample_filter(orig_sr: int, target_sr: int, *, beta: float = 5.0) -> np.ndarray:
    """The FIR low-pass ``resample_poly`` designs: Kaiser window (``beta``), ``20 * max(up, down) + 1`` taps."""
    up, down = _ratio(orig_sr, target_sr)
    h: np.ndarray = _kaiser_lowpass(up, down, float(beta))
    result: np.ndarray = h.copy()
    return result


def _plan(h: np.ndarray, up: int, down: int) -> tuple[np.ndarray, int]:
    """scipy's zero padding of ``h`` and the outputs to skip, so output 0 aligns with input 0."""
    half_len = (h.shape[0] - 1) // 2
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    padded = np.concatenate((np.zeros(n_pre_pad), h))
    return np.ascontiguousarray(padded), n_pre_remove


def _check_filter(filter: Any) -> np.ndarray:
    h = np.asarray(filter, dtype=np.float64)
    if h.ndim != 1 or h.shape[0] == 0 or h.shape[0] % 2 == 0:
        raise InvalidInputError("filter must be 1-D with an odd number of taps")
    if not np.isfinite(h).all():
        raise InvalidInputError("filter contains NaN or infinity")
    return h


class Resampler:
    """Streaming polyphase resampler: blocks in, resampled blocks out.

    The outputs of :meth:`process` followed by :meth:`flush` concatenate to
    exactly :func:`resample` of the whole signal. Each call returns the samples
    whose inputs are known; the filter's look-ahead (about ``10 * max(up, down) /
    up`` input samples) stays buffered until more input or :meth:`flush`.

    Args:
        orig_sr: input sample rate (Hz).
        target_sr: output sample rate (Hz).
        filter: FIR taps (odd length) instead of the default Kaiser design,
            as ``resample_poly``'s ``window`` array (multiplied by ``up`` as there).
        beta: Kaiser window parameter of the default filter.
    """

    def __init__(
        self, orig_sr: int, target_sr: int, *, filter: Any = None, beta: float = 5.0
    ) -> None:
        self.up, self.down = _ratio(orig_sr, target_sr)
        if filter is None:
            h = _kaiser_lowpass(self.up, self.down, float(beta))
        else:
            h = _check_filter(filter) * self.up
        padded, self._skip = _plan(h, self.up, self.down)
        taps = -(-padded.shape[0] // self.up)
        bank = np.zeros(taps * self.up)
        bank[: padded.shape[0]] = padded
        # phase p: taps h[p + up * m], reversed so that a dot product with the inputs ascends
        self._h = np.ascontiguousarray(bank.reshape(taps, self.up).T[:, ::-1])
        self._hist = np.zeros(taps + -(-self.down // self.up) + 2)
        self._state = np.zeros(4, dtype=np.int64)
        self._fn = kernels().resample_stream
        self.reset()

    def reset(self) -> None:
        """Start a new signal."""
        self._hist[:] = 0.0
        self._state[:] = (0, 0, self._skip, -1)
        self._out_dtype: np.dtype[Any] | None = None

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resample one block (int16 scaled by 1/32768, float32 or float64)."""
        block = checked_block(block)
        if self.up == self.down == 1:  # as resample_poly: a copy, no filtering
            if block.dtype.kind == "f" and not np.isfinite(block).all():
                raise InvalidInputError("block contains NaN or infinity")
            self._out_dtype = np.dtype(np.float64) if block.dtype is _F64 else np.dtype(np.float32)
            scale = 1.0 / 32768.0 if block.dtype == np.int16 else 1.0
            copied: np.ndarray = (block * scale).astype(self._out_dtype)
            return copied
        out, ok = self._fn(block, self._h, self.up, self.down, self._hist, self._state, False)
        if not ok:
            raise InvalidInputError(
                "block contains NaN or infinity (the resampler state is unchanged)"
            )
        self._out_dtype = np.dtype(np.float64) if block.dtype is _F64 else np.dtype(np.float32)
        result: np.ndarray = out if block.dtype is _F64 else out.astype(np.float32)
        return result

    def flush(self) -> np.ndarray:
        """The remaining output samples (inputs past the end count as zeros); then reset."""
        if self.up == self.down == 1:
            dtype0 = self._out_dtype or np.dtype(np.float64)
            self.reset()
            return np.zeros(0, dtype=dtype0)
        n_in = int(self._state[0])
        n_out = n_in * self.up
        n_out = n_out // self.down + bool(n_out % self.down)
        self._state[3] = n_out + self._skip
        out, _ = self._fn(np.zeros(0), self._h, self.up, self.down, self._hist, self._state, True)
        dtype = self._out_dtype or np.dtype(np.float64)
        self.reset()
        result: np.ndarray = out.astype(dtype, copy=False)
        return result


def resample(
    x: np.ndarray, orig_sr: int, target_sr: int, *, filter: Any = None, beta: float = 5.0
) -> np.ndarray:
    """Resample ``x`` from ``orig_sr`` to ``target_sr`` Hz, as ``scipy.signal.resample_poly``.

    ``ceil(len(x) * up / down)`` samples come out, where ``up / down`` is the
    reduced ratio ``target_sr / orig_sr`` (equal rates: a copy, as scipy). The default filter is scipy's
    (Kaiser window, beta 5); give ``filter`` (odd number of taps) for another.
    Output is float64 for float64 input and float32 otherwise (int16 is scaled
    by 1/32768).
    """
    x = audio(x, "x")
    r = Resampler(orig_sr, target_sr, filter=filter, beta=beta)
    head = r.process(np.ascontiguousarray(x))
    return np.concatenate((head, r.flush()))
