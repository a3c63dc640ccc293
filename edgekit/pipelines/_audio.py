"""Helpers shared by the audio pipelines: WAV files and package data folders."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import IO

import numpy as np

from edgekit.dsp import _audio_input
from edgekit.dsp.resample import resample
from edgekit.errors import BackendUnavailableError, InvalidInputError

__all__ = ["load_wav", "package_dir", "read_wav"]


def read_wav(path: str | os.PathLike[str], *, sr: int = 16000) -> np.ndarray:
    """The samples of a mono 16-bit PCM WAV file at ``sr`` Hz, as int16.

    Raises:
        InvalidInputError: the file is missing, not a WAV file, or not mono 16-bit at ``sr`` Hz.
    """
    pcm, _ = _audio_input.read_wav(path, sr=sr, mono=True)
    return pcm.reshape(-1)


def load_wav(source: str | os.PathLike[str] | IO[bytes], *, sr: int = 16000) -> np.ndarray:
    """A 16-bit PCM WAV file (a path or a binary file) mixed to mono and resampled to ``sr`` Hz.

    Returns:
        float64 samples at full scale 1.0.

    Raises:
        InvalidInputError: the file is missing, not a 16-bit PCM WAV file, or has no samples.
    """
    pcm, rate = _audio_input.read_wav(source)
    if pcm.size == 0:
        raise InvalidInputError("the WAV file has no samples")
    mono: np.ndarray = pcm.mean(axis=1) / 32768.0
    return mono if rate == sr else resample(mono, rate, sr)


def package_dir(package: str, pip_name: str, *, extra: str | None, hint: str = "") -> Path:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(pip_name, extra=extra, reason=hint or None)
    return Path(next(iter(spec.submodule_search_locations)))
