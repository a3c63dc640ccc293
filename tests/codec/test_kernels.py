"""Kernels against the slow references in tests/naive.py, and the Huffman table builder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _huffman, _kernels, _schemes
from edgekit.codec._kernels import bitpack, floats, fmadj, huffman, lag
from tests._support import naive

U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=80)
@given(width=st.integers(0, 64), data=st.data())
def test_pack_plain_matches_reference_and_unpacks(width: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, (1 << width) - 1 if width else 0), max_size=200))
    v = np.array(values, dtype=np.uint64)
    words = _kernels.pack_plain(v, width)
    assert words.astype("<u8").tobytes() == naive.codec_pack_bits(values, width)
    out = np.empty(len(values), dtype=np.uint64)
    assert _kernels.unpack_plain(words, len(values), width, out).tolist() == values


@settings(max_examples=80)
@given(values=st.lists(U64, min_size=3, max_size=200), order=st.integers(0, 2))
def test_residuals_and_packed_residuals_match_reference(values: list[int], order: int) -> None:
    u = np.array(values, dtype=np.uint64)
    assert _kernels.residuals(u, order).tolist() == naive.codec_residuals(values, order)
    base = min(naive.codec_residuals(values, order), key=lambda r: r ^ (1 << 63))
    words = _kernels.pack_residuals(u, order, np.uint64(base), 64)
    out = np.empty(len(values), dtype=np.uint64)
    first = np.uint64(values[0])
    firstd = np.uint64((values[1] - values[0]) % 2**64)
    _kernels.unpack_residuals(
        words, len(values) - order, order, 64, np.uint64(base), first, firstd, out
    )
    assert out.tolist() == values


@settings(max_examples=80)
@given(values=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=100), center=st.integers(-50, 50))
def test_zigzag_symbols_and_huffman_roundtrip(values: list[int], center: int) -> None:
    r = np.array(values, dtype=np.int64).view(np.uint64)
    z = _kernels.zigzag_centered(r, np.uint64(center % 2**64))
    wrapped = [((v - center + 2**63) % 2**64) - 2**63 for v in values]
    assert z.tolist() == [naive.codec_zigzag(v) for v in wrapped]
    for zi in z.tolist():
        assert _kernels._symbol(np.uint64(zi)) == naive.codec_symbol(zi)
    if not values:
        return
    counts = _kernels.symbol_histogram(z)
    lens = _kernels.huff_lengths(counts, _huffman.MAXLEN)
    assert _huffman.kraft_ok(lens) and _kernels.huff_kraft_ok(lens, _huffman.MAXLEN)
    codes = _kernels.huff_codes(lens, _huffman.MAXLEN)
    _stream, nbits = _kernels.huff_encode(z, codes, lens)
    assert nbits == int(np.dot(counts, lens + _huffman.EXTRA_BITS))
    entry, base = _kernels.huff_symbol_tables(lens, _huffman.MAXLEN)
    ref = naive.codec_decode_table(lens.tolist())
    got = {j: (int(v) & 255, (int(v) >> 8) & 255) for j, v in enumerate(entry) if v}
    assert got == ref
    # Four interleaved streams, as the huffman scheme writes them.
    parts = [_kernels.huff_encode(np.ascontiguousarray(z[j::4]), codes, lens) for j in range(4)]
    z2, syms, counts2 = _kernels.huff_prepare(r, np.uint64(center % 2**64))
    assert np.array_equal(z2, z) and np.array_equal(counts2, counts)
    assert syms.tolist() == [naive.codec_symbol(zi)[0] for zi in z.tolist()]
    bits = int(np.dot(counts, lens + _huffman.EXTRA_BITS))
    c = np.uint64(center % 2**64)
    joined, nbits4 = _kernels.huff_encode4(r, c, syms, codes, lens, bits)
    assert joined.tobytes() == b"".join(part.tobytes() for part, _ in parts)
    assert nbits4.tolist() == [bits for _, bits in parts]
    starts, nbits, words = [], [], []
    at = 0
    for part, bits in parts:
        w = np.zeros((part.size + 7) // 8 + 2, dtype=np.uint64)
        w.view(np.uint8)[: part.size] = part
        starts.append(at)
        nbits.append(bits)
        words.append(w)
        at += w.size
    out = np.empty(z.size, dtype=np.uint64)
    args = (np.concatenate(words), np.array(starts), np.array(nbits), z.size, entry, base, out)
    assert _kernels.huff_decode4(*args) == 0
    assert np.array_equal(out, z)
    short = np.array(nbits) - 1
    if short.max() >= 0:
        assert _kernels.huff_decode4(args[0], args[1], np.maximum(short, 0), *args[3:]) == -1


@given(
    counts=st.lists(
        st.one_of(st.integers(0, 10**6), st.integers(0, 4), st.sampled_from([0, 1, 2**20])),
        min_size=130,
        max_size=130,
    ).filter(any)
)
def test_huffman_lengths_are_limited_and_those_of_a_heap_when_unlimited(counts: list[int]) -> None:
    """Length-limited codes are prefix codes; unlimited, the lengths are exactly those of
    heap Huffman merging the two lightest nodes first, ties to the lower index (symbols,
    then merged nodes as made): equal counts, as the encoder's frames depend on it."""
    c = np.array(counts, dtype=np.int64)
    lens = _kernels.huff_lengths(c, _huffman.MAXLEN)
    assert _huffman.kraft_ok(lens) and lens.max() <= _huffman.MAXLEN
    assert np.array_equal(lens > 0, c > 0)
    free = _kernels.huff_lengths(c, 200)
    assert free.tolist() == naive.codec_huffman_lengths(counts)


