"""The repeat scheme (format version 4): lags back to the previous equal value, and the
decoder's fill of literals and copies."""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_INDEX, ERR_POSITION
from edgekit.codec._kernels.bitpack import _mask, bitlen
from edgekit.codec._kernels.floats import key_order, order_key

#: An empty slot of :func:`repeat_lags`' table of last positions.
_NO_POSITION = 0xFFFF


@njit
def repeat_lags(bits):
    """For each value of ``bits`` (uint64 or uint32, at most 65,536 values), the distance
    back to its previous occurrence, 0 for a first occurrence (int64). One pass with an
    open-addressing table of last positions (uint16, 0xFFFF empty: the last value's
    position, the only one that could be 0xFFFF, is never looked up, so it is not stored);
    a slot's key is the value at its position, so the table holds no keys (256 KB for a
    block, a quarter of the L2 cache)."""
    n = bits.size
    size = 2
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    # (the product's top bits: they depend on every bit of the value; its bits 32 to 48
    # depend on the low 49 only, and put BROAD's gyroscope, integer readings times a
    # scale, 10,109 distinct values, in 4,188 slots: 551 against 160 us a block)
    shift = np.uint64(64 - bitlen(np.uint64(size - 1)))
    last = np.full(size, _NO_POSITION, dtype=np.uint16)
    lags = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = np.uint64(bits[i])
        h = (v * np.uint64(0x9E3779B97F4A7C15)) >> shift
        j = np.int64(last[h])
        while j != _NO_POSITION and np.uint64(bits[j]) != v:
            h = (h + np.uint64(1)) & mask
            j = np.int64(last[h])
        lags[i] = i - j if j != _NO_POSITION else 0
        if i + 1 < n:
            last[h] = np.uint16(i)
    return lags


@njit
def count_zeros(a):
    """How many of ``a`` are 0 (of repeat lags: first occurrences, the repeat scheme's
    literals), in a pass without a temporary (numpy's ``count_nonzero(a == 0)``: 11 us a
    block)."""
    m = 0
    for i in range(a.size):
        m += np.int64(a[i] == 0)
    return m


@njit
def split_literals(x, lags):
    """The values of ``x`` whose ``lags`` are 0 (first occurrences, the repeat scheme's
    literals) and their positions (int64), in one pass without a branch on which they
    are (a third of an appliance trace's values, at random: numpy's boolean indexing
    and ``flatnonzero`` took 150 us a block). Counted first: arrays of the block's size,
    freed each call, made glibc fault fresh pages in (a Wii remote's block: 86)."""
    n = x.size
    count = count_zeros(lags)
    # (a slot to spare: each value is written at ``m`` before it is kept or not)
    literals = np.empty(count + 1, dtype=x.dtype)
    positions = np.empty(count + 1, dtype=np.int64)
    m = 0
    for i in range(n):
        literals[m] = x[i]
        positions[m] = i
        m += np.int64(lags[i] == 0)
    return literals[:m], positions[:m]


@njit
def _period_residual(k, i, period):
    """``k[i] - k[i - period]``, or ``k[i]`` where ``i < period``."""
    return k[i] - k[i - period] if i >= period else k[i]


@njit
def period_residuals(k, positions, period):
    """``k[i] - k[i - period]`` (``k[i]`` where ``i < period``) at ``positions`` (int64)."""
    out = np.empty(positions.size, dtype=np.int64)
    for j in range(positions.size):
        out[j] = _period_residual(k, positions[j], period)
    return out


@njit
def period_cost(k, positions, period):
    """Bits the residuals :func:`period_residuals` would take, roughly:
    ``sum(log2(|r| + 1))``, as the log of their product (four products, each brought back
    to [0.5, 1) with its exponent summed every 8 factors, 11 at most, of at most 2^64: no
    overflow; a ``log2`` a value took 3x as long)."""
    total = 0.0
    p0 = p1 = p2 = p3 = 1.0
    m = positions.size
    j = 0
    while j < m:
        stop = min(j + 32, m)
        while j + 4 <= stop:
            p0 *= abs(float(_period_residual(k, positions[j], period))) + 1.0
            p1 *= abs(float(_period_residual(k, positions[j + 1], period))) + 1.0
            p2 *= abs(float(_period_residual(k, positions[j + 2], period))) + 1.0
            p3 *= abs(float(_period_residual(k, positions[j + 3], period))) + 1.0
            j += 4
        while j < stop:
            p0 *= abs(float(_period_residual(k, positions[j], period))) + 1.0
            j += 1
        p0, e0 = math.frexp(p0)
        p1, e1 = math.frexp(p1)
        p2, e2 = math.frexp(p2)
        p3, e3 = math.frexp(p3)
        total += e0 + e1 + e2 + e3
    return total + math.log2(p0) + math.log2(p1) + math.log2(p2) + math.log2(p3)


