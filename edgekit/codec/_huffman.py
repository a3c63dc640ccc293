"""Length-limited canonical Huffman codes over the 130 residual symbols (tables only).

The bit-level coding is in ``_kernels.huff_encode``/``huff_decode4``; this module builds
code lengths from counts, serializes them, and turns lengths into encode codes and the
12-bit decode lookup table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NSYM = 130
MAXLEN = 12


def code_lengths(counts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Huffman code lengths (at most MAXLEN bits) for symbol counts; 0 for unused symbols."""
    from edgekit.codec._kernels import huff_lengths

    return huff_lengths(counts.astype(np.int64), MAXLEN)  # type: ignore[no-any-return]


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
