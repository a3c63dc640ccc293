"""Streaming audio features and filters, block by block with carried state (numba kernels).

- librosa-compatible features: :func:`stft`, :func:`melspectrogram`, :func:`mfcc`,
  :func:`power_to_db`, :func:`mel_filterbank` (librosa 0.11 names and defaults);
- streaming features equal to the batch ones with ``center=False``:
  :class:`FeatureStream`, :class:`MelStream`, :class:`MfccStream`;
- the TFLite Micro audio frontend of microWakeWord, bit-exact: :class:`MicroFrontend`;
- filters and levels: :func:`sosfilt`, :class:`SosFilter`, :func:`butter`,
  :func:`preemphasis`, :class:`LevelMeter`, :class:`EnergyVad`;
- polyphase resampling: :func:`resample`, :class:`Resampler`.

Importing this package does not import numba; the kernels compile (or load from
numba's cache) on first use, or ahead of time with ``edgekit.warmup()``.
"""

from __future__ import annotations

from edgekit.dsp.filters import SosFilter, butter, preemphasis, sosfilt
from edgekit.dsp.frontend import FEATURE_SCALE, MicroFrontend
from edgekit.dsp.levels import EnergyVad, Level, LevelMeter
from edgekit.dsp.resample import Resampler, resample, resample_filter
from edgekit.dsp.spectral import (
    fft_frequencies,
    get_window,
    hz_to_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
    mfcc,
    power_to_db,
    stft,
)
from edgekit.dsp.streams import FeatureStream, MelStream, MfccStream

__all__ = [
    "FEATURE_SCALE",
    "EnergyVad",
    "FeatureStream",
    "Level",
    "LevelMeter",
    "MelStream",
    "MfccStream",
    "MicroFrontend",
    "Resampler",
    "SosFilter",
    "butter",
    "fft_frequencies",
    "get_window",
    "hz_to_mel",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "preemphasis",
    "resample",
    "resample_filter",
    "sosfilt",
    "stft",
]
