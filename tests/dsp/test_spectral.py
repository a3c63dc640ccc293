"""stft / melspectrogram / mfcc / power_to_db / mel filters against librosa 0.11."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from edgekit import dsp
from edgekit.errors import InvalidInputError

CONFIGS = [
    {},
    {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40},
    {"n_fft": 1024, "hop_length": 256, "n_mels": 64, "fmin": 20.0, "fmax": 7600.0, "htk": True},
    {"n_fft": 400, "hop_length": 100, "window": "hamming", "n_mels": 32, "center": False},
    {"n_fft": 512, "hop_length": 128, "n_mels": 40, "pad_mode": "reflect", "power": 1.0},
]
MFCC_CONFIGS = [
    {},
    {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40, "n_mfcc": 13},
    {"n_fft": 1024, "hop_length": 256, "n_mels": 64, "n_mfcc": 30, "lifter": 22, "htk": True},
    {"n_fft": 512, "hop_length": 160, "n_mels": 40, "n_mfcc": 13, "mel_norm": None, "norm": None},
]


def _rel_close(got: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    atol = rtol * 1e-6 * float(np.max(np.abs(expected)))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def signals(speech) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    words = speech("the quick brown fox jumps over the lazy dog").astype(np.float64) / 32768
    t = np.arange(16000) / 16000
    return {
        "speech": words,
        "noise": rng.standard_normal(16000) * 0.1,
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "short": rng.standard_normal(3000) * 0.3,
    }


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_melspectrogram_matches_librosa(signals, config, dtype) -> None:
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    for y in signals.values():
        y = y.astype(dtype)
        expected = librosa.feature.melspectrogram(y=y, sr=16000, **config)
        _rel_close(dsp.melspectrogram(y=y, sr=16000, **config), expected, rtol)


@pytest.mark.parametrize("config", MFCC_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mfcc_matches_librosa(signals, config, dtype) -> None:
    atol = 1e-3 if dtype == np.float64 else 2e-2
    for y in signals.values():
        y = y.astype(dtype)
        expected = librosa.feature.mfcc(y=y, sr=16000, **config)
        got = dsp.mfcc(y=y, sr=16000, **config)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= atol


def test_mfcc_default_sample_rate_and_silence() -> None:
    y = np.zeros(22050)
    np.testing.assert_allclose(dsp.mfcc(y=y), librosa.feature.mfcc(y=y), atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stft_matches_librosa(signals, dtype) -> None:
    y = signals["speech"].astype(dtype)
    for kw in (
        {},
        {"n_fft": 512, "hop_length": 160, "win_length": 400},
        {"center": False, "n_fft": 256},
    ):
        expected = librosa.stft(y, **kw)
        got = dsp.stft(y, **kw)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        tol = 1e-9 if dtype == np.float64 else 1e-4
        assert np.max(np.abs(got - expected)) <= tol * np.max(np.abs(expected))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_power_to_db_matches_librosa(signals, dtype) -> None:
    S = np.abs(librosa.stft(signals["speech"].astype(dtype))) ** 2
    for kw in ({}, {"ref": np.max}, {"top_db": None}, {"amin": 1e-5, "top_db": 40.0, "ref": 2.0}):
        expected = librosa.power_to_db(S, **kw)
        got = dsp.power_to_db(S, **kw)
        assert got.dtype == expected.dtype
        assert np.max(np.abs(got - expected)) <= (1e-3 if dtype == np.float64 else 2e-2)


@pytest.mark.parametrize(
    "kw",
    [
        {"sr": 16000, "n_fft": 512, "n_mels": 40},
        {"sr": 22050, "n_fft": 2048},
        {"sr": 16000, "n_fft": 512, "n_mels": 40, "htk": True, "fmin": 125.0, "fmax": 7500.0},
        {"sr": 16000, "n_fft": 512, "n_mels": 20, "norm": None},
        {"sr": 16000, "n_fft": 512, "n_mels": 20, "norm": 1.0, "dtype": np.float64},
        {"sr": 16000, "n_fft": 512, "n_mels": 20, "norm": np.inf},
    ],
)
def test_mel_filterbank_matches_librosa(kw) -> None:
    expected = librosa.filters.mel(**kw)
    got = dsp.mel_filterbank(**kw)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_mel_scale_conversions_match_librosa() -> None:
    f = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0])
    for htk in (False, True):
        np.testing.assert_allclose(dsp.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk))
        m = dsp.hz_to_mel(f, htk=htk)
        np.testing.assert_allclose(dsp.mel_to_hz(m, htk=htk), f, atol=1e-9)
        np.testing.assert_allclose(
            dsp.mel_frequencies(10, fmax=8000, htk=htk),
            librosa.mel_frequencies(10, fmax=8000, htk=htk),
        )
    np.testing.assert_allclose(
        dsp.fft_frequencies(sr=16000, n_fft=512), librosa.fft_frequencies(sr=16000, n_fft=512)
    )


def test_int16_input_is_scaled_to_float32(signals) -> None:
    pcm = np.round(signals["speech"] * 32767).astype(np.int16)
    as_float = pcm.astype(np.float32) / np.float32(32768)
    np.testing.assert_array_equal(dsp.mfcc(y=pcm, sr=16000), dsp.mfcc(y=as_float, sr=16000))


def test_mel_from_precomputed_spectrogram(signals) -> None:
    y = signals["noise"]
    S = np.abs(librosa.stft(y, n_fft=512)) ** 2
    np.testing.assert_allclose(
        dsp.melspectrogram(S=S, sr=16000, n_mels=40),
        librosa.feature.melspectrogram(S=S, sr=16000, n_mels=40),
        rtol=1e-6,
    )
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=S, sr=16000))
    np.testing.assert_allclose(
        dsp.mfcc(S=log_mel, n_mfcc=13), librosa.feature.mfcc(S=log_mel, n_mfcc=13), atol=1e-6
    )


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: dsp.mfcc(y=np.zeros(100, np.int32)), "dtype"),
        (lambda: dsp.mfcc(y=np.zeros((2, 100))), "1-D"),
        (lambda: dsp.mfcc(y=np.array([0.0, np.nan] * 600)), "NaN"),
        (lambda: dsp.mfcc(y=np.zeros(0)), "empty"),
        (lambda: dsp.mfcc(y=np.zeros(100), center=False), "fewer than n_fft"),
        (lambda: dsp.mfcc(y=np.zeros(4096), n_mfcc=200), "n_mfcc"),
        (lambda: dsp.mfcc(y=np.zeros(4096), dct_type=3), "dct_type"),
        (lambda: dsp.mfcc(y=np.zeros(4096), bogus=1), "unexpected"),
        (lambda: dsp.mfcc(), "give y"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), n_fft=0), "n_fft"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), hop_length=-1), "hop_length"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), win_length=4096), "win_length"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), window="nope"), "window"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), pad_mode="nope"), "pad_mode"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), fmin=9000.0, fmax=100.0), "fmin"),
        (lambda: dsp.melspectrogram(y=np.zeros(4096), power=0), "power"),
        (lambda: dsp.melspectrogram(y="abc"), "numpy array"),
        (lambda: dsp.power_to_db(np.array([1.0, np.inf])), "NaN or infinity"),
        (lambda: dsp.power_to_db(np.ones(3), top_db=-1.0), "top_db"),
        (lambda: dsp.mel_filterbank(sr=16000, n_fft=512, norm="bad"), "norm"),
    ],
)
def test_bad_arguments_raise_invalid_input(call, reason) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        call()