@settings(max_examples=60)
@given(k=st.integers(-(2**50), 2**50), e=st.integers(0, 18), f=st.integers(0, 18))
def test_alp_decode_matches_reference(k: int, e: int, f: int) -> None:
    out = np.empty(1, dtype=np.float64)
    _kernels.alp_decode(np.array([k], dtype=np.int64), e, f, out)
    assert out[0] == naive.codec_alp_decode(k, e, f)


_SPECIALS = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -2.5e-308, 2.0**51, -(2.0**53), 1e300]


@settings(max_examples=60)
@given(
    digits=st.lists(st.integers(-(10**9), 10**9), min_size=0, max_size=700),
    scale=st.integers(0, 6),
    specials=st.lists(st.tuples(st.integers(0, 699), st.sampled_from(_SPECIALS)), max_size=40),
    e=st.integers(0, 18),
    f=st.integers(0, 18),
    width=st.sampled_from([np.float64, np.float32]),
)
def test_alp_exceptions_counts_the_encoders_exceptions(
    digits: list[int], scale: int, specials: list[tuple[int, float]], e: int, f: int, width: type
) -> None:
    """The branch-free count (chunks of EXC_CHUNK values) equals the number of exceptions
    ``alp_encode`` finds value by value: decimals, NaN, infinities, -0.0, subnormals,
    values at ALP's limit, float64 and float32."""
    x = (np.array(digits, dtype=np.float64) / 10.0**scale).astype(width)
    for at, value in specials:
        if at < x.size:
            x[at] = value
    probe = np.zeros(1, dtype=width)
    _ints, exceptions = _kernels.alp_encode(x, e, f, probe)
    assert floats.alp_exceptions(x, e, f, probe) == exceptions.size


def test_alp_finds_the_decimal_exponent() -> None:
    x = np.round(np.linspace(-50, 50, 1000), 3)
    probe = np.zeros(1)
    costs = _kernels.alp_rank(x, 18, probe)
    e, f = np.unravel_index(np.argmin(costs), costs.shape)
    _ints, exceptions = _kernels.alp_encode(x, int(e), int(f), probe)
    assert exceptions.size == 0 and int(e) - int(f) == 3


@settings(max_examples=30)
@given(
    data=st.binary(min_size=0, max_size=6000),
    sizes=st.sampled_from([(64, 256, 1024), (100, 128, 300)]),
)
def test_cdc_cut_points_match_reference(data: bytes, sizes: tuple[int, int, int]) -> None:
    from edgekit.codec import chunks

    found = chunks(data, min_size=sizes[0], avg_size=sizes[1], max_size=sizes[2])
    ends = (found.offsets + found.lengths).tolist()
    assert ends == naive.codec_gear_chunks(data, *sizes)


