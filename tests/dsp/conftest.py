"""Fixtures of the dsp tests: test signals and the pymicro-features reference."""

from __future__ import annotations

import numpy as np
import pytest

SR = 16000


def pymicro_frames(samples: np.ndarray) -> np.ndarray:
    """Features of ``pymicro-features`` (the C frontend) as uint16, fed 160 samples a call."""
    from pymicro_features import MicroFrontend as Reference

    ref = Reference()
    raw = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    rows = []
    for start in range(0, len(samples) - 159, 160):
        out = ref.process_samples(raw[2 * start : 2 * start + 320])
        if out.features:
            rows.append(np.round(np.asarray(out.features) / 0.0390625).astype(np.uint16))
    return np.asarray(rows, dtype=np.uint16).reshape(-1, 40)


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def test_signals() -> dict[str, np.ndarray]:
    """Named int16 test signals, 1.5 s at 16 kHz."""
    rng = np.random.default_rng(1234)
    n = 24000
    t = np.arange(n) / SR
    out: dict[str, np.ndarray] = {"silence": np.zeros(n, dtype=np.int16)}
    for db in (-60, -40, -20, -6, 0):
        out[f"noise_{db}dBFS"] = _to_int16(rng.standard_normal(n) * 32768 * 10 ** (db / 20))
    out["noise_clipped"] = _to_int16(rng.standard_normal(n) * 32768 * 4)
    sweep_phase = 2 * np.pi * (50 * t + (7950 / (2 * t[-1])) * t**2)
    out["sweep"] = _to_int16(20000 * np.sin(sweep_phase))
    out["sweep_full_scale"] = _to_int16(32767 * np.sin(sweep_phase))
    impulses = np.zeros(n)
    impulses[::4000] = 32767
    impulses[2000::4000] = -32768
    out["impulses"] = _to_int16(impulses)
    for f0 in (100, 1000, 3000):
        out[f"square_{f0}Hz"] = np.where(np.sin(2 * np.pi * f0 * t) >= 0, 32767, -32768).astype(
            np.int16
        )
    out["dc_max"] = np.full(n, 32767, dtype=np.int16)
    out["dc_min"] = np.full(n, -32768, dtype=np.int16)
    out["alternating_extremes"] = np.tile(np.array([32767, -32768], dtype=np.int16), n // 2)
    return out


SIGNALS = test_signals()
test_signals.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def speech_16k(speech) -> np.ndarray:
    """A few seconds of espeak-ng speech (int16, 16 kHz) with silence around it."""
    words = speech("hey jarvis, turn on the kitchen lights please", sr=SR)
    pad = np.zeros(SR // 2, dtype=np.int16)
    return np.concatenate([pad, words, pad])
