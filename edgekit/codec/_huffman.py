"""Length-limited canonical Huffman codes over the 130 residual symbols (tables only).

The bit-level coding is in ``_kernels.huff_encode``/``huff_decode``; this module builds
code lengths from counts, serializes them, and turns lengths into encode codes and the
12-bit decode lookup table.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

NSYM = 130
MAXLEN = 12


def code_lengths(counts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Huffman code lengths (at most MAXLEN bits) for symbol counts; 0 for unused symbols."""
    from edgekit.codec._kernels import huff_lengths

    return huff_lengths(counts.astype(np.int64), MAXLEN)  # type: ignore[no-any-return]


def _huffman_lengths(counts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    lens = np.zeros(NSYM, dtype=np.int64)
    used = [int(s) for s in np.flatnonzero(counts)]
    if len(used) == 1:
        lens[used[0]] = 1
        return lens
    heap: list[tuple[int, int, list[int]]] = [(int(counts[s]), i, [s]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tiebreak = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1:
            lens[s] += 1
        for s in s2:
            lens[s] += 1
        heapq.heappush(heap, (c1 + c2, tiebreak, s1 + s2))
        tiebreak += 1
    return lens


def kraft_ok(lens: np.ndarray[Any, Any]) -> bool:
    """True when the lengths form a prefix code (Kraft sum at most 1) with at least one symbol."""
    used = lens[lens > 0]
    if used.size == 0 or used.max() > MAXLEN:
        return False
    return int(np.sum(np.left_shift(1, MAXLEN - used))) <= (1 << MAXLEN)


def canonical_codes(lens: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Canonical codes (by length, then symbol), bit-reversed for an LSB-first stream."""
    from edgekit.codec._kernels import huff_codes

    return huff_codes(lens, MAXLEN)  # type: ignore[no-any-return]


def _canonical_codes_py(lens: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Pure-Python version of :func:`canonical_codes` (reference)."""
    codes = np.zeros(NSYM, dtype=np.uint64)
    code = 0
    prev_len = 0
    for length in range(1, MAXLEN + 1):
        code <<= length - prev_len
        prev_len = length
        for sym in np.flatnonzero(lens == length):
            codes[sym] = _reverse(code, length)
            code += 1
    return codes


def _reverse(code: int, length: int) -> int:
    out = 0
    for _ in range(length):
        out = (out << 1) | (code & 1)
        code >>= 1
    return out


def decode_table(lens: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(symbol, length) for each of the 2**MAXLEN next-bit patterns; length 0 = invalid code."""
    from edgekit.codec._kernels import huff_table

    return huff_table(lens, MAXLEN)  # type: ignore[no-any-return]


def _decode_table_py(
    lens: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Pure-Python version of :func:`decode_table` (reference)."""
    table_sym = np.zeros(1 << MAXLEN, dtype=np.uint8)
    table_len = np.zeros(1 << MAXLEN, dtype=np.int64)
    codes = _canonical_codes_py(lens)
    for sym in np.flatnonzero(lens):
        length = int(lens[sym])
        start = int(codes[sym])
        table_sym[start :: 1 << length] = sym
        table_len[start :: 1 << length] = length
    return table_sym, table_len


def pack_lengths(lens: np.ndarray[Any, Any]) -> bytes:
    """``lo u8 | hi u8 | (hi-lo+1) 4-bit lengths, low nibble first``."""
    used = np.flatnonzero(lens)
    lo, hi = int(used[0]), int(used[-1])
    nibbles = np.zeros(hi - lo + 2, dtype=np.uint8)
    nibbles[: hi - lo + 1] = lens[lo : hi + 1]
    packed = nibbles[0 : (hi - lo + 1) + ((hi - lo + 1) % 2) : 2] | (
        nibbles[1 : (hi - lo + 2) : 2] << 4
    )
    return bytes([lo, hi]) + packed.astype(np.uint8).tobytes()


def extra_bits_per_symbol() -> np.ndarray[Any, Any]:
    """Extra raw bits that follow each symbol's code."""
    extra = np.zeros(NSYM, dtype=np.int64)
    for sym in range(8, NSYM):
        extra[sym] = (sym - 8) // 2 + 4 - 2
    return extra


EXTRA_BITS = extra_bits_per_symbol()