@settings(max_examples=80)
@given(
    values=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=300)
    | st.lists(st.integers(2**63 - 40, 2**63 + 40), min_size=1, max_size=3000)
    | st.lists(st.integers(0, 3), min_size=1, max_size=60),
    data=st.data(),
)
def test_select_kth_matches_numpy_partition(values: list[int], data: st.DataObject) -> None:
    a = np.array(values, dtype=np.uint64)
    k = data.draw(st.integers(0, a.size - 1))
    assert _kernels.select_kth(a.copy(), k) == np.partition(a, k)[k]


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40_000),
    shape=st.sampled_from(
        ["laplace", "uniform", "few", "half-zero", "outliers", "sorted", "reversed"]
    ),
    rank=st.floats(0.0, 1.0),
)
def test_select_kth_is_exact_by_radix_and_by_bracket(
    seed: int, n: int, shape: str, rank: float
) -> None:
    """Up to SELECT_RADIX_MAX values a radix selection narrows the range; above, the answer
    is bracketed by sample quantiles first (falling back to quickselect where the bracket
    misses): exact either way, whatever the order."""
    rng = np.random.default_rng(seed)
    if shape == "laplace":
        a = rng.laplace(0, 1e6, n).astype(np.int64).view(np.uint64)
    elif shape == "uniform":
        a = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    elif shape == "few":
        a = rng.choice(rng.integers(0, 2**63, 5, dtype=np.uint64), n)
    elif shape == "outliers":  # (a narrow bulk: a range to narrow in more rounds)
        a = rng.integers(0, 3000, n, dtype=np.uint64)
        a[::97] = rng.integers(0, 2**64 - 1, a[::97].size, dtype=np.uint64, endpoint=True)
    elif shape == "half-zero":
        a = np.concatenate(
            [np.zeros(n // 2, np.uint64), rng.integers(0, 2**40, n - n // 2, np.uint64)]
        )
    else:
        a = np.sort(rng.integers(0, 2**50, n, dtype=np.uint64))
        a = a if shape == "sorted" else a[::-1].copy()
    k = min(int(rank * n), n - 1)
    assert _kernels.select_kth(a.copy(), k) == np.partition(a, k)[k]


@settings(max_examples=80)
@given(values=st.lists(U64, max_size=200))
def test_third_residuals_are_the_second_ones_of_a_lag_of_1(values: list[int]) -> None:
    """One pass gives the order-2 residuals of the lag-1 residuals (third differences,
    the huffman candidate of smooth waveforms), wrapping as they do."""
    u = np.array(values, dtype=np.uint64)
    want = _kernels.residuals(_kernels.lag_residuals(u, 1), 2) if u.size >= 2 else u[:0]
    assert bitpack.third_residuals(u).tolist() == want.tolist()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), n=st.integers(1, 70_000), scale=st.sampled_from([1, 40, 1e9])
)
def test_the_huffman_center_is_the_median_or_a_sampled_one_near_it(
    seed: int, n: int, scale: float
) -> None:
    """Below CENTER_SAMPLE_MIN residuals the center is their signed median; from there on
    the median of an evenly spaced sample, within 3 % of the middle rank."""
    r = np.round(np.random.default_rng(seed).laplace(0, scale, n)).astype(np.int64)
    center = np.uint64(huffman.residual_center(r.view(np.uint64))).astype(np.int64)
    median = np.partition(r, n // 2)[n // 2]
    if n < huffman.CENTER_SAMPLE_MIN:
        assert center == median
    else:
        below, upto = np.count_nonzero(r < center), np.count_nonzero(r <= center)
        assert below <= 0.53 * n and upto >= 0.47 * n


@settings(max_examples=200)
@given(z=st.one_of(st.integers(0, 64), U64, st.integers(0, 62).map(lambda b: 2**b)))
def test_the_branch_free_symbol_is_the_symbol(z: int) -> None:
    """``symbol_of`` (the Huffman stage's counting pass) gives the symbol of every zigzag
    value: below 8, at every power of two, up to 2**64 - 1."""
    for v in {z, max(z - 1, 0), min(z + 1, 2**64 - 1)}:
        assert huffman.symbol_of(np.uint64(v)) == naive.codec_symbol(v)[0]


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(-2100, 2100), min_size=0, max_size=600),
    far=st.lists(st.sampled_from([2048, -2049, 2**40, -(2**63), 2**63 - 1]), max_size=2),
    center=st.integers(-50, 50),
)
def test_symbol_counts_are_the_symbols_counted(
    values: list[int], far: list[int], center: int
) -> None:
    """The Huffman stage's counts: a symbol table for zigzag values below 2**12 (around
    the center, -2048..2047), the symbols themselves beyond; every tail length of the
    four rows."""
    r = np.array(values + far, dtype=np.int64).view(np.uint64)
    c = np.uint64(center % 2**64)
    _syms, want = huffman.huff_symbols(r, c)
    assert huffman.symbol_counts(r, c).tolist() == want.tolist()
    assert huffman.symbol_counts(r, c).sum() == r.size
    small = huffman._small_counts(r, c)
    zigzag = [(2 * (v - center)) ^ ((v - center) >> 63) for v in values + far]
    assert small.size == (0 if any(z >= 4096 for z in zigzag) else want.size)
    assert huffman._SYMBOL_OF_SMALL.tolist() == [naive.codec_symbol(z)[0] for z in range(4096)]


