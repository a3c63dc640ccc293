"""sosfilt / SosFilter / butter against scipy; preemphasis against librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given
from hypothesis import strategies as st

from edgekit import dsp
from edgekit.errors import InvalidInputError

DESIGNS = [
    (order, btype, cutoff)
    for order in range(1, 11)
    for btype, cutoff in (
        ("lowpass", 1000.0),
        ("highpass", 80.0),
        ("bandpass", (300.0, 3400.0)),
        ("bandstop", (950.0, 1050.0)),
    )
]


@pytest.mark.parametrize(("order", "btype", "cutoff"), DESIGNS)
def test_butter_matches_scipy(order, btype, cutoff) -> None:
    expected = ss.butter(order, cutoff, btype, fs=16000, output="sos")
    got = dsp.butter(order, cutoff, btype, 16000)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_butter_normalised_cutoff_default() -> None:
    np.testing.assert_allclose(dsp.butter(3, 0.25), ss.butter(3, 0.25, output="sos"), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sosfilt_matches_scipy(dtype) -> None:
    x = np.random.default_rng(0).standard_normal(16000).astype(dtype)
    for order, btype, cutoff in DESIGNS[::3]:
        sos = ss.butter(order, cutoff, btype, fs=16000, output="sos")
        expected = ss.sosfilt(sos, x.astype(np.float64))
        got = dsp.sosfilt(sos, x)
        assert got.dtype == dtype
        scale = np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * scale)


def test_sosfilt_with_state_matches_scipy() -> None:
    x = np.random.default_rng(1).standard_normal(1000)
    sos = ss.butter(4, 2000, "lowpass", fs=16000, output="sos")
    zi = ss.sosfilt_zi(sos) * 0.3
    y_ref, zf_ref = ss.sosfilt(sos, x, zi=zi)
    y, zf = dsp.sosfilt(sos, x, zi=zi)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(zf, zf_ref, rtol=1e-12, atol=1e-12)


@given(sizes=st.lists(st.integers(1, 500), min_size=1, max_size=20))
def test_sos_filter_blocks_equal_one_call(sizes) -> None:
    x = np.random.default_rng(2).standard_normal(3000)
    sos = ss.butter(6, (300, 3400), "bandpass", fs=16000, output="sos")
    f = dsp.SosFilter(sos)
    parts, pos, i = [], 0, 0
    while pos < len(x):
        size = sizes[i % len(sizes)]
        parts.append(f.process(x[pos : pos + size]))
        pos += size
        i += 1
    np.testing.assert_array_equal(np.concatenate(parts), dsp.sosfilt(sos, x))
    np.testing.assert_allclose(np.concatenate(parts), ss.sosfilt(sos, x), rtol=1e-9, atol=1e-12)


def test_sos_filter_int16_and_reset() -> None:
    pcm = (np.random.default_rng(3).standard_normal(800) * 3000).astype(np.int16)
    sos = dsp.butter(2, 100, "highpass", 16000)
    f = dsp.SosFilter(sos)
    first = f.process(pcm)
    assert first.dtype == np.float32
    np.testing.assert_allclose(first, ss.sosfilt(sos, pcm / 32768.0), rtol=1e-5, atol=1e-7)
    f.reset()
    np.testing.assert_array_equal(f.process(pcm), first)


def test_preemphasis_matches_librosa() -> None:
    x = np.random.default_rng(4).standard_normal(4000)
    np.testing.assert_allclose(dsp.preemphasis(x), librosa.effects.preemphasis(x), atol=1e-12)
    y1, zf = dsp.preemphasis(x[:1000], coef=0.9, return_zf=True)
    y2 = dsp.preemphasis(x[1000:], coef=0.9, zi=zf)
    ref = librosa.effects.preemphasis(x, coef=0.9)
    np.testing.assert_allclose(np.concatenate([y1, y2]), ref, atol=1e-12)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(dsp.preemphasis(x32), librosa.effects.preemphasis(x32), atol=1e-5)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: dsp.butter(0, 100, "lowpass", 16000), "order"),
        (lambda: dsp.butter(2, 9000, "lowpass", 16000), "cutoff"),
        (lambda: dsp.butter(2, 100, "sideways", 16000), "btype"),
        (lambda: dsp.butter(2, 100, "bandpass", 16000), "pair"),
        (lambda: dsp.butter(2, (500, 100), "bandpass", 16000), "increasing"),
        (lambda: dsp.sosfilt(np.ones((2, 5)), np.zeros(10)), "shape"),
        (lambda: dsp.sosfilt([[1, 0, 0, 2, 0, 0]], np.zeros(10)), "a0"),
        (lambda: dsp.sosfilt(dsp.butter(2, 0.2), np.array([np.nan])), "NaN"),
        (lambda: dsp.sosfilt(dsp.butter(2, 0.2), np.zeros(3), zi=np.zeros(3)), "zi"),
        (lambda: dsp.SosFilter(dsp.butter(2, 0.2)).process(np.zeros(0)), "empty"),
        (lambda: dsp.SosFilter(dsp.butter(2, 0.2)).process(np.array([np.inf])), "NaN or infinity"),
        (lambda: dsp.preemphasis(np.zeros((3, 3))), "1-D"),
    ],
)
def test_bad_arguments(call, reason) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        call()


def test_sosfilt_matches_the_naive_recursion() -> None:
    from tests._support.naive import sosfilt_df2t

    x = np.random.default_rng(6).standard_normal(500)
    sos = dsp.butter(5, 0.3, "lowpass")
    np.testing.assert_allclose(dsp.sosfilt(sos, x), sosfilt_df2t(sos, x), rtol=1e-12, atol=1e-12)
