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
from edgekit.codec._kernels.lag import _adjustment
from edgekit.codec._kernels.modes import _float_gcd, _is_pow10, approx_step, sample_magnitudes

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
def _fit_base(s, g):
    """``g`` snapped (:func:`_snapped`) where 90 % of the sample ``s`` are within
    ADJ_FIT of a multiple ``k * base``, ``|k| < 2**40``; else 0.0 (also for powers of ten:
    ALP's decimals)."""
    if g == 0.0:
        return 0.0
    base = _snapped(g)
    if _is_pow10(base):
        return 0.0  # decimals: ALP's domain
    m = s.size
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


#: :func:`gap_step` takes gaps between sorted sampled values above this share of the
#: largest magnitude as steps, and a step at or below GAP_FINEST of it as none.
GAP_TOL = 2.0**-36
GAP_FINEST = 2.0**-44


@njit
def _sorted_finite(s):
    """The finite values of the sample ``s`` as float64, in ascending order."""
    v = np.empty(s.size, dtype=np.float64)
    n = 0
    for i in range(s.size):
        f = np.float64(s[i])
        if np.isfinite(f):
            v[n] = f
            n += 1
    return np.sort(v[:n])


@njit
def gap_step(s, top):
    """The approximate GCD of the gaps between the sorted finite values of the sample
    ``s`` (largest magnitude ``top``), smallest gaps first, each step re-derived from the
    largest gap so far; 0.0
    when under 16 gaps or too fine. Gaps are small multiples of a grid's step, so
    Euclid's rounding stays far below it where on the values themselves (multiples in the
    millions: rad/s to 4 places of a degree) it swamps the step."""
    v = _sorted_finite(s)
    n = v.size
    tol = top * GAP_TOL
    gaps = np.empty(max(n - 1, 0), dtype=np.float64)
    m = 0
    for i in range(1, n):
        d = v[i] - v[i - 1]
        if d > tol:
            gaps[m] = d
            m += 1
    if m < 16:
        return 0.0
    gaps = np.sort(gaps[:m])
    g = gaps[0]
    for i in range(1, m):
        g = _float_gcd(g, gaps[i], tol)
        if g <= top * GAP_FINEST:
            return 0.0
        g = gaps[i] / np.round(gaps[i] / g)  # (from the largest gap: the error stays ~1 ulp)
    return g


#: float32 rounding moves a value by at most this share of its magnitude (half an ulp).
F32_REL = 2.0**-24
#: :func:`float32_step` takes a gap into Euclid only while its error bound is under
#: 1/F32_MARGIN of the step so far, and checks the step on the sampled values as precise.
F32_MARGIN = 16
#: Most gaps :func:`float32_step` takes into Euclid (the most precise first).
F32_GAPS = 32


@njit
def _bounded_gcd(a, ea, b, eb):
    """Euclid on ``a`` and ``b`` known to within ``ea`` and ``eb``: a remainder's bound is
    its dividend's plus the quotient times its divisor's, and a remainder within twice
    its bound of 0 (or of the divisor) ends it. ``(gcd, its bound)``; ``(0.0, 0.0)`` after
    200 steps."""
    if a < b:
        a, b, ea, eb = b, a, eb, ea
    for _ in range(200):
        if b <= 2.0 * eb:
            return a, ea
        q = np.floor(a / b)
        r = a - q * b
        er = ea + q * eb
        if r <= 2.0 * er or b - r <= 2.0 * (er + eb):
            return b, eb
        a, ea, b, eb = b, eb, r, er
    return 0.0, 0.0


