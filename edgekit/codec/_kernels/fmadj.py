"""The planner of the adjusted float-mult scheme (format version 5): a common multiplier
``base`` that the values are near-multiples of, to a few ulps (averages of three or twelve
readings printed to 8 decimals: ``x = k / 12`` give or take rounding). The scheme's encoder
and decoder are array arithmetic (``edgekit.codec._schemes``). Layout:
``docs/codec-format.md``.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit
from edgekit.codec._kernels.huffman import symbol_bits
from edgekit.codec._kernels.modes import _is_pow10, approx_step, sample_magnitudes

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
    s, mags, top = sample_magnitudes(x)
    m = s.size
    if mags.size < 16:
        return 0.0
    tol = top * 2.0**-17 if x.itemsize == 4 else top * 2.0**-20
    g = approx_step(mags, tol, top * 2.0**-40)  # (all sampled values are checked below)
    if g == 0.0:
        return 0.0
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


#: Bits :func:`adj_factor` counts for each distinct adjustment (its dictionary entry).
ADJ_DICT_BITS = 32


@njit
def _dictionary_bits(a):
    """Order-0 entropy of the values of ``a`` (int64, sorted here in place) plus
    ADJ_DICT_BITS for each distinct one, in bits: about what their ranks cost."""
    a.sort()
    n = a.size
    bits = 0.0
    run = 1
    for i in range(1, n + 1):
        if i < n and a[i] == a[i - 1]:
            run += 1
        else:
            bits += run * math.log2(n / run) + ADJ_DICT_BITS
            run = 1
    return bits


@njit
def adj_factor(x, x_bits, base, factors, approx, approx_bits, kmax):
    """Index into ``factors`` of the multiple ``base * F`` whose split of ``x`` (a window
    of the block) costs the fewest estimated bits: the first differences of the
    multiples ``k`` in the Huffman stage's cost model, plus the order-0 entropy and a
    dictionary entry for each distinct adjustment (the bits of ``x`` minus those of
    ``k * base * F``: their ranks cost about that). A coarser base leaves the fractions of a step to the few
    values that have one (averages of readings: most are whole hundredths).
    ``approx``/``approx_bits``: scratch of ``x``'s type and its unsigned view."""
    n = x.size
    dk = np.empty(max(n - 1, 1), dtype=np.uint64)
    adj = np.empty(n, dtype=np.int64)
    best = 0
    best_bits = np.inf
    for j in range(factors.size):
        b = base * factors[j]
        prev = np.int64(0)
        for i in range(n):
            y = np.float64(x[i]) / b
            k = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
            approx[i] = k * b
            adj[i] = np.int64(x_bits[i]) - np.int64(approx_bits[i])
            if i:
                dk[i - 1] = np.uint64(k - prev)
            prev = k
        bits = (symbol_bits(dk[: n - 1]) if n > 1 else 0.0) + _dictionary_bits(adj)
        if bits < best_bits:
            best, best_bits = j, bits
    return best
