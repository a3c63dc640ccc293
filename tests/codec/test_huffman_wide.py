"""The huffman integer decoder of ``_kernels/huffdec.py`` against the general one.

``decode_huff_lanes`` (the wide decoder for long codes, the streams read in place) must
give the values, status and end position of ``huffman.decode_huff_block`` on every
payload: valid blocks of every residual order and code width, with the payload in the
middle of a buffer or at its very end (the copy), as ``bytes`` or as an array, and
damaged payloads. The wide table is checked entry by entry against a direct
construction. Generated data only (edge cases of the decoders).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from edgekit.codec import compress
from edgekit.codec._format import HUFF, HUFF_NSYM
from edgekit.codec._kernels import huffdec as kd
from edgekit.codec._kernels import huffman as kh


def _huffman_blocks(x: np.ndarray, block_size: int) -> list[tuple[bytes, int]]:
    """(payload, value count) of each huffman block of ``compress(x)``'s full-layout frame."""
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
    assert out, "no huffman block"
    return out


def _both(payload: bytes, n: int, before: int, after: int, as_array: bool) -> None:
    """Decode ``payload`` with ``before``/``after`` bytes around it both ways; compare."""
    buf: bytes | np.ndarray = bytes(before) + payload + bytes(range(after % 256))[:after]
    if as_array:
        buf = np.frombuffer(buf, dtype=np.uint8)
    want, got = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    end = before + len(payload)
    expected = kh.decode_huff_block(np.frombuffer(bytes(buf), np.uint8), before, end, n, want)
    result = kd.decode_huff_lanes(buf, before, end, n, got)
    assert result == expected
    if expected[0] == 0:
        assert np.array_equal(got, want)


def _lens_of(payload: bytes) -> np.ndarray:
    """The code lengths of a huffman payload."""
    at = 1 + 8 * payload[0] + 8  # order, heads, center
    lo, hi = payload[at], payload[at + 1]
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    for s in range(lo, hi + 1):
        b = payload[at + 2 + (s - lo) // 2]
        lens[s] = b & 15 if (s - lo) % 2 == 0 else b >> 4
    return lens


def _signal(scale: int, order: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.round(rng.laplace(0, scale, n))
    for _ in range(order):
        x = np.cumsum(x)
    return x


@pytest.mark.parametrize("scale", [2, 12, 70, 400, 3000])  # about 3 to 14 bits a value
@pytest.mark.parametrize("order", [0, 1, 2])
def test_valid_blocks_decode_as_the_general_decoder(scale: int, order: int) -> None:
    x = _signal(scale, order, 20_003, seed=scale + order).astype(np.int64)
    for block_size in (20_003, 4_099):  # one long block (multi or wide), short ones
        for payload, n in _huffman_blocks(x, block_size):
            for before, after, as_array in ((3, 40, False), (0, 0, True), (5, 8, True)):
                _both(payload, n, before, after, as_array)


def test_int16_audio_frames_take_the_wide_decoder() -> None:
    for payload, n in _huffman_blocks(_signal(150, 1, 65_536, 7).astype(np.int16), 65_536):
        _both(payload, n, 0, 8, False)
        assert 8 * len(payload) >= 6.5 * n
        assert kd.huff_wide_table(_lens_of(payload)).size == 1 << kh.MULTI_BITS


def test_damaged_payloads_fail_as_in_the_general_decoder() -> None:
    rng = np.random.default_rng(5)
    cases = _huffman_blocks(_signal(70, 1, 9_000, 3).astype(np.int64), 9_000)
    cases += _huffman_blocks(_signal(3, 2, 9_000, 4).astype(np.int64), 9_000)
    for payload, n in cases:
        for _ in range(150):
            bad = bytearray(payload)
            for _ in range(int(rng.integers(1, 4))):
                bad[int(rng.integers(0, len(bad)))] ^= 1 << int(rng.integers(0, 8))
            if rng.random() < 0.2:
                bad = bad[: int(rng.integers(0, len(bad)))]
            _both(bytes(bad), n, 2, int(rng.integers(0, 40)), bool(rng.random() < 0.5))


def _wide_reference(lens: np.ndarray) -> np.ndarray:
    """The wide table built per 12-bit pattern from the value table (Python)."""
    single = kh.huff_value_table(lens, kh.MULTI_BITS)
    out = np.zeros(single.size, dtype=np.uint64)
    for w, s in enumerate(single.tolist()):
        ln, e, top = s & 15, (s >> 4) & 63, s >> 10
        out[w] = (ln + e) | (ln << 8) | (top << (32 + ln + e))
    return out


@pytest.mark.parametrize(
    "lengths",
    [
        [3, 3, 3, 4, 3, 4, 4, 4, 3, 4, 5, 6, 7, 8, 9, 9],  # int16 audio residuals
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12],  # one short code, long extra fields
    ],
)
def test_wide_table_equals_a_direct_construction(lengths: list[int]) -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    lens[: len(lengths)] = lengths
    assert np.array_equal(kd.huff_wide_table(lens), _wide_reference(lens))


def test_wide_table_is_empty_for_incomplete_codes_and_long_values() -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    lens[:3] = [1, 2, 3]  # Kraft sum 7/8: the pattern ...111 is no code
    assert kd.huff_wide_table(lens).size == 0
    lens[3] = 3  # complete
    assert kd.huff_wide_table(lens).size == 1 << kh.MULTI_BITS
    lens[3] = 0
    lens[8 + 2 * 25] = 3  # a 27-bit extra field after a 3-bit code: 30 bits
    assert kd.huff_wide_table(lens).size == 0


def test_short_codes_with_many_long_values_take_the_wide_decoder() -> None:
    """Mostly small values and a quarter of long ones (a repeat block's lags: 0 for each
    literal, a few periods, and far-back repeats) take about 4 bits a value, yet the
    multi-value table would read each long one alone: the wide decoder takes them."""
    rng = np.random.default_rng(11)
    n = 20_000
    x = np.where(rng.random(n) < 0.75, rng.integers(0, 6, n), rng.integers(300, 5000, n))
    for payload, m in _huffman_blocks(x.astype(np.int64), n):
        assert 8 * len(payload) < 6.5 * m
        lens = _lens_of(payload)
        assert kd._long_share(lens) >= kd.WIDE_LONG_SHARE
        assert kd.huff_wide_table(lens).size == 1 << kh.MULTI_BITS
        for before, after, as_array in ((0, 8, False), (3, 0, True)):
            _both(payload, m, before, after, as_array)
