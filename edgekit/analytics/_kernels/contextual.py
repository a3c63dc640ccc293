"""Kernels of :class:`edgekit.analytics.ContextNovelty` (the NAB detector).

State, carried across calls (all arrays, updated in place):

- ``fs`` float64[7]: quantiser origin and step, running sum of the averaging window,
  sum and sum of squares of the likelihood history, smallest and largest value seen.
- ``ist`` int64[5]: samples seen, samples learnt (no likelihood before), samples left in
  the hold, previous level, 1 once a previous level exists (and min/max are set).
- ``table`` uint64[2**bits]: open-addressed set of the (previous level, level) contexts seen
  (0 is the empty slot).
- ``ring`` float64[avg]: the last novelty values; ``hist`` float64[history]: the last
  averaged novelties (the likelihood's reference distribution).
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit

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
def step(v, fs, ist, table, ring, hist, tolerance, trigger, suppress):
    """Score of one sample ``v`` (see ContextNovelty); NaN for NaN, state unchanged."""
    if v != v:
        return np.nan
    t = ist[0]
    q = (v - fs[0]) / fs[1]
    q = min(max(q, -1e15), 1e15)
    level = np.int64(math.floor(q))
    novel = 0.0
    if ist[4] == 1 and not _seen(table, ist[3], level):
        novel = 1.0
    # short average of the novelty
    avg_n = ring.shape[0]
    a = t % avg_n
    fs[2] += novel - ring[a]
    ring[a] = novel
    avg = fs[2] / min(t + 1, avg_n)
    # its likelihood under the (normal) distribution of the past averages
    hist_n = hist.shape[0]
    m = min(t, hist_n)
    likelihood = 0.5
    if t >= ist[1] and m > 10:
        mu = fs[3] / m
        var = fs[4] / m - mu * mu
        z = (avg - mu) / math.sqrt(max(var, 1e-6))
        likelihood = 1.0 - 0.5 * math.erfc(z / _SQRT2)
    h = t % hist_n
    if t >= hist_n:
        fs[3] -= hist[h]
        fs[4] -= hist[h] * hist[h]
    hist[h] = avg
    fs[3] += avg
    fs[4] += avg * avg
    if h == hist_n - 1:  # once per history: the sums again from scratch (no drift)
        fs[3] = 0.0
        fs[4] = 0.0
        for j in range(hist_n):
            fs[3] += hist[j]
            fs[4] += hist[j] * hist[j]
    s = math.log(1.0000000001 - likelihood) / _LOG_SCALE
    # a value beyond the range seen so far (by more than `tolerance` of it)
    if ist[4] == 1:
        span = fs[6] - fs[5]
        if span > 0.0 and (v > fs[6] + tolerance * span or v < fs[5] - tolerance * span):
            s = 1.0
        fs[5] = min(fs[5], v)
        fs[6] = max(fs[6], v)
    else:
        fs[5] = v
        fs[6] = v
    ist[3] = level
    ist[4] = 1
    if ist[2] > 0:
        ist[2] -= 1
        s = 0.0
    elif s >= trigger:
        ist[2] = suppress
    ist[0] = t + 1
    return min(max(s, 0.0), 1.0)


@njit
def scores(x, fs, ist, table, ring, hist, tolerance, trigger, suppress):
    """:func:`step` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = step(x[i], fs, ist, table, ring, hist, tolerance, trigger, suppress)
    return out
