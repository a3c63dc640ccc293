"""The levels scheme (format version 7): integer blocks as indices into their sorted
distinct values, for readings that take a few hundred levels spread over a wider range
(an accelerometer's ADC counts converted to milli-g and rounded: steps of about 10).
The planner and the decoder's gather; the layout is in ``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_INDEX
from edgekit.codec._kernels.bitpack import SIGN, even_next, sample_distinct_adjacent

#: Values the pre-check sorts (evenly spaced), and the share of their distinct values that
#: may sit next to another one (a gap of 1) before the block counts as dense.
LEVELS_SAMPLE = 1024
LEVELS_DENSE_SHARE = 0.25


@njit
def _dense_sample(u):
    """Whether a sample of ``u`` looks dense: a quarter or more of its distinct values
    (signed order) have a neighbour one above them in the sample."""
    n = u.size
    m = min(n, LEVELS_SAMPLE)
    s = np.empty(m, dtype=np.int64)
    q, r = divmod(n, m)
    at = rem = 0
    for i in range(m):  # (at i * n // m)
        s[i] = np.int64(u[at])
        at, rem = even_next(at, rem, q, r, m)
    distinct, adjacent = sample_distinct_adjacent(s)
    return adjacent >= LEVELS_DENSE_SHARE * distinct


@njit
def int_levels(u, max_range, max_levels):
    """``(levels, index)`` of the lanes ``u`` (uint64, read as int64): the distinct values
    in ascending signed order (int64) and each value's index among them (uint64), when
    the values span at most ``max_range`` integers, take at most ``max_levels`` distinct
    values and their median gap is at least 2; else two empty arrays. The pre-check on a
    sample leaves dense blocks (PPG, PCM audio: most neighbours present) at once."""
    n = u.size
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64))
    if n < 2 or _dense_sample(u):
        return none
    lo = np.int64(u[0])
    hi = lo
    for i in range(n):
        v = np.int64(u[i])
        lo = min(lo, v)
        hi = max(hi, v)
    # (the span as unsigned: hi - lo may exceed int64's range)
    span = (np.uint64(hi) ^ SIGN) - (np.uint64(lo) ^ SIGN)
    if span >= np.uint64(max_range):
        return none
    # (a byte a possible value: a block of speech spans ~53k; then the levels are counted
    # with the gaps of 1 between them, in one pass over the marks)
    mark = np.zeros(np.int64(span) + 1, dtype=np.uint8)
    for i in range(n):
        mark[np.int64(u[i]) - lo] = 1
    count = 0
    adjacent = 0
    prev = np.uint8(0)
    for j in range(mark.size):
        m = mark[j]
        count += np.int64(m)
        adjacent += np.int64(m & prev)
        prev = m
    if count > max_levels or count < 2:
        return none
    # The median gap between neighbouring levels is 1 where more than half the gaps are.
    if adjacent > (count - 1) // 2:
        return none
    slot = np.empty(mark.size, dtype=np.int64)
    levels = np.empty(count, dtype=np.int64)
    c = 0
    for j in range(mark.size):
        slot[j] = c
        if mark[j]:
            levels[c] = lo + j
            c += 1
    index = np.empty(n, dtype=np.uint64)
    for i in range(n):
        index[i] = slot[np.int64(u[i]) - lo]
    return levels, index


@njit
def levels_fill(levels, index, out):
    """``out[i] = levels[index[i]]`` (uint64 lanes); ERR_INDEX at the first index out of
    range, else 0."""
    count = np.uint64(levels.size)
    for i in range(index.size):
        j = index[i]
        if j >= count:
            return ERR_INDEX
        out[i] = levels[j]
    return 0
