"""Helpers shared by the audio pipelines: WAV reading, sample checks, package data folders."""

from __future__ import annotations

import importlib.util
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import BackendUnavailableError, InvalidInputError

__all__ = ["as_int16", "package_dir", "read_wav"]


def read_wav(path: str | os.PathLike[str], *, sr: int = 16000) -> np.ndarray:
    """The samples of a mono 16-bit PCM WAV file at ``sr`` Hz, as int16.

    Raises:
        InvalidInputError: the file is missing, not a WAV file, or not mono 16-bit at ``sr`` Hz.
    """
    try:
        with wave.open(os.fspath(path), "rb") as reader:
            rate = reader.getframerate()
            width = reader.getsampwidth()
            channels = reader.getnchannels()
            frames = reader.readframes(reader.getnframes())
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{path}: no such file") from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise InvalidInputError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    problems = []
    if rate != sr:
        problems.append(f"{rate} Hz instead of {sr} Hz")
    if width != 2:
        problems.append(f"{8 * width}-bit instead of 16-bit samples")
    if channels != 1:
        problems.append(f"{channels} channels instead of mono")
    if problems:
        raise InvalidInputError(
            f"{path}: needs {sr} Hz mono 16-bit PCM, got "
            + ", ".join(problems)
            + " (convert it, e.g. `sox in.wav -r 16000 -c 1 -b 16 out.wav`)"
        )
    return np.frombuffer(frames, dtype="<i2").astype(np.int16)


def as_int16(samples: Any, what: str = "samples") -> np.ndarray:
    """A 1-D C-contiguous int16 array from an int16 array or little-endian PCM bytes."""
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raw = bytes(samples)
        if len(raw) % 2:
            raise InvalidInputError(f"{what} as bytes must have an even length, got {len(raw)}")
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if not isinstance(samples, np.ndarray):
        raise InvalidInputError(
            f"{what} must be an int16 numpy array or PCM bytes, not {type(samples).__name__}"
        )
    if samples.dtype != np.int16:
        raise InvalidInputError(
            f"{what} must be int16 PCM, got dtype {samples.dtype}"
            " (convert float audio with np.clip(x * 32768, -32768, 32767).astype(np.int16))"
        )
    if samples.ndim != 1:
        raise InvalidInputError(f"{what} must be 1-D (mono), got shape {samples.shape}")
    return np.ascontiguousarray(samples)


def package_dir(package: str, pip_name: str, *, extra: str | None, hint: str = "") -> Path:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(pip_name, extra=extra, reason=hint or None)
    return Path(next(iter(spec.submodule_search_locations)))