def _distinct_adjacent(values: list[int]) -> tuple[int, int]:
    """Distinct values, and distinct values whose predecessor is there too."""
    present = set(values)
    return len(present), sum(1 for v in present if v - 1 in present)


@settings(max_examples=150)
@given(
    base=st.integers(-(2**63), 2**63 - 1),
    offsets=st.lists(
        st.one_of(
            st.integers(0, 40),
            st.integers(0, bitpack.BYTEMAP_SPAN + 2),
            st.integers(0, bitpack.BITMAP_SPAN + 2),
            st.integers(0, 2**64 - 1),
        ),
        min_size=1,
        max_size=600,
    ),
)
def test_sampled_distinct_and_adjacent_counts_match_a_set(base: int, offsets: list[int]) -> None:
    """The wide-rank and levels pre-checks count a sample's distinct values and dense
    neighbours from a byte map (spans under BYTEMAP_SPAN), a bitmap (under BITMAP_SPAN) or
    a sort (wider), as a set does: around each one's edge and at the ends of int64 (values
    wrap into range)."""
    values = [((base + o + 2**63) % 2**64) - 2**63 for o in offsets]
    sample = np.array(values, dtype=np.int64)
    assert bitpack.sample_distinct_adjacent(sample) == _distinct_adjacent(values)
    ordered = np.sort(np.array(values, dtype=np.int64))
    assert bitpack.distinct_adjacent(ordered) == _distinct_adjacent(values)


@settings(max_examples=100)
@given(
    values=st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=300),
        st.builds(
            lambda base, span, offsets: [base + o % (span + 1) for o in offsets],
            st.integers(-(2**62), 2**62),
            st.sampled_from([0, 1, 1000, 2**23, 2**32 // 300, 2**32 // 41, 2**33]),
            st.lists(st.integers(0, 2**40), min_size=1, max_size=300),
        ),
    ),
    maxlag=st.integers(1, 40),
)
def test_mean_absolute_differences_per_lag_match_numpy(values: list[int], maxlag: int) -> None:
    """The period finder's mean |v[i] - v[i - lag]| per lag, summed wrapping as int64; in
    uint32 lanes where the values' span times their count fits in 32 bits (around that
    edge too)."""
    v = np.array(values, dtype=np.int64)
    got = lag._mean_abs_diffs(v.view(np.uint64), maxlag)
    want = np.zeros(maxlag + 1)
    with np.errstate(over="ignore"):
        for k in range(1, maxlag + 1):
            if v.size > maxlag:
                want[k] = np.abs(v[maxlag:] - v[maxlag - k : v.size - k]).sum()
    # (exact integer sums; the division may round in the last bit either way)
    np.testing.assert_allclose(got, want / max(v.size - maxlag, 1), rtol=1e-15, atol=0)


