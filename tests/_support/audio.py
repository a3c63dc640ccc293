"""Real speech for tests: ``espeak-ng`` synthesis at 16 kHz, int16 mono."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave

import numpy as np
import pytest


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


def speech(text: str, *, voice: str = "en", speed: int = 160, sr: int = 16000) -> np.ndarray:
    """``text`` spoken by espeak-ng, as int16 samples at ``sr`` Hz (a fresh, writable array)."""
    return np.frombuffer(_synthesize(text, voice, speed, sr), dtype=np.int16).copy()
