"""The repeat scheme (format version 4): lags back to the previous equal value, and the
decoder's fill of literals and copies."""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_INDEX, ERR_POSITION


@njit
def repeat_lags(bits):
    """For each value of ``bits`` (uint64 or uint32, at most 65,536 values), the distance
    back to its previous occurrence, 0 for a first occurrence (int64). One pass with an
    open-addressing table of last positions."""
    n = bits.size
    size = 1
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    keys = np.empty(size, dtype=np.uint64)
    last = np.full(size, -1, dtype=np.int64)
    lags = np.zeros(n, dtype=np.int64)
    for i in range(n):
        v = np.uint64(bits[i])
        h = ((v * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while last[h] >= 0 and keys[h] != v:
            h = (h + np.uint64(1)) & mask
        if last[h] >= 0:
            lags[i] = i - last[h]
        else:
            keys[h] = v
        last[h] = i
    return lags


@njit
def repeat_fill(lags, literals, out):
    """Rebuild a repeat block into ``out`` (the values' bits): the next of ``literals``
    where a lag is 0, else the value that far back. Returns 0, ``ERR_POSITION`` for a lag
    reaching before the block, ``ERR_INDEX`` when the literal count does not match."""
    m = literals.size
    j = 0
    for i in range(out.size):
        lag = lags[i]
        if lag == 0:
            if j == m:
                return ERR_INDEX
            out[i] = literals[j]
            j += 1
        elif lag < 0 or lag > i:  # (int64 both: no unsigned mix that numba makes float)
            return ERR_POSITION
        else:
            out[i] = out[i - lag]
    return 0 if j == m else ERR_INDEX


@njit
def repeat_div_fill(lags, residuals, adjustments, period, divisor, out, out_bits):
    """Rebuild a repeat-div block (format version 8) into ``out`` (its unsigned view
    ``out_bits``): where a lag is 0 the next literal, the multiple ``k = k[i - period] +
    residual`` (0 before the block's start) as ``k / divisor`` rounded to ``out``'s type
    plus its adjustment (``adjustments``: lanes of ``out_bits``'s type); else the value
    (and multiple) that far back. Returns 0, ``ERR_POSITION`` for a lag reaching before
    the block, ``ERR_INDEX`` when the literal count does not match."""
    m = residuals.size
    k = np.empty(out.size, dtype=np.uint64)
    j = 0
    for i in range(out.size):
        lag = lags[i]
        if lag == 0:
            if j == m:
                return ERR_INDEX
            kk = residuals[j]
            if i >= period:
                kk += k[i - period]
            k[i] = kk
            out[i] = np.float64(np.int64(kk)) / divisor
            out_bits[i] += adjustments[j]
            j += 1
        elif lag < 0 or lag > i:
            return ERR_POSITION
        else:
            k[i] = k[i - lag]
            out_bits[i] = out_bits[i - lag]
    return 0 if j == m else ERR_INDEX