#: :func:`top_lags` counts lags below this in an array, the others in an open-addressing
#: table of _LAG_SLOTS slots (a power of two); a block of more distinct long lags than
#: half of it counts them in an array as long as its longest lag.
_NEAR_LAGS = 1024
_LAG_SLOTS = 2048


@njit
def _lag_counts(lags):
    """The distinct lags (not 0) of ``lags``, in increasing order, and their counts. The
    short lags (most of them on real blocks) index an array and the long ones a table, all
    in the cache; the counts in four rows (value ``i`` in row ``i % 4``: a run of one lag
    does not wait on each increment)."""
    near = np.zeros((4, _NEAR_LAGS), dtype=np.int64)
    keys = np.zeros(_LAG_SLOTS, dtype=np.int64)
    far = np.zeros(_LAG_SLOTS, dtype=np.int64)
    used = 0
    mask = _LAG_SLOTS - 1
    for i in range(lags.size):
        lag = lags[i]
        if lag < _NEAR_LAGS:
            near[i & 3, lag] += 1
            continue
        h = (lag * 0x9E3779B1) >> 7 & mask
        while keys[h] != lag:
            if keys[h] == 0:
                if 2 * used >= _LAG_SLOTS:
                    return _lag_counts_wide(lags)
                keys[h] = lag
                used += 1
                break
            h = (h + 1) & mask
        far[h] += 1
    counts = near[0] + near[1] + near[2] + near[3]
    counts[0] = 0
    short = np.flatnonzero(counts)
    taken = keys != 0
    out = np.concatenate((short, keys[taken]))
    order = np.argsort(out)
    return out[order], np.concatenate((counts[short], far[taken]))[order]


@njit
def _lag_counts_wide(lags):
    """As :func:`_lag_counts` with an array of counts, one per lag up to the longest."""
    counts = np.zeros(lags.max() + 1, dtype=np.int64)
    for i in range(lags.size):
        counts[lags[i]] += 1
    counts[0] = 0
    used = np.flatnonzero(counts)
    return used, counts[used]


@njit
def top_lags(lags, k):
    """The ``k`` most common lags (not 0) of a block, most common first (the shorter of
    two as common); fewer where fewer lags occur."""
    used, counts = _lag_counts(lags)
    out = np.empty(min(k, used.size), dtype=np.int64)
    taken = np.zeros(used.size, dtype=np.bool_)
    for r in range(out.size):
        pick = -1
        for j in range(used.size):
            if not taken[j] and (pick < 0 or counts[j] > counts[pick]):
                pick = j
        taken[pick] = True
        out[r] = used[pick]
    return out


@njit
def dict_from_lags(bits, total, lags):
    """:func:`~edgekit.codec._kernels.floats.dict_encode`'s result, ``(sorted distinct
    keys, each key's index in them)``, for the float bit patterns ``bits`` of ``total``
    bits, from the block's repeat lags (the first occurrences are the distinct keys)
    without a hash pass of its own; the keys (:func:`order_keys`) are made in the same
    pass, for the first occurrences only."""
    n = bits.size
    top = np.uint64(total - 1)
    allm = _mask(total)
    first = np.empty(n, dtype=np.int32)  # each value's distinct key, in order of appearance
    distinct = np.empty(n, dtype=np.uint64)
    nd = 0
    for i in range(n):
        # (a branch on which: a quarter of the values or fewer are first occurrences here;
        # a pass without it, each value's key stored and a slot read, took 1.7-1.9x as
        # long on BROAD's and PigCVP's blocks)
        lag = lags[i]
        if lag == 0:
            first[i] = nd
            distinct[nd] = order_key(np.uint64(bits[i]), top, allm)
            nd += 1
        else:
            first[i] = first[i - lag]
    order = key_order(distinct[:nd], total)
    rank = np.empty(nd, dtype=np.uint64)
    for r in range(nd):
        rank[order[r]] = np.uint64(r)
    inverse = np.empty(n, dtype=np.uint64)
    for i in range(n):
        inverse[i] = rank[first[i]]
    return distinct[:nd][order], inverse


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
