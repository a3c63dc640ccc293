"""The planner of the adjusted float-mult scheme (format version 5): a common multiplier
``base`` that the values are near-multiples of, to a few ulps (averages of three or twelve
readings printed to 8 decimals: ``x = k / 12`` give or take rounding). The scheme's encoder
and decoder are array arithmetic (``edgekit.codec._schemes``). Layout:
``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._kernels.floats import even_sample
from edgekit.codec._kernels.modes import MODE_SAMPLE, _float_gcd, _is_pow10

#: Largest denominator ``d`` of a base ``10**e / d`` the planner snaps to.
ADJ_MAX_DENOMINATOR = 64
#: A sampled value fits when ``x / base`` is this close to an integer.
ADJ_FIT = 1e-4


@njit
def _snapped(g):
    """``10**e / d`` (``d`` up to 64) within a relative 1e-9 of ``g``, the smallest such
    ``d``; else ``g``. The producer's own constant (a twelfth of a hundredth) is found
    where Euclid's remainders leave it a few ulps off."""
    for d in range(1, ADJ_MAX_DENOMINATOR + 1):
        v = g * d
        e = np.round(np.log10(v))
        p = 10.0**e
        if abs(v / p - 1.0) < 1e-9:
            return p / d
    return g


@njit
def fmult_adj_base(x):
    """A base of the adjusted float-mult scheme: ``base`` such that 90 % of a 256-value
    sample of ``x`` are within ``1e-6 * base`` of a multiple ``k * base`` with ``|k| <
    2**40``, snapped to ``10**e / d`` when one is that close; 0.0 when none or when it is
    a power of ten (ALP's decimals)."""
    s = even_sample(x, MODE_SAMPLE)
    m = s.size
    mags = np.empty(m, dtype=np.float64)
    cnt = 0
    top = 0.0
    for i in range(m):
        v = abs(np.float64(s[i]))
        if v > 0 and v < np.inf:
            mags[cnt] = v
            cnt += 1
            top = max(top, v)
    if cnt < 16:
        return 0.0
    tol = top * 2.0**-17 if x.itemsize == 4 else top * 2.0**-20
    finest = top * 2.0**-40
    g = mags[0]
    big = mags[0]
    for i in range(1, cnt, 4):  # the step from a quarter of them; all are checked below
        g = _float_gcd(g, mags[i], tol)
        if g <= finest:
            return 0.0
        big = max(big, mags[i])
        g = big / np.round(big / g)
    base = _snapped(g)
    if _is_pow10(base):
        return 0.0  # decimals: ALP's domain
    hits = 0
    for i in range(m):
        y = np.float64(s[i]) / base
        if abs(y) < 2.0**40 and abs(y - np.round(y)) <= ADJ_FIT:
            hits += 1
        elif 10 * (i + 1 - hits) > m:
            return 0.0  # more than 10 % missed: no base
    if 10 * hits < 9 * m:
        return 0.0
    return base