@settings(max_examples=200, deadline=None)
@given(total=st.integers(0, 2**31), m=st.integers(1, 70_000), count=st.integers(0, 2000))
def test_even_positions_without_a_division_are_those_with_one(
    total: int, m: int, count: int
) -> None:
    """The samplers' evenly spaced positions ``j * total // m``, stepped without a
    division (:func:`bitpack.even_next`), are the divided ones."""
    q, r = divmod(total, m)
    at = rem = 0
    for j in range(count):
        assert at == j * total // m
        at, rem = bitpack.even_next(at, rem, q, r, m)


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    width=st.integers(1, 12),
    center=st.integers(-5, 5),
)
def test_the_table_encoder_writes_the_streams_of_the_four_stream_encoder(
    seed: int, n: int, width: int, center: int
) -> None:
    """The Huffman stage's table encoder (zigzag values below 2**12, four values of a
    stream in one shift where they fit) writes each stream as the one-stream encoder does:
    every table width, tails of 1-15 values, codes of up to 12 bits."""
    rng = np.random.default_rng(seed)
    half = 2 ** (width - 1)
    r = rng.laplace(0, half / 4 + 0.5, n).round().clip(-half, half - 1).astype(np.int64)
    r = (r + center).view(np.uint64)
    c = np.uint64(center % 2**64)
    z, _syms, counts = _kernels.huff_prepare(r, c)
    lens = _kernels.huff_lengths(counts, _huffman.MAXLEN)
    codes = _kernels.huff_codes(lens, _huffman.MAXLEN)
    parts = [_kernels.huff_encode(np.ascontiguousarray(z[j::4]), codes, lens) for j in range(4)]
    tbits = huffman.table_bits(counts, 1 << 30)
    assert tbits >= 0 and (1 << tbits) > int(z.max())
    bits = int(np.dot(counts, lens + _huffman.EXTRA_BITS))
    got, got_bits = huffman.huff_encode4_table(r, c, codes, lens, bits, tbits)
    assert got.tobytes() == b"".join(part.tobytes() for part, _ in parts)
    assert got_bits.tolist() == [b for _, b in parts]


def test_the_table_encoder_is_left_for_wide_values_and_short_blocks() -> None:
    """Symbols past TABLE_MAX_SYMBOL (zigzag values of 2**12 and more) or fewer than
    TABLE_VALUES_PER_ENTRY values an entry keep the four-stream encoder."""
    counts = np.zeros(130, dtype=np.int64)
    counts[[0, 5, huffman.TABLE_MAX_SYMBOL]] = 100
    assert huffman.table_bits(counts, 2 << 12) == 12
    assert huffman.table_bits(counts, (2 << 12) - 1) == -1
    counts[huffman.TABLE_MAX_SYMBOL + 1] = 1
    assert huffman.table_bits(counts, 1 << 30) == -1
    counts[8:] = 0
    assert huffman.table_bits(counts, 16) == 3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1)), min_size=0, max_size=3000),
    st.booleans(),
)
def test_radix_order_is_a_stable_argsort(keys: list[int], shared_high: bool) -> None:
    """The dictionaries' sort: numpy's stable argsort, with repeated keys, keys sharing
    their high bytes (floats of one exponent) and fewer keys than the radix needs."""
    u = np.array(keys, dtype=np.uint64)
    if shared_high:
        u = (u & np.uint64(0xFFFFFF)) | np.uint64(0x3FF0_0000_0000_0000)
    assert bitpack.radix_order(u).tolist() == np.argsort(u, kind="stable").tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(width=64), min_size=0, max_size=200),
    st.integers(0, 6000),
    st.sampled_from(["spread", "crowded", "grid"]),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**32 - 1),
)
def test_key_order_is_a_stable_argsort(
    values: list[float], n: int, shape: str, dtype: type, seed: int
) -> None:
    """The dictionaries' sort of float keys: numpy's stable argsort, where the values spread
    over buckets (normal readings, a grid of steps, repeated keys), crowd a few (a level and
    far outliers: the radix sort), or hold NaN, infinities, -0.0 and 0.0 (the drawn
    values)."""
    rng = np.random.default_rng(seed)
    if shape == "spread":
        x = rng.normal(0, 3, n)
    elif shape == "grid":
        x = -8.7 + 0.0010646508437162 * rng.integers(0, 16_000, n)
    else:
        x = np.where(rng.random(n) < 0.98, rng.normal(1, 1e-6, n), rng.normal(0, 1e6, n))
    with np.errstate(over="ignore"):
        x = np.concatenate([x, np.array(values)]).astype(dtype)
    total = 8 * x.itemsize
    keys = _kernels.order_keys(x.view(np.uint32 if total == 32 else np.uint64), total)
    keys = keys[rng.permutation(keys.size)]
    assert _kernels.key_order(keys, total).tolist() == np.argsort(keys, kind="stable").tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=500),
    st.sampled_from([np.float32, np.float64]),
)
def test_order_keys_sort_as_the_floats_do(values: list[float], dtype: type) -> None:
    """The dictionary's keys: their unsigned order is the floats' numeric order (-0.0 just
    below 0.0), and ``keys_to_bits`` maps them back to the bits."""
    with np.errstate(over="ignore"):
        x = np.array(values).astype(dtype)
    total = 8 * x.itemsize
    keys = _kernels.order_keys(x.view(np.uint32 if total == 32 else np.uint64), total)
    order = np.argsort(keys, kind="stable")
    ranked = x[order]
    assert (ranked[1:] >= ranked[:-1]).all()
    signs = np.signbit(ranked)
    zeros = ranked == 0
    assert not (signs[1:] & zeros[1:] & ~signs[:-1] & zeros[:-1]).any()  # (-0.0 after 0.0)
    bits = x.view(np.uint32 if total == 32 else np.uint64)
    assert _kernels.keys_to_bits(keys, total).tolist() == bits.astype(np.uint64).tolist()