@njit
def float32_step(s, mags, top):
    """The step of float32 values that are multiples of one rounded to float32 (a
    gyroscope in degrees/s to 4 places stored as float32 rad/s: ``k * pi / 1.8e6``, ``k``
    to 7 million, rounded to half the step near 12 rad/s); 0.0 when none.

    ``s``, ``mags``, ``top``: :func:`sample_magnitudes`. Euclid runs on the gaps between
    the sorted sampled values, those nearest 0 first (their rounding, at most F32_REL of
    the larger end each, is smallest), with each bound carried through
    (:func:`_bounded_gcd`), and stops where the bound nears the step. A gap that takes the
    step to its own bound, or below 0.9 of it after 8 gaps agreed, is skipped (an outlier);
    more than a tenth skipped, or under 16 taken, is no step. The step is then refitted
    (sum of the values over sum of their multiples, the multiples known first where the
    step's error cannot move them) and kept where 90 % of the sampled values precise
    enough to check it are within 0.05 of a multiple."""
    v = _sorted_finite(s)
    gaps = np.empty(max(v.size - 1, 0), dtype=np.float64)
    err = np.empty_like(gaps)
    m = 0
    for i in range(1, v.size):
        d = v[i] - v[i - 1]
        if d > top * 2.0**-30:
            gaps[m] = d
            err[m] = 2.0 * F32_REL * max(abs(v[i]), abs(v[i - 1]))
            m += 1
    if m < 16:
        return 0.0
    order = np.argsort(err[:m], kind="mergesort")
    g = gaps[order[0]]
    eg = err[order[0]]
    used = 1
    skipped = 0
    agreed = 0
    for j in range(1, m):
        gap = gaps[order[j]]
        e = err[order[j]]
        if e * F32_MARGIN > g or used >= F32_GAPS:
            break
        g2, e2 = _bounded_gcd(g, eg, gap, e)
        if g2 <= 8.0 * e2 or (agreed >= 8 and g2 < 0.9 * g):
            skipped += 1
            continue
        agreed = agreed + 1 if g2 >= 0.9 * g else 0
        q = np.round(gap / g2)
        g = gap / q  # (from the gap: its error, not Euclid's, over q)
        eg = e / q
        used += 1
    if used < 16 or 10 * skipped > used:
        return 0.0
    rel = eg / g
    for _ in range(3):
        num = 0.0
        den = 0.0
        for i in range(mags.size):
            y = mags[i] / g
            if y * rel < 0.05:
                num += mags[i]
                den += np.round(y)
        if den == 0.0:
            return 0.0
        g = num / den
        rel = 2.0 * F32_REL
    checked = 0
    fits = 0
    for i in range(mags.size):
        if mags[i] * F32_REL * F32_MARGIN < g:
            checked += 1
            y = mags[i] / g
            fits += abs(y - np.round(y)) <= 0.05
    if checked < 16 or 10 * fits < 9 * checked:
        return 0.0
    return g


#: :func:`_float32_base` tries ``10**e / d``, or that in radians (times pi / 180), within
#: this relative distance of a float32 step (float32 values fix a step to about 1e-8).
F32_SNAP = 1e-6


@njit
def _exact32(mags, base):
    """How many of ``mags`` (float32 values) are ``k * base`` rounded to float32 exactly."""
    hits = 0
    for i in range(mags.size):
        hits += np.float32(np.round(mags[i] / base) * base) == np.float32(mags[i])
    return hits


@njit
def _float32_base(g, mags):
    """The base for :func:`float32_step`'s ``g`` (0.0: none) on the sampled magnitudes
    ``mags``: the first ``10**e / d`` (``d`` up to 64), or that times pi / 180 (degrees in
    radians), within F32_SNAP of ``g`` where as many of ``mags`` are its exact multiples
    (:func:`_exact32`); else ``g``. 0.0 for a power of ten (decimals: ALP's)."""
    if g == 0.0:
        return 0.0
    base = g
    for scale in (1.0, 180.0 / math.pi):
        for d in range(1, ADJ_MAX_DENOMINATOR + 1):
            v = g * scale * d
            p = 10.0 ** np.round(np.log10(v))
            if abs(v / p - 1.0) < F32_SNAP:
                snapped = p / d / scale
                if _exact32(mags, snapped) >= _exact32(mags, g):
                    base = snapped
                break
        if base != g:
            break
    return 0.0 if _is_pow10(base) else base


