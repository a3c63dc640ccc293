"""The TFLite Micro audio frontend (microWakeWord's features), bit-exact, block by block."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.dsp._audio_input import pcm_int16
from edgekit.dsp._validate import kernels

__all__ = ["FEATURE_SCALE", "MicroFrontend"]

#: microWakeWord feeds its models ``uint16 features * FEATURE_SCALE`` (= 0.0390625 = 10/256).
FEATURE_SCALE = 0.0390625

_I16 = np.dtype(np.int16)


class MicroFrontend:
    """40-channel log filterbank features of 16 kHz int16 audio, bit-exact to TFLite Micro.

    The configuration is the one microWakeWord models are trained with (and that
    ``pymicro-features`` wraps): 30 ms Hann window, 10 ms step, 512-point
    fixed-point FFT, 40 mel channels from 125 Hz to 7500 Hz, noise reduction,
    PCAN gain control and log scale. The integer arithmetic of the C original is
    reproduced exactly, with its start-up tables shipped precomputed
    (``edgekit/dsp/_frontend_tables.py``), so the output does not depend on the
    machine's libm.

    Blocks may have any number of samples: samples are buffered and every call
    returns the frames they complete (state carries across calls). The first
    frame needs 480 samples; then every 160 samples give one more.

    Example:
        >>> fe = MicroFrontend()
        >>> fe.process(np.zeros(480, dtype=np.int16)).shape
        (1, 40)
    """

    sample_rate: int = 16000
    num_channels: int = 40
    window_samples: int = 480
    step_samples: int = 160

    def __init__(self) -> None:
        self._kernel = kernels().frontend_process
        self._buf = np.zeros(self.window_samples, dtype=np.int16)
        self._state = np.zeros(1, dtype=np.int64)
        self._estimate = np.zeros(self.num_channels, dtype=np.int64)

    def reset(self) -> None:
        """Forget buffered samples and the noise estimate (as a new instance)."""
        self._buf[:] = 0
        self._state[:] = 0
        self._estimate[:] = 0

    @property
    def pending_samples(self) -> int:
        """Samples buffered towards the next frame."""
        return int(self._state[0])

    def process(self, samples: np.ndarray | bytes) -> np.ndarray:
        """Feed int16 samples (an int16 array or little-endian bytes); return the new frames.

        Returns:
            uint16 array of shape ``(n_frames, 40)``: the frames completed by this block.
        """
        if (
            type(samples) is not np.ndarray
            or samples.dtype is not _I16
            or samples.ndim != 1
            or not samples.shape[0]
            or not samples.flags.c_contiguous
        ):
            samples = self._check(samples)
        out: np.ndarray = self._kernel(samples, self._buf, self._state, self._estimate)
        return out

    def process_float(self, samples: np.ndarray | bytes) -> np.ndarray:
        """:meth:`process` scaled the way microWakeWord feeds its models (float32, x 0.0390625)."""
        result: np.ndarray = self.process(samples).astype(np.float32) * np.float32(FEATURE_SCALE)
        return result

    @staticmethod
    def _check(samples: Any) -> np.ndarray:
        return pcm_int16(samples, "samples", allow_empty=False)
