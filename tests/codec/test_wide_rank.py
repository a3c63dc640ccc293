"""The wide-rank scheme (format version 3): integer blocks with few distinct values or
residuals coded as their ranks in a dictionary of up to 255 entries.

``data/frames_v3.json`` holds generated cases (ADC counts of a sensor scaled by 9.15 and
7.3, as an accelerometer logging milli-g stores them) and the frames edgekit wrote for them;
every later reader must decode them and the encoder must still write them byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _schemes, compress, decompress, frame_info
from edgekit.codec._format import FORMAT_VERSION, HUFF
from edgekit.errors import CorruptDataError
from tests._support.frames import golden_values, reseal

CASES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "frames_v3.json").read_text()
)
#: Cases the encoder now writes with the levels scheme of version 7, smaller (bytes): the
#: committed frame still decodes.
NOW_LEVELS = {"wide_rank_adc_counts_i2": 1747}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v3_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 3
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert "wide-rank" in case["schemes"]
    want = golden_values(case)
    assert decompress(frame).tobytes() == want.tobytes()
    again = compress(want, **case["kwargs"], compact=False)
    if name in NOW_LEVELS:
        assert len(again) == NOW_LEVELS[name] < len(frame) and again[4] == 7
        assert frame_info(again).schemes == ("levels",)
        assert decompress(again).tobytes() == want.tobytes()
    else:
        assert again == frame


def test_version_marks_the_newest_scheme() -> None:
    rng = np.random.default_rng(11)
    # (1,000 values: below the levels scheme's 1,024)
    counts = np.round(np.round(rng.normal(0, 20, 1000)) * 9.15 + 900).astype(np.int16)
    frame = compress(counts, compact=False)
    assert frame[4] == 3 and frame_info(frame).schemes == ("wide-rank",)
    # Without the Huffman stage (level 1) there is no rank scheme: version 1.
    assert compress(counts, level=1, compact=False)[4] == 1
    # A reader refuses a version newer than it knows.
    newer = bytearray(frame)
    newer[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(newer))


def test_wide_rank_is_smaller_than_huffman_on_scaled_counts() -> None:
    rng = np.random.default_rng(5)
    counts = np.round(np.round(rng.normal(0, 20, 20_000)) * 9.15).astype(np.int32)
    wide = compress(counts)
    assert frame_info(wide).schemes == ("wide-rank",)
    # The Huffman stage of version 1 spends the 3 bits of the scale on every value.
    assert len(wide) < 0.8 * len(compress(counts, level=1))


def yyyymmdd(start: str, n: int, step_days: int) -> np.ndarray[Any, Any]:
    """``n`` calendar dates ``step_days`` apart from ``start`` as ``YYYYMMDD`` integers."""
    d = np.datetime64(start) + np.arange(n) * np.timedelta64(step_days, "D")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    out: np.ndarray[Any, Any] = year * 10_000 + month * 100 + day
    return out


@pytest.mark.parametrize(
    ("start", "n", "step", "most"),
    [
        # The dates of statsmodels' weekly Mauna Loa CO2 record (``datasets.co2``): steps
        # of 7, 76 to 79 at a month's end and 8,876 at a year's (837 bytes before; pcodec
        # 426).
        ("1958-03-29", 2284, 7, 420),
        # Ten years of days: steps of 1, 70 to 73 and 8,870 (623 bytes before).
        ("2001-01-01", 3650, 1, 360),
    ],
)
@pytest.mark.parametrize("dtype", ["<i8", "<i4"])
def test_dates_as_yyyymmdd_integers_take_the_ranks_of_their_steps(
    start: str, n: int, step: int, most: int, dtype: str
) -> None:
    """A date column stored as ``YYYYMMDD`` integers takes a few distinct steps, most of
    them far from 0: the Huffman stage spends a month's step's 5 to 12 extra bits on each,
    their ranks (2 to 64 distinct: wide-rank since it takes so few) about their entropy."""
    x = yyyymmdd(start, n, step).astype(dtype)
    frame = compress(x)
    assert frame_info(frame).schemes == ("wide-rank",) and len(frame) <= most
    assert decompress(frame).tobytes() == x.tobytes()


def test_a_dictionary_index_out_of_range_is_corrupt() -> None:
    frame = bytes.fromhex(CASES["wide_rank_adc_counts_i2"]["frame_hex"])
    # k (the dictionary size) sits after the block header and the order byte (order 0).
    head = 4 + 1 + 1 + 1 + 8 + 4 + 5 + 1
    bad = bytearray(frame)
    bad[head] = 0  # k = 0
    with pytest.raises(CorruptDataError):
        decompress(reseal(bad))


DTYPES = ["<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8"]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    alphabet=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=300),
    picks=st.lists(st.integers(0, 10**6), min_size=64, max_size=2500),
    walk=st.booleans(),
    block_size=st.sampled_from([64, 333, 65536]),
)
def test_round_trip_few_distinct(
    dtype: str, alphabet: list[int], picks: list[int], walk: bool, block_size: int
) -> None:
    dt = np.dtype(dtype)
    span = 1 << (8 * dt.itemsize)
    low = -(span >> 1) if dt.kind == "i" else 0
    chosen = [alphabet[p % len(alphabet)] % span for p in picks]
    if walk:  # few distinct steps (a clock with gaps, a slow counter)
        total = 0
        for i, step in enumerate(chosen):
            total = (total + step) % span
            chosen[i] = total
    x = np.array([v + low for v in chosen], dtype=dt)
    got = decompress(compress(x, block_size=block_size))
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()


NONE = np.zeros(0, dtype=np.uint64)  # (no int_stats from the caller)


def test_pre_check_skips_dense_integers_and_keeps_scaled_counts() -> None:
    from edgekit.codec._kernels.blocks import _rank_may_pay

    rng = np.random.default_rng(3)
    # Dense integers (a PPG or PCM-like walk): every order's residuals are runs of integers,
    # which the huffman classes code near their entropy.
    dense = np.cumsum(np.round(rng.laplace(0, 3, 20_000))).astype(np.int64)
    assert not _rank_may_pay(dense.view(np.uint64), 255, len(compress(dense)), NONE)
    # ADC counts of a non-integer scale: values 9 or 10 apart.
    scaled = np.round(np.round(rng.normal(0, 20, 20_000)) * 9.15).astype(np.int64)
    assert _rank_may_pay(scaled.view(np.uint64), 255, len(compress(scaled)), NONE)
    assert frame_info(compress(scaled)).schemes == ("wide-rank",)
    # More than 255 distinct values in the sample of every order: no order can qualify.
    wide = rng.integers(0, 1 << 40, 20_000).astype(np.uint64)
    assert not _rank_may_pay(wide, 255, 8 * wide.size, NONE)


def test_heavy_tailed_counts_take_their_ranks() -> None:
    """Counts of visits (0 to about 70, most under 5): dense, but each huffman class of 8
    to 11, 12 to 15, ... spreads its extra bits evenly over values seen ever more rarely;
    the pre-check's entropy of the sampled ranks sees it, and wide-rank is smaller."""
    from edgekit.codec._kernels.blocks import _dense_rank_bytes, _rank_may_pay

    counts = np.random.default_rng(4).negative_binomial(0.6, 0.2, 20_000).astype(np.int64)
    lanes = counts.view(np.uint64)
    scheme, huffman = _schemes.encode_int_lanes(lanes, counts, modes=False)
    assert scheme == HUFF
    assert _rank_may_pay(lanes, 255, len(huffman), NONE)
    frame = compress(counts)
    assert frame_info(frame).schemes == ("wide-rank",) and len(frame) < len(huffman)
    assert decompress(frame).tobytes() == counts.tobytes()
    # The estimate: the entropy of the whole block within a few percent, plus the
    # dictionary; a span too wide to count in a table is not estimated.
    _values, seen = np.unique(counts, return_counts=True)
    entropy = float(-(seen / counts.size * np.log2(seen / counts.size)).sum()) * counts.size / 8
    assert 0.95 * entropy < _dense_rank_bytes(counts[:512].copy(), counts.size) < 1.1 * entropy
    assert _dense_rank_bytes(np.array([0, 1 << 20]), 100) == np.inf


@settings(max_examples=80)
@given(
    st.lists(st.one_of(st.integers(-300, 300), st.integers(-(2**63), 2**63 - 1)), max_size=600),
    st.integers(0, 300),
)
def test_count_distinct_stops_past_most(values: list[int], most: int) -> None:
    """The pre-check's count (a hash set read until it holds ``most + 1`` values) says what
    ``np.unique`` says, up to ``most + 1``."""
    from edgekit.codec._kernels.floats import count_distinct

    s = np.array(values, dtype=np.int64)
    assert count_distinct(s, most) == min(np.unique(s).size, most + 1)