@settings(max_examples=80, deadline=None)
@given(
    dtype=st.sampled_from(["f4", "f8"]),
    bits=st.lists(U64, min_size=1, max_size=200),
    decimals=st.integers(0, 6),
    picks=st.lists(st.integers(0, 199), max_size=60),
)
def test_float_div_split_matches_numpy_and_at_positions(
    dtype: str, bits: list[int], decimals: int, picks: list[int]
) -> None:
    """Multiples ``round(x * divisor)`` (0 where not below the bound or not finite) and the
    adjustments (the values' bits minus those of ``k / divisor``), any bit pattern (NaN,
    infinities, -0.0); ``fdiv_split_at`` gives the same adjustments at the positions."""
    uint = np.uint32 if dtype == "f4" else np.uint64
    raw = np.array(bits, dtype=np.uint64)
    x_bits = (raw >> np.uint64(32)).astype(uint) if dtype == "f4" else raw
    x = x_bits.view(dtype)
    decimal = np.round(x.astype(np.float64) * 1000) / 1000  # (decimals too, not only noise)
    with np.errstate(all="ignore"):
        x = np.where(np.arange(x.size) % 2 == 0, decimal.astype(dtype), x)
    x_bits = x.view(uint)
    divisor, kmax = float(10**decimals), float(2**52)
    scratch = np.empty_like(x)
    k, adj = lag.fdiv_split(x, x_bits, divisor, scratch, scratch.view(uint), kmax)
    with np.errstate(all="ignore"):
        y = x.astype(np.float64) * divisor
        want_k = np.where(np.abs(y) < kmax, np.rint(y), 0).astype(np.int64)
        approx = (want_k.astype(np.float64) / divisor).astype(dtype)
    diff = (x_bits - approx.view(uint)).astype(uint)
    want_adj = diff.view(np.int32 if dtype == "f4" else np.int64).astype(np.int64)
    assert k.tolist() == want_k.tolist() and adj.tolist() == want_adj.tolist()
    positions = np.unique(np.array([p % x.size for p in picks], dtype=np.int64))
    probe = np.zeros(1, dtype=dtype)
    k_at, adj_at = lag.fdiv_split_at(x, x_bits, divisor, probe, probe.view(uint), kmax, positions)
    assert k_at.tolist() == k.tolist() and adj_at.tolist() == adj[positions].tolist()


@settings(max_examples=60)
@given(lags=st.lists(st.integers(0, 5), max_size=300))
def test_count_zeros_counts_the_first_occurrences(lags: list[int]) -> None:
    a = np.array(lags, dtype=np.int64)
    assert _kernels.count_zeros(a) == int(np.count_nonzero(a == 0))


