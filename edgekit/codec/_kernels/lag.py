"""The lag schemes (format version 6): differences across a period, ``u[i] - u[i - lag]``,
for blocks whose values repeat a cycle (a mains current sampled at a multiple of the line
frequency, the daily cycle of an hourly record). The period finder and the two transforms;
the schemes' layout is in ``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._kernels.bitpack import bitlen, even_next
from edgekit.codec._kernels.floats import F10, _alp_ok
from edgekit.codec._kernels.huffman import symbol_bits
from edgekit.codec._kernels.repeat import count_zeros

#: A lag is taken only where its residuals cost at least this many bits a value less than
#: the first and the second differences (estimated by the Huffman stage's cost model).
LAG_GAIN_BITS = 1.0
#: Of lags within this factor of the smallest mean difference, the shortest is taken (the
#: multiples of a period cost about as much as the period).
LAG_TIE = 1.25
#: A lag whose mean absolute difference is not below this share of the first differences'
#: is not taken without estimating its bits: a gain of LAG_GAIN_BITS means differences
#: about half as wide (the lags taken on the corpus had at most 0.43 of it; PPG, audio and
#: blood pressure, whose best lag is 2 or a beat, 1.1 or more).
LAG_SCREEN = 1.0


@njit
def lag_windows(a, w, delta):
    """The two windows of ``w`` values the period finder reads, back to back: the start
    and the middle of ``a`` (at least ``w`` values), or with ``delta`` of its first
    differences (wrapping; ``a`` has at least ``w + 1`` values) without differencing the
    rest."""
    m = a.size - 1 if delta else a.size
    mid = (m - w) // 2
    out = np.empty(2 * w, dtype=a.dtype)
    for k in range(2):
        start = mid if k else 0
        for i in range(w):
            j = start + i
            out[k * w + i] = a[j + 1] - a[j] if delta else a[j]
    return out


@njit
def _mean_abs_diffs(v, maxlag):
    """Mean ``|v[i] - v[i - lag]|`` for each lag in ``1..maxlag`` (index ``lag``) over the
    positions ``i >= maxlag`` of ``v``. Sums of int64 terms may wrap on huge values, which
    only misleads the estimate."""
    n = v.size
    sums = np.zeros(maxlag + 1, dtype=np.int64)
    s = v.view(np.int64)
    lo = s[0]
    hi = s[0]
    for i in range(n):
        lo = min(lo, s[i])
        hi = max(hi, s[i])
    span = np.uint64(hi) - np.uint64(lo)
    if span <= np.uint64(0xFFFFFFFF // n):
        # Narrow values (a sensor's ADC counts): offsets from the least in uint32 lanes,
        # whose sums cannot wrap; twice the lanes a vector (1.6 us less on 512 values).
        a = np.empty(n, dtype=np.uint32)
        for i in range(n):
            a[i] = np.uint32(np.uint64(s[i]) - np.uint64(lo))
        for lag in range(1, maxlag + 1):
            x32 = a[maxlag:]
            y32 = a[maxlag - lag : n - lag]
            t32 = np.uint32(0)
            for i in range(x32.size):
                d32 = np.uint32(x32[i] - y32[i])
                m32 = np.uint32(np.uint32(0) - (d32 >> np.uint32(31)))
                t32 = np.uint32(t32 + np.uint32(np.uint32(d32 ^ m32) - m32))
            sums[lag] = np.int64(t32)
        return sums / max(n - maxlag, 1)
    for lag in range(1, maxlag + 1):
        # (a lag at a time, on two slices indexed from 0: a loop the compiler vectorizes;
        # indexing ``v[i - lag]`` kept it scalar, with a sign check a load: 8x slower.
        # Unsigned arithmetic: it wraps by definition, also where the compiler vectorizes.)
        x = v[maxlag:]
        y = v[maxlag - lag : n - lag]
        total = np.uint64(0)
        for i in range(x.size):
            d = x[i] - y[i]
            m = np.uint64(0) - (d >> np.uint64(63))  # all ones where d is negative
            total += (d ^ m) - m
        sums[lag] = np.int64(total)
    return sums / max(n - maxlag, 1)


@njit
def _window_residuals(v, w, lag, again):
    """The differences across ``lag`` within each window of ``w`` values of ``v`` (with
    ``again``, their first differences; ``lag`` 1 and ``again``: second differences)."""
    per = w - lag - again
    nwin = v.size // w
    r = np.empty(nwin * per, dtype=np.uint64)
    at = 0
    for s in range(0, nwin * w, w):
        for i in range(s + lag + again, s + w):
            d = v[i] - v[i - lag]
            if again:
                d -= v[i - 1] - v[i - 1 - lag]
            r[at] = d
            at += 1
    return r


@njit
def _symbol_bits(r):
    """Bits a value of the Huffman symbols of ``r``: the Huffman stage's cost model."""
    return symbol_bits(r) / r.size


