"""Kernels of :class:`edgekit.analytics.ContextNovelty` (the NAB detector).

The whole state but the context table is one float64 array ``st`` (one array crosses into
numba per call, which keeps ``update`` cheap); counters are stored as floats (exact below
2**53). Its layout, by the offsets below:

- parameters: tolerance, trigger, suppress, length of the averaging ring and of the history;
- quantiser origin and step; running sum of the ring; sum and sum of squares of the
  history; smallest and largest value seen;
- samples seen, samples learnt (no likelihood before), samples left in the hold, the
  previous level, 1 once a previous level exists (0 again after a reset);
- the ring of the last novelty values, then the history of their averages (the
  likelihood's reference distribution).

``table`` (uint64, a power-of-two length) is the open-addressed set of the (previous level,
level) contexts seen; 0 marks an empty slot.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit

TOL, TRIG, SUP, N_RING, N_HIST = 0, 1, 2, 3, 4
LO, STEP, RSUM, HSUM, HSQ, VMIN, VMAX = 5, 6, 7, 8, 9, 10, 11
T, LEARN, HOLD, PREV, HAS_PREV = 12, 13, 14, 15, 16
RING = 17  # then N_RING ring values, then N_HIST history values

_LOG_SCALE = -23.02585084720009  # 10 ln(10): 1 - likelihood = 1e-10 gives 1.0
_SQRT2 = math.sqrt(2.0)
_PROBES = 64


@njit
def _mix(h):
    """splitmix64's finaliser: a well-spread 64-bit hash."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@njit
def _seen(table, prev, level):
    """True when the context (prev, level) is in ``table``; else insert it (when a slot is
    free within the probe limit) and return False."""
    key = _mix(np.uint64(prev) * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(level))
    if key == 0:
        key = np.uint64(1)
    mask = table.shape[0] - 1
    slot = int(key & np.uint64(mask))
    for p in range(_PROBES):
        s = (slot + p) & mask
        if table[s] == key:
            return True
        if table[s] == 0:
            table[s] = key
            return False
    return False


@njit
def step(v, st, table):
    """Score of one sample ``v`` (see ContextNovelty); NaN for NaN, state unchanged."""
    if v != v:
        return np.nan
    t = np.int64(st[T])
    n_ring = np.int64(st[N_RING])
    n_hist = np.int64(st[N_HIST])
    q = min(max((v - st[LO]) / st[STEP], -1e15), 1e15)
    level = np.int64(math.floor(q))
    novel = 0.0
    if st[HAS_PREV] == 1.0 and not _seen(table, np.int64(st[PREV]), level):
        novel = 1.0
    # short average of the novelty
    a = RING + t % n_ring
    st[RSUM] += novel - st[a]
    st[a] = novel
    avg = st[RSUM] / min(t + 1, n_ring)
    # its likelihood under the (normal) distribution of the past averages
    m = min(t, n_hist)
    likelihood = 0.5
    if t >= st[LEARN] and m > 10:
        mu = st[HSUM] / m
        var = st[HSQ] / m - mu * mu
        z = (avg - mu) / math.sqrt(max(var, 1e-6))
        likelihood = 1.0 - 0.5 * math.erfc(z / _SQRT2)
    h0 = RING + n_ring
    h = h0 + t % n_hist
    if t >= n_hist:
        st[HSUM] -= st[h]
        st[HSQ] -= st[h] * st[h]
    st[h] = avg
    st[HSUM] += avg
    st[HSQ] += avg * avg
    if h == h0 + n_hist - 1:  # once per history: the sums again from scratch (no drift)
        s1 = 0.0
        s2 = 0.0
        for j in range(h0, h0 + n_hist):
            s1 += st[j]
            s2 += st[j] * st[j]
        st[HSUM] = s1
        st[HSQ] = s2
    s = math.log(1.0000000001 - likelihood) / _LOG_SCALE
    # a value beyond the range seen so far (by more than `tolerance` of it)
    if t > 0:
        span = st[VMAX] - st[VMIN]
        tol = st[TOL] * span
        if span > 0.0 and (v > st[VMAX] + tol or v < st[VMIN] - tol):
            s = 1.0
        st[VMIN] = min(st[VMIN], v)
        st[VMAX] = max(st[VMAX], v)
    else:
        st[VMIN] = v
        st[VMAX] = v
    st[PREV] = level
    st[HAS_PREV] = 1.0
    if st[HOLD] > 0.0:
        st[HOLD] -= 1.0
        s = 0.0
    elif s >= st[TRIG]:
        st[HOLD] = st[SUP]
    st[T] = t + 1
    return min(max(s, 0.0), 1.0)


@njit
def scores(x, st, table):
    """:func:`step` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = step(x[i], st, table)
    return out