@settings(max_examples=80, deadline=None)
@given(
    dtype=st.sampled_from(["f4", "f8"]),
    n=st.integers(1, 3000),
    decimals=st.integers(0, 6),
    off=st.sampled_from([0.0, 0.02, 0.1, 0.5]),
    ulps=st.integers(1, 5000),
    seed=st.integers(0, 2**32 - 1),
)
def test_float_div_gain_follows_its_cost_model(
    dtype: str, n: int, decimals: int, off: float, ulps: int, seed: int
) -> None:
    """``fdiv_gain``: on FDIV_SAMPLE evenly spaced values, ALP's exceptions at 2 + itemsize
    bytes each against float-div's adjustments (numpy's) at FDIV_ADJ_BYTES plus their bits;
    -inf where a quarter of the sample or more is adjusted. Decimals with a share ``off``
    moved ``ulps`` units in the last place."""
    rng = np.random.default_rng(seed)
    uint = np.uint32 if dtype == "f4" else np.uint64
    x = np.round(rng.normal(50, 20, n), decimals).astype(dtype)
    moved = rng.random(n) < off
    x.view(uint)[moved] += uint(ulps)
    x_bits = x.view(uint)
    e, f = decimals, 0
    probe = np.zeros(1, dtype=dtype)
    kmax = float(2**52)
    got = lag.fdiv_gain(x, x_bits, e, f, probe, probe.view(uint), kmax, lag.FDIV_SAMPLE)
    m = min(n, lag.FDIV_SAMPLE)
    idx = np.array([j * (n - 1) // (m - 1) if m > 1 else 0 for j in range(m)], dtype=np.int64)
    s = x[idx]
    _ints, exceptions = _kernels.alp_encode(s, e, f, np.zeros(1, dtype=dtype))
    divisor = 10.0**decimals
    y = s.astype(np.float64) * divisor
    k = np.where(np.abs(y) < kmax, np.rint(y), 0).astype(np.int64)  # (-0.0: k is 0)
    approx = (k.astype(np.float64) / divisor).astype(dtype)
    adj = (s.view(uint) - approx.view(uint)).view(np.int32 if dtype == "f4" else np.int64)
    nonzero = np.abs(adj[adj != 0].astype(np.int64))
    if 4 * nonzero.size >= m:
        assert got == -np.inf
        return
    bits = sum(int(a).bit_length() + 1 for a in nonzero.tolist())
    saved = exceptions.size * (2 + x.itemsize) - nonzero.size * lag.FDIV_ADJ_BYTES - bits / 8
    assert np.isclose(got, saved * n / m - lag.FDIV_HEAD_BYTES)
    screen = lag.fdiv_gain(x, x_bits, e, f, probe, probe.view(uint), kmax, lag.FDIV_SCREEN)
    assert lag.fdiv_pays(x, x_bits, e, f, probe, probe.view(uint), kmax, 1000.0) == (
        screen > -lag.FDIV_HEAD_BYTES and got >= lag.FDIV_MIN_GAIN * 1000.0
    )
    assert not lag.fdiv_pays(x, x_bits, 0, 1, probe, probe.view(uint), kmax, 1000.0)


@settings(max_examples=80)
@given(data=st.data(), wide=st.booleans())
def test_byte_shuffle_is_numpys_transpose_and_inverts(data: st.DataObject, wide: bool) -> None:
    """The shuffle-lz4 scheme's byte planes: byte ``j`` of every value, then ``j + 1``."""
    dtype = np.uint64 if wide else np.uint32
    values = data.draw(st.lists(st.integers(0, np.iinfo(dtype).max), max_size=300))
    u = np.array(values, dtype=dtype)
    planes = _kernels.byte_shuffle(u)
    assert planes.tobytes() == u.view(np.uint8).reshape(u.size, u.itemsize).T.tobytes()
    back = np.empty_like(u)
    _kernels.byte_unshuffle(planes, back)
    assert back.tolist() == values


@settings(max_examples=40)
@given(n=st.integers(1024, 20_000), seed=st.integers(0, 2**32 - 1), wide=st.booleans())
def test_window_planes_are_the_shuffled_windows(n: int, seed: int, wide: bool) -> None:
    """``window_planes`` gathers and shuffles in one call what ``_windows`` and
    ``byte_shuffle`` give in two (the shuffle-lz4 estimate)."""
    from edgekit.codec import _schemes

    dtype = np.float64 if wide else np.float32
    x = np.cumsum(np.random.default_rng(seed).standard_normal(n)).astype(dtype)
    uint = np.uint64 if wide else np.uint32
    windows = _schemes._windows(x).view(uint)
    planes = _kernels.window_planes(x.view(uint), _schemes.SKIP_WINDOWS, _schemes.SKIP_WINDOW)
    assert planes.tobytes() == _kernels.byte_shuffle(windows).tobytes()


def test_fdiv_adjustment_bits_is_the_mean_bit_length_of_the_adjustments() -> None:
    """The repeat-div noise test: the mean bit length of ``fdiv_split_at``'s adjustments
    (0 for an exact decimal, the adjustment's bit length otherwise)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([np.round(rng.normal(1.0, 0.05, 300), 3), 0.98 + 0.02 * rng.random(200)])
    probe = np.zeros(1)
    bits = x.view(np.uint64)
    _k, adj = _kernels.fdiv_split_at(
        x, bits, 1000.0, probe, probe.view(np.uint64), 2**52, np.arange(x.size)
    )
    expected = float(np.mean([int(abs(int(a))).bit_length() for a in adj]))
    got = _kernels.fdiv_adjustment_bits(x, bits, 1000.0, probe, probe.view(np.uint64), 2**52)
    assert got == expected and 0.0 < got < 52.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300),
    st.integers(1, 40),
    st.integers(0, 62),
)
def test_dictionary_bits_is_the_entropy_plus_an_entry_per_distinct_value(
    wide: list[int], levels: int, scale: int
) -> None:
    """The adjusted estimate's dictionary cost, counted in a hash table: the order-0
    entropy of the values plus ADJ_DICT_BITS a distinct value, as counted after a sort
    (few levels far apart, and wide noise)."""
    rng = np.random.default_rng(len(wide) + levels)
    for a in (
        np.array(wide, dtype=np.int64),
        (rng.integers(-levels, levels + 1, 500) << scale).astype(np.int64),
    ):
        _values, counts = np.unique(a, return_counts=True)
        n = a.size
        expected = sum(float(c) * np.log2(n / c) + fmadj.ADJ_DICT_BITS for c in counts)
        assert fmadj._dictionary_bits(a) == pytest.approx(expected, rel=1e-12, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 255), st.integers(1, 3000), st.integers(0, 2**32))
def test_rank_pairs_are_counted_on_the_pairs(k: int, m: int, seed: int) -> None:
    """The rank scheme's pairs, found on the pairs themselves: each pair's appearance code,
    the rank codes in use (ascending), their counts and appearance codes, as counted on the
    whole k * k table (an odd last residual paired with ``fill``); and the counts by stream
    derived from them, as counted on the residuals."""
    blocks = _kernels.blocks
    rng = np.random.default_rng(seed)
    index = rng.integers(0, k, m).astype(np.uint8)
    rank_of = rng.permutation(k).astype(np.uint64)
    fill = int(rng.integers(0, k))
    codes, appear, even, odd = blocks._pair_counts(index, m, k)
    rows = blocks._paired_rows(index, m, k, appear, even, odd)
    table = huffman.byte_rows(index, 256).reshape(4, 256)[:, :k]
    assert rows.tolist() == table.tolist()
    in_use, counts, appear = blocks._pairs_in_use(
        codes, appear, even, odd, index, m, k, fill, rank_of
    )
    pairs = np.append(index, np.uint8(fill))[: 2 * ((m + 1) // 2)].reshape(-1, 2).astype(np.int64)
    assert codes.tolist() == (pairs[:, 0] * k + pairs[:, 1]).tolist()
    ranked = rank_of[pairs[:, 0]].astype(np.int64) * k + rank_of[pairs[:, 1]].astype(np.int64)
    used, used_counts = np.unique(ranked, return_counts=True)
    assert in_use.tolist() == used.tolist() and counts.tolist() == used_counts.tolist()
    back = rank_of[appear // k].astype(np.int64) * k + rank_of[appear % k].astype(np.int64)
    assert back.tolist() == in_use.tolist()


def test_the_planner_reads_a_rank_payloads_dictionary_size() -> None:
    """The planner's copy of the rank scheme's limit is the kernels', and it reads the
    number of distinct residuals of a rank payload (order 1 here: the head's first value
    before it)."""
    assert _schemes.RANK_MAX == _kernels.blocks.RANK_MAX
    rng = np.random.default_rng(7)
    lanes = np.cumsum(rng.choice([3, 5, 8, 13, 21], 4000)).astype(np.uint64)
    payload = _kernels.rank_payload(lanes, 8 * lanes.size)
    assert payload.size and payload[0] == 1
    assert _schemes._rank_distinct(payload.tobytes()) == 5
