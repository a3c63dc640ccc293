"""MicroFrontend is bit-exact to pymicro-features (the TFLite Micro C frontend)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.dsp import FEATURE_SCALE, MicroFrontend
from edgekit.errors import InvalidInputError
from tests._support.audio import SIGNALS, pymicro_features, pymicro_frames


def run_frontend(samples: np.ndarray, sizes: list[int] | None = None) -> np.ndarray:
    fe = MicroFrontend()
    if sizes is None:
        return fe.process(samples)
    parts, pos = [], 0
    for size in sizes:
        if pos >= len(samples):
            break
        parts.append(fe.process(samples[pos : pos + size]))
        pos += size
    if pos < len(samples):
        parts.append(fe.process(samples[pos:]))
    return np.concatenate(parts) if parts else np.zeros((0, 40), np.uint16)


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_bit_exact_on_test_signals(name: str) -> None:
    samples = SIGNALS[name]
    expected = pymicro_frames(samples)
    got = run_frontend(samples)
    assert got.dtype == np.uint16
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_bit_exact_on_speech(speech_16k: np.ndarray) -> None:
    expected = pymicro_frames(speech_16k)
    got = run_frontend(speech_16k)
    assert got.shape[0] > 100
    np.testing.assert_array_equal(got, expected)
    assert got.max() > 300  # real content, not only the noise floor


def test_bit_exact_on_speech_variants(speech) -> None:
    for voice, speed in (("en-us", 120), ("de", 200)):
        samples = speech("okay nabu, what time is it", voice=voice, speed=speed)
        np.testing.assert_array_equal(run_frontend(samples), pymicro_frames(samples))
        loud = np.clip(samples.astype(np.int32) * 8, -32768, 32767).astype(np.int16)
        np.testing.assert_array_equal(run_frontend(loud), pymicro_frames(loud))


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=1200), min_size=1, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_any_block_split_gives_the_same_frames(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(8000) * 4000).astype(np.int16)
    whole = run_frontend(samples)
    np.testing.assert_array_equal(run_frontend(samples, sizes), whole)


def test_frame_count_and_pending() -> None:
    fe = MicroFrontend()
    assert fe.process(np.zeros(479, np.int16)).shape == (0, 40)
    assert fe.pending_samples == 479
    assert fe.process(np.zeros(1, np.int16)).shape == (1, 40)
    assert fe.pending_samples == 320
    assert fe.process(np.zeros(480, np.int16)).shape == (3, 40)


def test_reset_is_a_fresh_frontend() -> None:
    samples = SIGNALS["noise_-20dBFS"]
    fe = MicroFrontend()
    first = fe.process(samples)
    fe.reset()
    np.testing.assert_array_equal(fe.process(samples), first)


def test_bytes_input_and_float_scaling() -> None:
    samples = SIGNALS["sweep"][:4800]
    fe = MicroFrontend()
    as_bytes = fe.process(samples.astype("<i2").tobytes())
    fe2 = MicroFrontend()
    scaled = fe2.process_float(samples)
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, as_bytes.astype(np.float32) * np.float32(FEATURE_SCALE))
    assert FEATURE_SCALE == 0.0390625


def test_float_features_match_pymicro_floats() -> None:
    samples = SIGNALS["noise_-6dBFS"][:4800]
    expected = pymicro_features(samples).astype(np.float64)
    got = MicroFrontend().process_float(samples).astype(np.float64)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.zeros(160, np.float32), "int16"),
        (np.zeros((2, 160), np.int16), "1-D"),
        (np.zeros(0, np.int16), "empty"),
        ([1, 2, 3], "numpy array"),
        (b"\x00\x01\x02", "even length"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(bad: object, reason: str) -> None:
    fe = MicroFrontend()
    with pytest.raises(InvalidInputError, match=reason):
        fe.process(bad)  # type: ignore[arg-type]
    assert fe.pending_samples == 0


def test_shipped_tables_are_what_the_generator_writes() -> None:
    root = Path(__file__).resolve().parents[2]
    generated = subprocess.run(
        [sys.executable, "-m", "edgekit.dsp._make_frontend_tables"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    shipped = (root / "edgekit" / "dsp" / "_frontend_tables.py").read_text()
    assert generated == shipped


@given(
    level_db=st.floats(-70.0, 12.0),
    tone_hz=st.floats(50.0, 7900.0),
    tone_share=st.floats(0.0, 1.0),
    dc=st.integers(-20000, 20000),
    seed=st.integers(0, 2**16),
)
def test_bit_exact_on_random_mixtures(level_db, tone_hz, tone_share, dc, seed) -> None:
    rng = np.random.default_rng(seed)
    n = 8000
    t = np.arange(n) / 16000
    mix = (1 - tone_share) * rng.standard_normal(n) + tone_share * np.sin(2 * np.pi * tone_hz * t)
    samples = np.clip(np.round(mix * 32768 * 10 ** (level_db / 20) + dc), -32768, 32767)
    samples = samples.astype(np.int16)
    np.testing.assert_array_equal(run_frontend(samples), pymicro_frames(samples))


def test_warmup_through_edgekit() -> None:
    import edgekit

    timings = edgekit.warmup(["dsp"])
    assert set(timings) == {"dsp"}
