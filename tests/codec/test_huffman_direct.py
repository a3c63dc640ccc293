"""The huffman integer decoder of ``_kernels/huffdec.py`` against the general one.

``decode_huff_lanes`` (the direct decoder: a value a lookup, long values after a branch,
the streams read in place) must give the values, status and end position of
``huffman.decode_huff_block`` on every payload: valid blocks of every residual order and
code width, into uint64 lanes and into int16 values (whose table holds the block's
center), with the payload in the middle of a buffer or at its very end (the copy), as
``bytes`` or as an array, and damaged payloads. The direct table is checked entry by
entry against a construction from the one-value table. Generated data only (edge cases
of the decoders).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import compress
from edgekit.codec._format import HUFF, HUFF_NSYM
from edgekit.codec._kernels import huffdec as kd
from edgekit.codec._kernels import huffman as kh


def _huffman_blocks(
    x: np.ndarray, block_size: int, required: bool = True
) -> list[tuple[bytes, int]]:
    """(payload, value count) of each huffman block of ``compress(x)``'s full-layout frame
    (at least one, where ``required``)."""
    frame = compress(x, block_size=block_size, compact=False)
    pos = 7 + 8 * frame[6] + 4
    out, start = [], 0
    while pos < len(frame) - 8:
        scheme, length = struct.unpack_from("<BI", frame, pos)
        count = min(block_size, x.size - start)
        if scheme == HUFF:
            out.append((frame[pos + 5 : pos + 5 + length], count))
        pos += 5 + length
        start += count
    assert out or not required, "no huffman block"
    return out


def _both(payload: bytes, n: int, before: int, after: int, as_array: bool) -> None:
    """Decode ``payload`` with ``before``/``after`` bytes around it both ways, into uint64
    lanes and into int16 (summed or not); compare with the general decoder."""
    buf: bytes | np.ndarray = bytes(before) + payload + bytes(range(after % 256))[:after]
    if as_array:
        buf = np.frombuffer(buf, dtype=np.uint8)
    want = np.zeros(n, dtype=np.uint64)
    end = before + len(payload)
    expected = kh.decode_huff_block(np.frombuffer(bytes(buf), np.uint8), before, end, n, want)
    for dtype in (np.uint64, np.int16):
        got = np.zeros(n, dtype=dtype)
        assert kd.decode_huff_lanes(buf, before, end, n, got) == expected
        if expected[0] == 0:
            assert np.array_equal(got, want.astype(dtype))
        got[:] = 0
        assert kd.decode_huff_summed(buf, before, end, n, got) == expected
        if expected[0] == 0:
            assert np.array_equal(got, np.cumsum(want, dtype=np.uint64).astype(dtype))


def _heads(payload: bytes) -> tuple[np.ndarray, int]:
    """The code lengths and the center of a huffman payload."""
    order = payload[0]
    center = struct.unpack_from("<Q", payload, 1 + 8 * order)[0]
    at = 1 + 8 * order + 8
    lo, hi = payload[at], payload[at + 1]
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    for s in range(lo, hi + 1):
        b = payload[at + 2 + (s - lo) // 2]
        lens[s] = b & 15 if (s - lo) % 2 == 0 else b >> 4
    return lens, center


def _signal(scale: float, order: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.round(rng.laplace(0, scale, n))
    for _ in range(order):
        x = np.cumsum(x)
    return x


@pytest.mark.parametrize("scale", [2, 12, 70, 400, 3000])  # about 3 to 14 bits a value
@pytest.mark.parametrize("order", [0, 1, 2])
def test_valid_blocks_decode_as_the_general_decoder(scale: int, order: int) -> None:
    x = _signal(scale, order, 20_003, seed=scale + order).astype(np.int64)
    for block_size in (20_003, 4_099, 75):  # long blocks, short ones, a few groups
        for payload, n in _huffman_blocks(x, block_size, block_size > 75)[:3]:
            for before, after, as_array in ((3, 40, False), (0, 0, True), (5, 8, True)):
                _both(payload, n, before, after, as_array)


@settings(max_examples=60, deadline=None)
@given(
    scale=st.floats(0.3, 5000),
    order=st.integers(0, 2),
    n=st.integers(64, 3000),
    seed=st.integers(0, 2**32 - 1),
    after=st.integers(0, 40),
)
def test_any_block_decodes_as_the_general_decoder(
    scale: float, order: int, n: int, seed: int, after: int
) -> None:
    x = _signal(scale, order, n, seed)
    x = np.clip(x, -(2**62), 2**62).astype(np.int64)
    # (where another scheme wins there is nothing of this decoder to check)
    for payload, m in _huffman_blocks(x, n, required=False):
        _both(payload, m, 1, after, False)


def test_int16_audio_frames_take_the_direct_decoder() -> None:
    for payload, n in _huffman_blocks(_signal(150, 1, 65_536, 7).astype(np.int16), 65_536):
        _both(payload, n, 0, 8, False)
        assert 8 * len(payload) >= 6.5 * n
        lens, center = _heads(payload)
        for fold in (False, True):
            assert kd.huff_direct_table(lens, np.uint64(center), fold).size == 1 << kh.MULTI_BITS


def test_damaged_payloads_fail_as_in_the_general_decoder() -> None:
    rng = np.random.default_rng(5)
    cases = _huffman_blocks(_signal(70, 1, 9_000, 3).astype(np.int64), 9_000)
    cases += _huffman_blocks(_signal(3, 2, 9_000, 4).astype(np.int64), 9_000)
    # (mostly long values: the branch-free decoder, whose reads run past a stream's end)
    cases += _huffman_blocks(_signal(1500, 0, 9_000, 5).astype(np.int64), 9_000)
    for payload, n in cases:
        for _ in range(100):
            bad = bytearray(payload)
            for _ in range(int(rng.integers(1, 4))):
                bad[int(rng.integers(0, len(bad)))] ^= 1 << int(rng.integers(0, 8))
            if rng.random() < 0.2:
                bad = bad[: int(rng.integers(0, len(bad)))]
            _both(bytes(bad), n, 2, int(rng.integers(0, 40)), bool(rng.random() < 0.5))


def _direct_reference(lens: np.ndarray, center: int, fold: bool, bits: int = 12) -> np.ndarray:
    """The direct table built per ``bits``-bit pattern from the one-value table (Python)."""
    single = kh.huff_value_table(lens, kh.MULTI_BITS)
    out = np.zeros(1 << bits, dtype=np.int32)
    for w in range(1 << bits):
        s = int(single[w & (single.size - 1)])
        ln, e, top = s & 15, (s >> 4) & 63, s >> 10
        if ln + e <= bits:
            z = top << e | (w >> ln) & ((1 << e) - 1)
            r = (z >> 1) ^ -(z & 1)
            if fold:
                r = (r + center) % (1 << 24)
                r -= (1 << 24) * (r >= 1 << 23)
            out[w] = r << 8 | (ln + e)
        else:
            out[w] = ln << 8 | e << 12 | (top - 2) << 18
    return out


@pytest.mark.parametrize(
    "lengths",
    [
        [3, 3, 3, 4, 3, 4, 4, 4, 3, 4, 5, 6, 7, 8, 9, 9],  # int16 audio residuals
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12],  # one short code, long extra fields
    ],
)
@pytest.mark.parametrize("center", [0, 5, 2**23 - 1, 2**64 - 3])
@pytest.mark.parametrize("bits", [12, kd.WIDE_BITS])
def test_direct_table_equals_a_construction_from_the_value_table(
    lengths: list[int], center: int, bits: int
) -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    lens[: len(lengths)] = lengths
    for fold in (False, True):
        got = kd.huff_direct_table(lens, np.uint64(center), fold, bits)
        assert np.array_equal(got, _direct_reference(lens, center, fold, bits))


def test_direct_tables_are_empty_for_incomplete_codes_and_long_values() -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    sizes = [0, 1 << kh.MULTI_BITS, 0, 1 << kh.MULTI_BITS]
    for case, size in enumerate(sizes):
        if case == 0:
            lens[:3] = [1, 2, 3]  # Kraft sum 7/8: the pattern ...111 is no code
        elif case == 1:
            lens[3] = 3  # complete
        elif case == 2:
            lens[3] = 0
            lens[8 + 2 * 53] = 3  # a 55-bit extra field after a 3-bit code: 58 bits
        else:
            lens[8 + 2 * 53] = 0
            lens[8 + 2 * 52] = 3  # 54 bits after 3: 57, one read
        assert kd.huff_direct_table(lens, np.uint64(0), False).size == size
        assert kd.huff_free_table(lens, False).size == size


def _free_reference(lens: np.ndarray, narrow: bool) -> np.ndarray:
    """The branch-free table built per 12-bit pattern from the one-value table (Python)."""
    single = kh.huff_value_table(lens, kh.MULTI_BITS)
    out = np.zeros(single.size, dtype=np.uint64)
    for w, s in enumerate(single.tolist()):
        ln, e, top = s & 15, (s >> 4) & 63, s >> 10
        if ln + e <= kh.MULTI_BITS:
            z = top << e | (w >> ln) & ((1 << e) - 1)
            h = ((z >> 1) ^ -(z & 1)) % 2**32 if narrow else z
            out[w] = h << 32 | (ln + e) << 16
        else:
            h = (top << (e - 1)) % 2**32 if narrow else top
            out[w] = h << 32 | (ln + e) << 16 | e << 8 | ln
    return out


@pytest.mark.parametrize(
    "lengths",
    [
        [3, 3, 3, 4, 3, 4, 4, 4, 3, 4, 5, 6, 7, 8, 9, 9],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12],
        [0] * 40 + [2, 2, 2, 3, 3],  # float-div multiples: every value long, up to 19 bits
    ],
)
def test_free_table_equals_a_construction_from_the_value_table(lengths: list[int]) -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    lens[: len(lengths)] = lengths
    for narrow in (False, True):
        assert np.array_equal(kd.huff_free_table(lens, narrow), _free_reference(lens, narrow))


@pytest.mark.parametrize("high", [2**10, 2**18, 2**21, 2**24, 2**40, 2**55])
def test_long_values_after_full_windows_decode(high: int) -> None:
    """Values of about 12 bits (code and extra bits) and a few long ones: a long value
    after three 12-bit ones is read at itself, not from the 21 bits left of its group's
    read (values of 22-28 bits came out wrong so), up to 57 bits."""
    rng = np.random.default_rng(high % 1000)
    n = 20_000
    small = rng.integers(-1500, 1500, n)
    x = np.where(rng.random(n) < 0.93, small, rng.integers(high, 2 * high, n))
    for payload, m in _huffman_blocks(x.astype(np.int64), n):
        lens, center = _heads(payload)
        # (beyond 57 bits with its code, a value leaves the block to the other decoders)
        direct = kd.huff_direct_table(lens, np.uint64(center), False).size > 0
        assert direct == (high < 2**50)
        _both(payload, m, 0, 8, False)
        _both(payload, m, 3, 0, True)


@pytest.mark.parametrize(
    ("scale", "plan"),
    [(1500, 0), (600, kd.WIDE_BITS), (30, 12)],  # long values: 58 %, 19 %, 2 %
)
def test_blocks_take_the_decoder_their_long_values_call_for(scale: int, plan: int) -> None:
    """int16 audio whose values longer than 12 bits with their code are most (the
    branch-free decoder), a fifth (the wider direct table, as speech) or few (12 bits);
    blocks under the plans' sizes keep 12 bits. The values are the general decoder's."""
    x = np.clip(_signal(scale, 0, 40_000, 9), -(2**15), 2**15 - 1).astype(np.int16)
    for payload, n in _huffman_blocks(x, 40_000):
        lens, _ = _heads(payload)
        assert kd.direct_plan(lens, n - payload[0]) == plan
        assert kd.direct_plan(lens, kd.FREE_MIN_VALUES - 1) == 12
        assert kd.huff_free_table(lens, False).size == 1 << kh.MULTI_BITS
        for before, after, as_array in ((0, 8, False), (3, 0, True), (0, 0, False)):
            _both(payload, n, before, after, as_array)


def test_many_long_values_take_the_branch_in_every_position_of_a_group() -> None:
    """Mostly small values and a quarter of long ones (a repeat block's lags: 0 for each
    literal, a few periods, and far-back repeats): long values read their stream again
    after themselves, at every place of the loop's groups."""
    rng = np.random.default_rng(11)
    n = 20_000
    x = np.where(rng.random(n) < 0.75, rng.integers(0, 6, n), rng.integers(300, 5000, n))
    for payload, m in _huffman_blocks(x.astype(np.int64), n):
        lens, center = _heads(payload)
        table = kd.huff_direct_table(lens, np.uint64(center), False)
        assert table.size and np.count_nonzero((table & 255) == 0) > 0
        for before, after, as_array in ((0, 8, False), (3, 0, True)):
            _both(payload, m, before, after, as_array)
