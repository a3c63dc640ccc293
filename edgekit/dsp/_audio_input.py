"""Audio input in one place: PCM samples checked and converted, and 16-bit WAV files read.

The dsp functions, the wake-word frontend and the audio pipelines all take samples
through :func:`samples`, so they accept the same inputs and say the same thing about
bad ones. Every failure is an :class:`~edgekit.errors.InvalidInputError`.
"""

from __future__ import annotations

import os
import wave
from typing import IO, Any

import numpy as np

from edgekit._jit import kernel_view
from edgekit.errors import InvalidInputError

__all__ = [
    "AUDIO_DTYPES",
    "audio",
    "checked_block",
    "pcm_int16",
    "read_wav",
    "samples",
    "to_float",
    "to_int16",
]

_INT16 = np.dtype(np.int16)
AUDIO_DTYPES = (_INT16, np.dtype(np.float32), np.dtype(np.float64))


def samples(
    x: Any, name: str = "samples", *, floats: bool = True, allow_empty: bool = False
) -> np.ndarray:
    """``x`` (a numpy array, or little-endian int16 PCM bytes) as checked 1-D samples.

    Args:
        x: The samples.
        name: What ``x`` is called in error messages.
        floats: Accept float32/float64 samples (finite, full scale 1.0) besides int16.
        allow_empty: Accept zero samples.
    """
    if isinstance(x, (bytes, bytearray, memoryview)):
        raw = bytes(x)
        if len(raw) % 2:
            raise InvalidInputError(f"{name} as PCM bytes must have an even length, got {len(raw)}")
        x = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if not isinstance(x, np.ndarray):
        raise InvalidInputError(
            f"{name} must be a numpy array or PCM bytes, got {type(x).__name__}"
        )
    if floats and x.dtype not in AUDIO_DTYPES:
        raise InvalidInputError(
            f"{name} must be int16 PCM or float samples (dtype int16, float32 or float64), got {x.dtype}"
        )
    if not floats and x.dtype != _INT16:
        raise InvalidInputError(
            f"{name} must be int16 PCM, got dtype {x.dtype}"
            " (convert float audio with np.clip(x * 32768, -32768, 32767).astype(np.int16))"
        )
    if x.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D (mono samples), got shape {x.shape}")
    if x.size == 0 and not allow_empty:
        raise InvalidInputError(f"{name} is empty")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    # (read-only samples, as np.frombuffer gives from bytes, would compile every kernel
    # again: mfcc 4.8 s after the warm-up)
    return kernel_view(x)


def audio(x: Any, name: str = "y", *, allow_empty: bool = False) -> np.ndarray:
    """:func:`samples` for the dsp functions, which also take a list or tuple (as float64)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=np.float64)
    return samples(x, name, allow_empty=allow_empty)


def checked_block(x: Any, name: str = "block") -> np.ndarray:
    """A stream's block ready for its kernel: a 1-D C-contiguous int16/float32/float64 array
    with samples passes as it is (NaN is the kernel's to check); anything else goes through
    :func:`audio`."""
    if (
        type(x) is np.ndarray
        and x.ndim == 1
        and x.dtype in AUDIO_DTYPES
        and x.shape[0]
        and x.flags.c_contiguous
        and x.flags.writeable
    ):
        return x
    return np.ascontiguousarray(audio(x, name))


def pcm_int16(x: Any, name: str = "samples", *, allow_empty: bool = True) -> np.ndarray:
    """A 1-D C-contiguous int16 array from an int16 array or little-endian PCM bytes."""
    return np.ascontiguousarray(samples(x, name, floats=False, allow_empty=allow_empty))


def to_float(x: np.ndarray) -> np.ndarray:
    """int16 samples as float32 in [-1, 1) (divided by 32768); float samples unchanged."""
    if x.dtype == _INT16:
        scaled: np.ndarray = x.astype(np.float32) / np.float32(32768.0)
        return scaled
    return x


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples at full scale 1.0 as int16 PCM (times 32768, rounded and clipped)."""
    out: np.ndarray = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return out


def read_wav(
    source: str | os.PathLike[str] | IO[bytes], *, sr: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """The samples of a 16-bit PCM WAV file, int16 of shape ``(frames, channels)``, and its rate.

    Args:
        source: A path, or a binary file object holding the WAV data.
        sr: The only sample rate (Hz) to accept; None accepts any.
        mono: Accept only one channel.

    Raises:
        InvalidInputError: the file is missing, not a WAV file, or not in the format asked for.
    """
    opened: str | IO[bytes] = source if not isinstance(source, os.PathLike) else os.fspath(source)
    where = opened if isinstance(opened, str) else "WAV data"
    try:
        with wave.open(opened, "rb") as reader:
            rate = reader.getframerate()
            width = reader.getsampwidth()
            channels = reader.getnchannels()
            frames = reader.readframes(reader.getnframes())
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{where}: no such file") from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise InvalidInputError(f"{where}: not a readable WAV file ({exc})") from exc
    problems = []
    if sr is not None and rate != sr:
        problems.append(f"{rate} Hz instead of {sr} Hz")
    if width != 2:
        problems.append(f"{8 * width}-bit instead of 16-bit samples")
    if mono and channels != 1:
        problems.append(f"{channels} channels instead of mono")
    if problems:
        wanted = [f"{sr} Hz"] * (sr is not None) + ["mono"] * mono + ["16-bit PCM"]
        flags = [f"-r {sr}"] * (sr is not None) + ["-c 1"] * mono + ["-b 16"]
        raise InvalidInputError(
            f"{where}: needs {' '.join(wanted)}, got {', '.join(problems)}"
            f" (convert it, e.g. `sox in.wav {' '.join(flags)} out.wav`)"
        )
    pcm = np.frombuffer(frames, dtype="<i2").astype(np.int16)
    return pcm.reshape(-1, channels), rate
