"""Audio for tests: espeak-ng speech, named test signals, WAV files, the pymicro-features oracle.

All int16 mono; 16 kHz unless a function takes ``sr``.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

SR = 16000


@functools.lru_cache(maxsize=128)
def _synthesize(text: str, voice: str, speed: int, sr: int) -> bytes:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed: run the tests through `python -m nox -s tests`")
    wav = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "--stdout", text], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        native_sr = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    if native_sr != sr:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sr, native_sr)
        samples = resample_poly(samples, sr // g, native_sr // g)
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16).tobytes()


def speech(text: str, *, voice: str = "en", speed: int = 160, sr: int = SR) -> np.ndarray:
    """``text`` spoken by espeak-ng, as int16 samples at ``sr`` Hz (a fresh, writable array)."""
    return np.frombuffer(_synthesize(text, voice, speed, sr), dtype=np.int16).copy()


def padded(*clips: np.ndarray, gap: int = 8000) -> np.ndarray:
    """Clips joined with ``gap`` samples of silence before, between and after."""
    silence = np.zeros(gap, dtype=np.int16)
    parts = [silence]
    for clip in clips:
        parts += [clip, silence]
    return np.concatenate(parts)


def write_wav(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    """``samples`` written to ``path`` as a 16-bit mono WAV file at ``sr`` Hz; returns ``path``."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sr)
        writer.writeframes(np.asarray(samples).astype("<i2").tobytes())
    return path


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _signals() -> dict[str, np.ndarray]:
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


SIGNALS = _signals()
"""Named int16 test signals, 1.5 s at 16 kHz: silence, noise, sweeps, impulses, squares, DC."""


def pymicro_features(samples: np.ndarray) -> np.ndarray:
    """pymicro-features (the TFLite Micro C frontend) of int16 16 kHz audio: ``[frames, 40]`` float32.

    Fed 10 ms (160 samples) a call, as a microphone would; the values are exact
    multiples of 0.0390625 (the C frontend's uint16 output scaled).
    """
    from pymicro_features import MicroFrontend

    frontend = MicroFrontend()
    data = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    out, pos = [], 0
    while pos + 320 <= len(data):
        result = frontend.process_samples(data[pos : pos + 320])
        pos += result.samples_read * 2
        if result.features:
            out.append(result.features)
    return np.asarray(out, dtype=np.float32).reshape(-1, 40)


def pymicro_frames(samples: np.ndarray) -> np.ndarray:
    """:func:`pymicro_features` as the C frontend's own uint16 values, ``[frames, 40]``."""
    return np.round(pymicro_features(samples) / np.float32(0.0390625)).astype(np.uint16)
