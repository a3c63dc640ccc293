"""Length-limited canonical Huffman codes over the residual symbols: Python-side checks.

The codes are built, written and read by the kernels (``_kernels.huffman``); this module
holds the Kraft check and the extra bits per symbol, in plain NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.codec._format import HUFF_MAXLEN as MAXLEN
from edgekit.codec._format import HUFF_NSYM as NSYM

__all__ = ["EXTRA_BITS", "MAXLEN", "NSYM", "extra_bits_per_symbol", "kraft_ok"]


def kraft_ok(lens: np.ndarray[Any, Any]) -> bool:
    """True when the lengths form a prefix code (Kraft sum at most 1) with at least one symbol."""
    used = lens[lens > 0]
    if used.size == 0 or used.max() > MAXLEN:
        return False
    return int(np.sum(np.left_shift(1, MAXLEN - used))) <= (1 << MAXLEN)


def extra_bits_per_symbol() -> np.ndarray[Any, Any]:
    """Extra raw bits that follow each symbol's code."""
    extra = np.zeros(NSYM, dtype=np.int64)
    for sym in range(8, NSYM):
        extra[sym] = (sym - 8) // 2 + 4 - 2
    return extra


EXTRA_BITS = extra_bits_per_symbol()