@njit
def fmult_adj_base(x):
    """A base of the adjusted float-mult scheme: ``base`` such that 90 % of a 256-value
    sample of ``x`` are within ``ADJ_FIT * base`` of a multiple ``k * base`` with ``|k| <
    2**40``, snapped to ``10**e / d`` when one is that close; 0.0 when none or when it is
    a power of ten (ALP's decimals).

    The step is the approximate GCD of the sampled magnitudes, remainders up to 2**-20 of
    the largest taken as 0 (decimals printed to a few places: their rounding hides a fine
    step); float64 values that fail are tried again with the GCD of the gaps between them
    (:func:`gap_step`): steps finer than that whose multiples are off by a few ulps
    (degrees to 4 places in radians, ``k * pi / 1.8e6``, ``k`` in the millions); float32
    values with the gaps' GCD under float32's rounding (:func:`float32_step`: the same
    steps, off by up to half of one)."""
    s, mags, top = sample_magnitudes(x)
    if mags.size < 16:
        return 0.0
    if x.itemsize == 4:
        return _f32_adj_base(s, mags, top)
    base = _fit_base(s, approx_step(mags, top * 2.0**-20, top * 2.0**-40))
    if base == 0.0:
        g = gap_step(s, top)
        if g != 0.0:
            base = _fit_base(s, top / np.round(top / g))  # (re-derived from the largest value)
    return base


@njit
def _f32_adj_base(s, mags, top):
    """:func:`fmult_adj_base` of float32 values from their sample."""
    base = _fit_base(s, approx_step(mags, top * 2.0**-17, top * 2.0**-40))
    return base if base != 0.0 else _float32_base(float32_step(s, mags, top), mags)


#: The offset of a grid (:func:`grid_plan`) is a grid of its own where within this share
#: of the step of 0: float-mult-adj's values.
GRID_MIN_OFFSET = 1e-3


@njit
def grid_plan(x):
    """``(base, offset)`` of the float-grid scheme (format version 12) for float64 ``x``:
    90 % of a 256-value sample within ADJ_FIT of ``offset + k * base``, the step from the
    gaps between the sampled values (:func:`gap_step`, re-derived from the sample's span),
    the offset the remainder of the sample's largest value, in ``(-base/2, base/2]``;
    ``(0.0, 0.0)`` when none, when the offset is under GRID_MIN_OFFSET of the step (no
    offset: float-mult-adj) or when the step is a power of ten (decimals: ALP). A
    calibrated accelerometer: ``bias + j * 0.000981`` m/s²."""
    none = (0.0, 0.0)
    if x.itemsize != 8:
        return none
    s, mags, top = sample_magnitudes(x)
    if mags.size < 16:
        return none
    return _grid_of(s, gap_step(s, top))


@njit
def _grid_of(s, g):
    """:func:`grid_plan` of the sample ``s`` whose :func:`gap_step` is ``g``."""
    none = (0.0, 0.0)
    if g == 0.0:
        return none
    lo = np.inf
    hi = -np.inf
    for i in range(s.size):
        f = np.float64(s[i])
        if np.isfinite(f):
            lo = min(lo, f)
            hi = max(hi, f)
    span = hi - lo
    base = span / np.round(span / g)
    if _is_pow10(_snapped(base)):
        return none
    offset = hi - np.round(hi / base) * base
    if abs(offset) < GRID_MIN_OFFSET * base:
        return none
    m = s.size
    hits = 0
    for i in range(m):
        y = (np.float64(s[i]) - offset) / base
        if abs(y) < 2.0**40 and abs(y - np.round(y)) <= ADJ_FIT:
            hits += 1
    if 10 * hits < 9 * m:
        return none
    return base, offset


@njit
def frame_bases(x):
    """``(fmult_adj_base(x), *grid_plan(x))`` from one sample and one :func:`gap_step`
    (a frame's plan asks for both where no base is found: 22 of its 25 us on noise)."""
    s, mags, top = sample_magnitudes(x)
    if mags.size < 16:
        return 0.0, 0.0, 0.0
    if x.itemsize == 4:
        return _f32_adj_base(s, mags, top), 0.0, 0.0
    g = gap_step(s, top)
    base = _fit_base(s, approx_step(mags, top * 2.0**-20, top * 2.0**-40))
    if base == 0.0 and g != 0.0:
        base = _fit_base(s, top / np.round(top / g))
    grid, offset = _grid_of(s, g)
    return base, grid, offset


