"""The lag schemes (format version 6): differences across a period, ``u[i] - u[i - lag]``,
for blocks whose values repeat a cycle (a mains current sampled at a multiple of the line
frequency, the daily cycle of an hourly record). The period finder and the two transforms;
the schemes' layout is in ``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit

#: A lag wins only where its mean absolute difference is below this share of the best of
#: orders 1 and 2 (about 0.7 bits a value).
LAG_GAIN = 0.6
#: Of lags within this factor of the smallest mean difference, the shortest is taken (the
#: multiples of a period cost about as much as the period).
LAG_TIE = 1.25


@njit
def _abs(d):
    """``|d|`` of an int64, branch-free (``|-2**63|`` wraps to itself)."""
    m = d >> np.int64(63)
    return (d ^ m) - m


@njit
def _mean_abs_diffs(v, w, maxlag):
    """Mean ``|v[i] - v[i - lag]|`` for each lag in ``1..maxlag`` (index ``lag``), over the
    positions ``i >= maxlag`` of each window of ``w`` values of ``v``, and the mean second
    difference (index 0). Sums of int64 terms may wrap on huge values, which only misleads
    the estimate."""
    sums = np.zeros(maxlag + 1, dtype=np.int64)
    count = 0
    for s in range(0, v.size - w + 1, w):
        for i in range(s + maxlag, s + w):
            vi = np.int64(v[i])
            for lag in range(1, maxlag + 1):
                sums[lag] += _abs(vi - np.int64(v[i - lag]))
            sums[0] += _abs(vi - 2 * np.int64(v[i - 1]) + np.int64(v[i - 2]))
            count += 1
    return sums / max(count, 1)


@njit
def find_lag(v, w, maxlag):
    """The period of ``v`` (uint64 lanes: windows of ``w`` consecutive values, one after
    another): the shortest lag in ``2..maxlag`` whose mean absolute difference is within
    ``LAG_TIE`` of the smallest, when that is below ``LAG_GAIN`` times the mean first and
    second differences; else 0."""
    maxlag = min(maxlag, w // 2)
    if maxlag < 2 or v.size < w:
        return 0
    costs = _mean_abs_diffs(v, w, maxlag)
    least = costs[2:].min()
    if not least < LAG_GAIN * min(costs[0], costs[1]):
        return 0
    for lag in range(2, maxlag + 1):
        if costs[lag] <= LAG_TIE * least:
            return lag
    return 0


@njit
def lag_residuals(u, lag):
    """``u[i] - u[i - lag]`` (wrapping; ``lag >= 1``), the first ``lag`` values as their
    first differences after ``u[0]``."""
    n = u.size
    r = np.empty(n, dtype=np.uint64)
    if n:
        r[0] = u[0]
    for i in range(1, min(lag, n)):
        r[i] = u[i] - u[i - 1]
    for i in range(lag, n):
        r[i] = u[i] - u[i - lag]
    return r


@njit
def unlag(r, lag):
    """Invert :func:`lag_residuals` in place: ``r`` (uint64) becomes the values."""
    n = r.size
    for i in range(1, min(lag, n)):
        r[i] += r[i - 1]
    for i in range(lag, n):
        r[i] += r[i - lag]
