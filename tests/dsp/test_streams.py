"""Streaming features equal the batch functions with center=False, for any block split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit import dsp
from edgekit.errors import InvalidInputError

KW = {"sr": 16000, "n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40}


def batch(kind: str, y: np.ndarray) -> np.ndarray:
    if kind == "mel":
        return dsp.melspectrogram(y=y, center=False, **KW)
    if kind == "log_mel":
        return dsp.power_to_db(dsp.melspectrogram(y=y, center=False, **KW), top_db=None)
    return dsp.mfcc(y=y, center=False, top_db=None, n_mfcc=13, **KW)


def stream(kind: str, y: np.ndarray, sizes: list[int]) -> np.ndarray:
    s = dsp.FeatureStream(kind, n_mfcc=13, **KW)
    parts, pos, i = [], 0, 0
    while pos < len(y):
        size = sizes[i % len(sizes)]
        parts.append(s.process(y[pos : pos + size]))
        pos += size
        i += 1
    return np.concatenate(parts, axis=1)


@pytest.fixture(scope="module")
def words(speech) -> np.ndarray:
    return speech("streaming features are equal to batch features")


@settings(max_examples=40)
@given(
    kind=st.sampled_from(["mel", "log_mel", "mfcc"]),
    dtype=st.sampled_from([np.int16, np.float32, np.float64]),
    sizes=st.lists(st.integers(1, 2000), min_size=1, max_size=20),
    seed=st.integers(0, 2**16),
)
def test_any_block_split_equals_batch(kind, dtype, sizes, seed) -> None:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(6000) * 0.2
    y = (y * 32767).astype(np.int16) if dtype == np.int16 else y.astype(dtype)
    got = stream(kind, y, sizes)
    expected = batch(kind, y)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_speech_in_10ms_blocks_equals_batch(words) -> None:
    for kind in ("mel", "log_mel", "mfcc"):
        expected = batch(kind, words)
        got = stream(kind, words, [160])
        assert got.dtype == expected.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_subclasses_and_defaults() -> None:
    y = np.random.default_rng(0).standard_normal(22050 * 2)
    mel = dsp.MelStream().process(y)
    np.testing.assert_allclose(mel, dsp.melspectrogram(y=y, center=False), rtol=1e-9)
    logmel = dsp.MelStream(log=True).process(y)
    np.testing.assert_allclose(logmel, dsp.power_to_db(mel, top_db=None), rtol=1e-9)
    mf = dsp.MfccStream(n_mfcc=13).process(y)
    np.testing.assert_allclose(mf, dsp.mfcc(y=y, center=False, n_mfcc=13, top_db=None), atol=1e-9)
    assert dsp.MfccStream(n_mfcc=13).n_features == 13


def test_frames_appear_when_complete_and_reset() -> None:
    s = dsp.MelStream(**KW)
    assert s.process(np.zeros(511)).shape == (40, 0)
    assert s.pending_samples == 511
    assert s.process(np.zeros(1)).shape == (40, 1)
    assert s.pending_samples == 352
    s.reset()
    assert s.pending_samples == 0


def test_fixed_block_size_is_enforced() -> None:
    s = dsp.MfccStream(block_size=160, **KW)
    s.process(np.zeros(160, np.float32))
    with pytest.raises(InvalidInputError, match="blocks of 160"):
        s.process(np.zeros(161, np.float32))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.zeros(160, np.int32), "int16, float32 or float64"),
        (np.zeros((2, 80)), "1-D"),
        (np.zeros(0), "empty"),
        ([0.0] * 160, "numpy array"),
        (np.array([0.0, np.inf] * 80), "NaN or infinity"),
        (np.array([np.nan] * 600, np.float32), "NaN or infinity"),
    ],
)
def test_bad_blocks_are_rejected_and_state_kept(bad, reason) -> None:
    s = dsp.MfccStream(**KW)
    s.process(np.ones(300) * 0.1)
    with pytest.raises(InvalidInputError, match=reason):
        s.process(bad)
    assert s.pending_samples == 300


def test_bad_configuration() -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        dsp.FeatureStream("spectrum")
    with pytest.raises(InvalidInputError, match="n_mfcc"):
        dsp.MfccStream(n_mels=10, n_mfcc=20)
    with pytest.raises(InvalidInputError, match="block_size"):
        dsp.MelStream(block_size=0)


def test_strided_blocks_are_accepted() -> None:
    y = np.random.default_rng(9).standard_normal(4000)
    s1 = dsp.MelStream(**KW)
    s2 = dsp.MelStream(**KW)
    strided = np.repeat(y, 2)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(s1.process(strided), s2.process(y))
    fe = dsp.MicroFrontend()
    pcm = (np.repeat(y, 2)[::2] * 3000).astype(np.int16)[::1]
    assert fe.process(np.repeat(pcm, 2)[::2]).shape == (23, 40)
    f = dsp.SosFilter(dsp.butter(2, 0.1))
    np.testing.assert_array_equal(f.process(strided), dsp.sosfilt(dsp.butter(2, 0.1), y))