@njit
def find_lag(v, w, maxlag):
    """The period of ``v`` (uint64 lanes: windows of ``w`` consecutive values, one after
    another) and the estimated bits a value of its differences: ``(lag, bits)``.

    The lag in ``2..maxlag`` is the shortest whose mean absolute difference on the first
    window is within ``LAG_TIE`` of the smallest; where that is below ``LAG_SCREEN`` times
    the first differences', it is kept when the Huffman symbols of its differences (or of
    their first differences, whichever cost less) on every window cost at least
    ``LAG_GAIN_BITS`` a value less than those of the first and of the second differences;
    else ``(0, 0.0)``."""
    maxlag = min(maxlag, w // 4)
    if maxlag < 2 or v.size < w:
        return 0, 0.0
    costs = _mean_abs_diffs(v[:w], maxlag)
    least = costs[2:].min()
    lag = 2
    while lag < maxlag and costs[lag] > LAG_TIE * least:
        lag += 1
    if costs[lag] >= LAG_SCREEN * costs[1]:
        return 0, 0.0
    bits = min(
        _symbol_bits(_window_residuals(v, w, lag, 0)),
        _symbol_bits(_window_residuals(v, w, lag, 1)),
    )
    plain = min(
        _symbol_bits(_window_residuals(v, w, 1, 0)), _symbol_bits(_window_residuals(v, w, 1, 1))
    )
    if bits + LAG_GAIN_BITS > plain:
        return 0, 0.0
    return lag, bits


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
    if lag < n:
        # (0-based slices: ``u[i - lag]`` costs a sign check a load and keeps it scalar)
        x, y, out = u[lag:], u[: n - lag], r[lag:]
        for i in range(n - lag):
            out[i] = x[i] - y[i]
    return r


@njit
def unlag(r, lag):
    """Invert :func:`lag_residuals` in place: ``r`` (uint64) becomes the values."""
    n = r.size
    if lag == 1:
        # (a running sum in a register: the loop below waits on each store to load it)
        if n:
            total = r[0]
            for i in range(1, n):
                total += r[i]
                r[i] = total
        return
    for i in range(1, min(lag, n)):
        r[i] += r[i - 1]
    for i in range(lag, n):
        r[i] += r[i - lag]


@njit
def float_multiples(x, divisor, kmax):
    """``round(x * divisor)`` (half to even) as int64, 0 where its magnitude is not below
    ``kmax`` or it is not finite: :func:`fdiv_split`'s multiples alone."""
    k = np.empty(x.size, dtype=np.int64)
    for i in range(x.size):
        y = np.float64(x[i]) * divisor
        k[i] = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
    return k


@njit(inline="always")
def _fdiv_multiples(x, divisor, scratch, kmax):
    """The multiples ``k`` of :func:`fdiv_split`, their approximations ``k / divisor``
    written to ``scratch``."""
    n = x.size
    if scratch.size < n:
        raise ValueError("fdiv_split: scratch is smaller than the values")
    k = np.empty(n, dtype=np.int64)
    for i in range(n):
        y = np.float64(x[i]) * divisor
        kk = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
        k[i] = kk
        scratch[i] = np.float64(kk) / divisor
    return k


@njit(inline="always")
def _adjustment(x_bits, approx_bits, i, j):
    """Value ``i``'s bits minus its approximation's (``approx_bits[j]``), sign-extended to
    int64."""
    d = x_bits[i] - approx_bits[j]
    if x_bits.itemsize == 4:
        return np.int64(np.int32(d))
    return np.int64(d)


@njit
def fdiv_split(x, x_bits, divisor, scratch, scratch_bits, kmax):
    """The float-div split of ``x``: multiples ``k = round(x * divisor)`` (0 where not
    below ``kmax`` in magnitude or not finite) and the adjustments, the bits of ``x`` minus
    those of ``k / divisor`` rounded to ``x``'s type, sign-extended (both int64).
    ``scratch``/``scratch_bits``: an array of ``x``'s size and type and its unsigned view
    (the approximations are written there and read back as bits in a second pass: two
    loops that vectorise, where reading each back through one value of scratch kept the
    loop scalar; 87 -> 69 us a block of 65,536 float64, 146 -> 76 of float32)."""
    k = _fdiv_multiples(x, divisor, scratch, kmax)
    adj = np.empty(x.size, dtype=np.int64)
    for i in range(x.size):
        adj[i] = _adjustment(x_bits, scratch_bits, i, i)
    return k, adj


#: :func:`fdiv_gain` reads this many evenly spaced values of a block, after
#: :func:`fdiv_pays` has screened FDIV_SCREEN of them (most decimals have no exception).
FDIV_SAMPLE = 1024
FDIV_SCREEN = 256
#: Float-div's sparse form takes an adjustment that is not 0 in about this many bytes for
#: its gap and sign, plus its magnitude's bits (an upper bound: the Huffman stage takes
#: fewer where they recur, as a decimal of one digit more than the divisor's does) ...
FDIV_ADJ_BYTES = 1.25
#: ... behind a head this many bytes longer than ALP's. Float-div replaces ALP where it is
#: expected to save FDIV_MIN_GAIN of ALP's size (the estimate is low: 0.5 to 1.3 times the
#: savings measured on the corpus' and NAB's decimal series).
FDIV_HEAD_BYTES = 40
FDIV_MIN_GAIN = 0.04


@njit
def fdiv_gain(x, x_bits, e, f, probe, probe_bits, kmax, size):
    """Bytes the float-div scheme with divisor ``10**(e - f)`` and no lag is expected to
    save over ALP with exponent ``e`` and factor ``f`` (``e >= f``) on the block ``x``,
    from ``size`` evenly spaced values: an ALP exception costs its position and value
    (2 + itemsize bytes), a float-div adjustment that is not 0 FDIV_ADJ_BYTES and its
    magnitude's bits (a decimal an ulp or two off, as values computed in floating point
    and written out in full are, takes a few bits). -inf where a quarter of the sample or
    more has
    adjustments (the dense form codes every value's). ``probe``/``probe_bits``: one value
    of ``x``'s type and its unsigned view (rounding to it); ``kmax``: as
    :func:`fdiv_split`'s."""
    n = x.size
    m = min(n, size)
    if m == 0:
        return -np.inf
    divisor = F10[e - f]
    exc = adjusted = 0
    adj_bits = 0.0
    steps = max(m - 1, 1)
    q, r = divmod(n - 1, steps)
    at = rem = 0
    for _ in range(m):
        i = at  # (j * (n - 1) // (m - 1))
        at, rem = even_next(at, rem, q, r, steps)
        ok, _k = _alp_ok(x[i], e, f, probe)
        if ok and f == 0:
            continue  # (ALP's k / 10**e is float-div's approximation: no adjustment)
        exc += np.int64(not ok)
        y = np.float64(x[i]) * divisor
        k = np.int64(np.rint(y)) if abs(y) < kmax else np.int64(0)
        probe[0] = np.float64(k) / divisor
        a = _adjustment(x_bits, probe_bits, i, 0)
        if a != 0:
            adjusted += 1
            adj_bits += bitlen(np.uint64(abs(a))) + 1
    if 4 * adjusted >= m:
        return -np.inf
    saved = exc * (2 + x_bits.itemsize) - adjusted * FDIV_ADJ_BYTES - adj_bits / 8
    return saved * n / m - FDIV_HEAD_BYTES


@njit
def fdiv_pays(x, x_bits, e, f, probe, probe_bits, kmax, alp_size):
    """Whether float-div (see :func:`fdiv_gain`) is expected to save FDIV_MIN_GAIN of
    ``alp_size`` (bytes: ALP's payload or its estimate) over ALP with ``e``, ``f``, on
    FDIV_SAMPLE values where FDIV_SCREEN of them show any saving (2 of the 8 us)."""
    if (
        e < f
        or fdiv_gain(x, x_bits, e, f, probe, probe_bits, kmax, FDIV_SCREEN) <= -FDIV_HEAD_BYTES
    ):
        return False
    gain = fdiv_gain(x, x_bits, e, f, probe, probe_bits, kmax, FDIV_SAMPLE)
    return gain >= FDIV_MIN_GAIN * alp_size


@njit
def fdiv_split_at(x, x_bits, divisor, probe, probe_bits, kmax, positions):
    """:func:`fdiv_split` with the adjustments at ``positions`` only (a repeat-div block's
    literals: no block-sized adjustments or approximations to gather them from).
    ``probe``/``probe_bits``: one value of ``x``'s type and its unsigned view."""
    k = float_multiples(x, divisor, kmax)
    adj = np.empty(positions.size, dtype=np.int64)
    for j in range(positions.size):
        i = positions[j]
        probe[0] = np.float64(k[i]) / divisor
        adj[j] = _adjustment(x_bits, probe_bits, i, 0)
    return k, adj


@njit
def fdiv_adjustment_bits(x, x_bits, divisor, probe, probe_bits, kmax):
    """Mean bit length of the adjustments of ``x`` at ``divisor`` (:func:`fdiv_split_at`'s
    at every position, not stored): the repeat-div planner's test of noise literals."""
    k = float_multiples(x, divisor, kmax)
    total = 0
    for i in range(x.size):
        probe[0] = np.float64(k[i]) / divisor
        total += bitlen(np.uint64(abs(_adjustment(x_bits, probe_bits, i, 0))))
    return total / max(x.size, 1)


@njit
def sparse_adjustments(lanes):
    """The adjustments ``lanes`` (int64) that are not 0, for their sparse form: the gaps
    between their positions (the first from 0) and their values, both as uint64 lanes; one
    pass without a branch on which are 0 (numpy's ``flatnonzero``, ``diff`` and fancy
    indexing took 4 passes and 3 temporaries), after one that counts them (arrays of the
    block's size, freed each call, made glibc fault fresh pages in)."""
    n = lanes.size
    count = n - count_zeros(lanes)
    # (a slot to spare: each lane is written at ``m`` before it is kept or not)
    gaps = np.empty(count + 1, dtype=np.uint64)
    values = np.empty(count + 1, dtype=np.uint64)
    m = 0
    last = 0
    for i in range(n):
        v = lanes[i]
        gaps[m] = np.uint64(i - last)
        values[m] = np.uint64(v)
        taken = v != 0
        last = i if taken else last
        m += np.int64(taken)
    return gaps[:m], values[:m]


@njit
def fdiv_join(lanes, lag, divisor, out):
    """Decode float-div multiples into ``out``: ``lanes`` (uint64, the multiples or their
    lag residuals when ``lag`` > 0) are integrated in place, then ``out[i] = k[i] /
    divisor`` rounded to ``out``'s type (the adjustments are added by the caller)."""
    if lag:
        unlag(lanes, lag)
    for i in range(lanes.size):
        out[i] = np.float64(np.int64(lanes[i])) / divisor
