"""Read-only samples (``np.frombuffer`` of audio bytes, as they arrive from a socket or a
file) reach the dsp kernels as writable arrays, so the warm-up's compiled kernels serve them:
numba compiles a kernel again for a read-only array (``mfcc`` took 4.8 s after
``edgekit.warmup()``)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit import dsp
from edgekit.dsp._validate import kernels
from tests._support.kernels import spy_read_only


def _run_all(y: np.ndarray) -> None:
    sos = dsp.butter(4, 1000, sr=16000)
    dsp.mfcc(y=y, sr=16000)
    dsp.melspectrogram(y=y, sr=16000)
    dsp.stft(y)
    dsp.sosfilt(sos, y)
    dsp.resample(y, 16000, 8000)
    dsp.preemphasis(y)
    dsp.LevelMeter().process(y)
    dsp.MfccStream(sr=16000).process(y)


@pytest.mark.parametrize("dtype", ["<f4", "<i2"])
def test_read_only_samples_reach_the_kernels_as_writable_ones(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    y = (rng.standard_normal(8000) * (0.1 if dtype == "<f4" else 3000)).astype(dtype)
    frozen = np.frombuffer(y.tobytes(), dtype=dtype)
    assert not frozen.flags.writeable
    _run_all(y)  # (every kernel compiled first: kernels call each other as module globals)
    seen = spy_read_only(kernels(), monkeypatch)
    _run_all(y)
    constants = set(seen)  # (read-only tables of the library's own, the same every call)
    seen.clear()
    _run_all(frozen)
    assert seen == constants
