"""resample / Resampler against scipy.signal.resample_poly."""

from __future__ import annotations

from math import gcd

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given
from hypothesis import strategies as st

from edgekit import dsp
from edgekit.errors import InvalidInputError

RATES = [
    (48000, 16000),
    (16000, 48000),
    (44100, 16000),
    (16000, 22050),
    (8000, 16000),
    (16000, 16000),
]


def reference(x: np.ndarray, orig: int, target: int, **kw) -> np.ndarray:
    g = gcd(orig, target)
    return ss.resample_poly(x, target // g, orig // g, **kw)


@pytest.mark.parametrize(("orig", "target"), RATES)
@pytest.mark.parametrize("n", [1, 2, 37, 1000, 16001])
def test_resample_matches_scipy(orig, target, n) -> None:
    x = np.random.default_rng(n).standard_normal(n)
    expected = reference(x, orig, target)
    got = dsp.resample(x, orig, target)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_resample_float32_and_int16() -> None:
    x = np.random.default_rng(0).standard_normal(4800).astype(np.float32) * 0.3
    got = dsp.resample(x, 48000, 16000)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference(x.astype(np.float64), 48000, 16000), atol=1e-5)
    pcm = (x * 32767).astype(np.int16)
    np.testing.assert_allclose(
        dsp.resample(pcm, 48000, 16000), reference(pcm / 32768.0, 48000, 16000), atol=1e-5
    )


def test_custom_filter_matches_scipy_window_array() -> None:
    x = np.random.default_rng(1).standard_normal(3000)
    taps = ss.firwin(31, 0.3)
    np.testing.assert_allclose(
        dsp.resample(x, 48000, 16000, filter=taps),
        reference(x, 48000, 16000, window=taps),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        dsp.resample_filter(48000, 16000) * 1,
        ss.firwin(61, 1 / 3, window=("kaiser", 5.0)),
        atol=1e-12,
    )


@given(
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=15),
    rates=st.sampled_from(RATES),
)
def test_streaming_blocks_plus_flush_equal_batch(sizes, rates) -> None:
    x = np.random.default_rng(2).standard_normal(2500)
    r = dsp.Resampler(*rates)
    parts, pos, i = [], 0, 0
    while pos < len(x):
        size = sizes[i % len(sizes)]
        parts.append(r.process(x[pos : pos + size]))
        pos += size
        i += 1
    parts.append(r.flush())
    np.testing.assert_allclose(np.concatenate(parts), dsp.resample(x, *rates), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: dsp.resample(np.zeros(10), 0, 16000), "orig_sr"),
        (lambda: dsp.resample(np.zeros(10), 16000, 1.5), "target_sr"),
        (lambda: dsp.resample(np.zeros(0), 48000, 16000), "empty"),
        (lambda: dsp.resample(np.array([np.nan]), 48000, 16000), "NaN"),
        (lambda: dsp.resample(np.zeros(10), 48000, 16000, filter=np.ones(4)), "odd"),
        (lambda: dsp.Resampler(48000, 16000).process(np.zeros((2, 2))), "1-D"),
        (lambda: dsp.Resampler(48000, 16000).process(np.array([np.inf])), "NaN or infinity"),
    ],
)
def test_bad_arguments(call, reason) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        call()


@given(
    up=st.integers(1, 7),
    down=st.integers(1, 7),
    taps=st.integers(0, 20),
    n=st.integers(1, 300),
    seed=st.integers(0, 2**16),
)
def test_streaming_resampler_is_polyphase_upfirdn(up, down, taps, n, seed) -> None:
    from tests._support.naive import upfirdn

    rng = np.random.default_rng(seed)
    h = rng.standard_normal(2 * taps + 1)
    x = rng.standard_normal(n)
    g = gcd(up, down)
    up, down = up // g, down // g
    expected = ss.resample_poly(x, up, down, window=h)
    got = dsp.resample(x, down * 1000, up * 1000, filter=h)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    full = upfirdn(h * up, x, up, down)
    assert len(full) >= len(got)