@njit
def grid_split(x, x_bits, base, offset, scratch, scratch_bits, kmax):
    """The float-grid split of ``x``: multiples ``k = round((x - offset) / base)`` (0
    where not below ``kmax`` in magnitude or not finite) and the adjustments, the bits of
    ``x`` minus those of :func:`grid_values` of ``k``, sign-extended (both int64).
    ``scratch``/``scratch_bits``: an array of ``x``'s size and type and its unsigned view."""
    n = x.size
    k = np.empty(n, dtype=np.int64)
    for i in range(n):
        y = (np.float64(x[i]) - offset) / base
        k[i] = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
    grid_values(k, base, offset, scratch)
    adj = np.empty(n, dtype=np.int64)
    for i in range(n):
        adj[i] = _adjustment(x_bits, scratch_bits, i, i)
    return k, adj


@njit
def grid_values(k, base, offset, out):
    """``out[i] = double(k[i]) * base + offset``, each operation rounded to double (no
    fused multiply-add), then to ``out``'s type: the grid points of the float-grid scheme."""
    for i in range(k.size):
        p = np.float64(k[i]) * base
        out[i] = p + offset


#: Bits :func:`adj_factor` counts for each distinct adjustment (its dictionary entry).
ADJ_DICT_BITS = 32


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit
def _dictionary_bits(a):
    """Order-0 entropy of the values of ``a`` (int64) plus ADJ_DICT_BITS for each distinct
    one, in bits: about what their ranks cost. Counted in an open-addressing table of at
    least twice ``a``'s size (two sorts of a window's 2,047 values took 37 us of the
    adjusted estimate's 53, the table 8)."""
    n = a.size
    shift = 64
    size = 1
    while size < 2 * n:
        size <<= 1
        shift -= 1
    mask = np.uint64(size - 1)
    keys = np.empty(size, dtype=np.int64)
    counts = np.zeros(size, dtype=np.int64)
    for i in range(n):
        v = a[i]
        h = (np.uint64(v) * _GOLDEN) >> np.uint64(shift) if shift < 64 else np.uint64(0)
        while counts[h] > 0 and keys[h] != v:
            h = (h + np.uint64(1)) & mask
        keys[h] = v
        counts[h] += 1
    bits = 0.0
    for h in range(size):
        c = counts[h]
        if c > 0:
            bits += c * math.log2(n / c) + ADJ_DICT_BITS
    return bits


@njit
def fmult_split(x, x_bits, base, scratch, scratch_bits, kmax):
    """The adjusted float-mult split of ``x``: multiples ``k = round(x / base)`` (0 where
    not below ``kmax`` in magnitude or not finite) and the adjustments, the bits of ``x``
    minus those of ``k * base`` rounded to ``x``'s type, sign-extended (both int64).
    ``scratch``/``scratch_bits``: an array of ``x``'s size and type and its unsigned view."""
    n = x.size
    k = np.empty(n, dtype=np.int64)
    for i in range(n):
        y = np.float64(x[i]) / base
        kk = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
        k[i] = kk
        scratch[i] = np.float64(kk) * base
    adj = np.empty(n, dtype=np.int64)
    for i in range(n):
        adj[i] = _adjustment(x_bits, scratch_bits, i, i)
    return k, adj


@njit
def adj_split_bits(x, x_bits, base, scratch, scratch_bits, kmax):
    """Estimated bits of the adjusted float-mult split of ``x`` (not empty) at ``base``:
    the first differences of the multiples and the adjustments, each at the smaller of
    the Huffman stage's cost model and its order-0 entropy with a dictionary entry for each
    distinct value (the rank schemes: a gyroscope's steps of ~610 multiples)."""
    k, adj = fmult_split(x, x_bits, base, scratch, scratch_bits, kmax)
    n = x.size
    kbits = 0.0
    if n > 1:
        dk = np.empty(n - 1, dtype=np.uint64)
        for i in range(n - 1):
            dk[i] = np.uint64(k[i + 1] - k[i])
        kbits = min(symbol_bits(dk), _dictionary_bits(dk.view(np.int64)))
    return kbits + min(symbol_bits(adj.view(np.uint64)), _dictionary_bits(adj))


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
