"""The four-stream Huffman encoder (one loop, branch-free 32-bit writers) against the
one-stream encoder run on each stream apart, on blocks long enough to fill many words; the
choice of residual order by sampled cost."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _huffman, _kernels
from edgekit.codec._format import HUFF
from edgekit.codec._kernels.huffman import THIRD_IF_CHEAPEST


def _lanes(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(14)
    if kind == "audio":  # int16-like residuals: codes and extra bits in one 32-bit write
        return rng.normal(0, 900, n).astype(np.int64).view(np.uint64)
    if kind == "wide":  # extra fields of up to 62 bits: the split writes
        return rng.integers(0, 2**64, n, dtype=np.uint64)
    # mostly small, a tenth huge: both paths interleaved within each stream
    small = rng.integers(-20, 20, n)
    huge = rng.integers(-(2**62), 2**62, n)
    return np.where(rng.random(n) < 0.9, small, huge).astype(np.int64).view(np.uint64)


@pytest.mark.parametrize("kind", ["audio", "wide", "mixed"])
@pytest.mark.parametrize("n", [65536, 65533, 4097])
def test_four_streams_match_each_stream_encoded_apart(kind: str, n: int) -> None:
    r = _lanes(kind, n)
    z, syms, counts = _kernels.huff_prepare(r, np.uint64(0))
    lens = _kernels.huff_lengths(counts, _huffman.MAXLEN)
    codes = _kernels.huff_codes(lens, _huffman.MAXLEN)
    bits = int(np.dot(counts, lens + _huffman.EXTRA_BITS))
    joined, nbits = _kernels.huff_encode4(r, np.uint64(0), syms, codes, lens, bits)
    parts = [_kernels.huff_encode(np.ascontiguousarray(z[j::4]), codes, lens) for j in range(4)]
    assert nbits.tolist() == [bits for _, bits in parts]
    assert joined.tobytes() == b"".join(part.tobytes() for part, _ in parts)


def _records_with_jumps(seed: int, n: int = 30_000, record: int = 150) -> np.ndarray:
    """A random walk cut into records that each start at a random level (concatenated
    z-normalised cases of an archive): the jumps make every residual range equally wide."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.integers(-300, 301, n))
    level = np.repeat(rng.integers(-(2**27), 2**27, n // record + 1), record)[:n]
    return (walk + level).astype(np.int64)


def test_huffman_order_is_chosen_by_sampled_cost_not_by_range() -> None:
    u = _records_with_jumps(3).view(np.uint64)
    stats = _kernels.int_stats(u)
    widths = [int(stats[2 * o + 1] - stats[2 * o]).bit_length() for o in range(3)]
    assert widths[0] <= min(widths)  # the range alone would keep the values
    assert _kernels.huff_order(u, 0) == 1
    by_range = _kernels.huff_candidate(u, 0, 1 << 40)
    scheme, payload = _kernels.int_payload(u, True, 8 * u.size, False)
    assert scheme == HUFF and payload.size < 0.8 * by_range.size


@pytest.mark.parametrize("order", [0, 1, 2])
def test_huffman_order_finds_the_cheapest_order_of_a_smooth_series(order: int) -> None:
    """A series whose order-``order`` residuals are small noise: that order wins."""
    rng = np.random.default_rng(order)
    x = rng.integers(-40, 41, 5000).astype(np.int64)
    for _ in range(order):
        x = np.cumsum(x)
    u = (x + 10**9).view(np.uint64)
    assert _kernels.huff_order(u, 0) == order
    assert _kernels.huff_order(u[:100], 0) == order  # small blocks: every value sampled


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3000),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1, 50, 2**20, 2**62]),
    skip=st.integers(0, 15),
)
def test_order_bits_equal_each_orders_bits_on_the_sampled_windows(
    n: int, seed: int, scale: int, skip: int
) -> None:
    """One sample, differenced in place, gives each order the bits of its own residuals;
    the orders of the skip mask are not measured (inf)."""
    from edgekit.codec._kernels.huffman import ORDER_WINDOW, ORDER_WINDOWS, symbol_bits

    rng = np.random.default_rng(seed)
    u = np.cumsum(rng.integers(-scale, scale + 1, n)).view(np.uint64)
    whole = n <= ORDER_WINDOWS * ORDER_WINDOW
    w = n if whole else ORDER_WINDOW
    starts = [0] if whole else [k * (n - w) // (ORDER_WINDOWS - 1) for k in range(ORDER_WINDOWS)]
    bits, centers = _kernels.order_sample(u, 3, skip)
    assert np.array_equal(bits, _kernels.order_bits(u, 3, skip))
    for order in range(4):
        r = np.concatenate([np.diff(u[s : s + w], order) for s in starts])
        measured = r.size and not (skip >> order) & 1
        assert bits[order] == (symbol_bits(r) if measured else np.inf)
        if measured:  # (the median the symbols are measured around)
            assert centers[order] == np.sort(r.view(np.int64))[r.size // 2].view(np.uint64)
    lazy = _kernels.order_bits(u, 3, skip | THIRD_IF_CHEAPEST)
    assert np.array_equal(lazy[:3], bits[:3])
    # order 3 is measured where order 2 may be the cheapest, the only case it is read
    assert lazy[3] == (bits[3] if bits[2] <= min(bits[0], bits[1]) else np.inf)
