"""Modes of format version 2: a common integer factor (MULT), a common float multiplier
(FMULT) and float quantization (FQUANT). Their planners (run on a sample) and decoders;
the encoders, which nest an integer scheme, are in ``blocks``.

Each mode maps a block to integer lanes coded by a nested integer scheme (raw, for,
delta, delta-of-delta, huffman, rank), plus exceptions (position, raw value) for the values
the mode does not fit. Layouts: ``docs/codec-format.md``.
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from edgekit._jit import njit
from edgekit.codec._format import (
    DOD,
    ERR_INDEX,
    ERR_ORDER,
    ERR_PARAMS,
    ERR_POSITION,
    ERR_SCHEME,
    ERR_SHORT,
    FOR,
    HUFF,
    RANK,
    RANK_MAX,
    RANK_WIDE_MAX,
    RAW,
)
from edgekit.codec._kernels.bitpack import (
    ALL,
    ONE,
    SIGN,
    ZERO,
    _rd32,
    _rd64,
    decode_packed_block,
    even_next,
)
from edgekit.codec._kernels.floats import _scaled_tail, even_sample
from edgekit.codec._kernels.huffman import decode_huff_block

#: Values sampled by the planners.
MODE_SAMPLE = 256
#: Sampled values per group of the integer factor search.
GCD_GROUP = 8
#: Largest |k| of a float multiple (k * base is exact in a double below 2**53).
KMAX = float(2**52)


@njit
def ctz(u):
    """Number of trailing zero bits of a nonzero uint64: one instruction."""
    return np.int64(trailing_zeros(np.uint64(u)))  # type: ignore[call-arg]


@njit
def gcd_u64(a, b):
    """Greatest common divisor of two uint64 (0 with 0 gives 0)."""
    while b != ZERO:
        a, b = b, a % b
    return a


@njit(inline="always")
def _magnitude(d):
    """|d| of a uint64 read as int64 (2**63 stays 2**63)."""
    if d & SIGN:
        return ZERO - d
    return d


@njit
def residual_at(u, i, order):
    """Order-``order`` residual at ``u[i]`` (the caller checked ``i + order < u.size``)."""
    if order == 0:
        return u[i]
    if order == 1:
        return u[i + 1] - u[i]
    return (u[i + 2] - u[i + 1]) - (u[i + 1] - u[i])


@njit
def int_mult_plan(u):
    """Candidate modes of integer lanes ``u``, from a sample of 256 values.

    Returns ``(factor, offset, order, constant)``: ``factor >= 2`` when the sampled values
    share a common factor ``factor`` up to the offset ``offset`` (a quarter of the groups
    of 8 sampled values may break it: those values become exceptions), else 0; and the
    order (1 or 2, else 0) whose residuals are one value ``constant`` at 97 % or more of
    the sampled positions.
    """
    n = u.size
    factor = ZERO
    offset = ZERO
    if n < 2 * GCD_GROUP:
        return factor, offset, 0, ZERO
    s = even_sample(u, MODE_SAMPLE)
    m = s.size
    groups = m // GCD_GROUP
    broken = 0
    g = ZERO
    anchor = s[0]
    for grp in range(groups):
        first = s[grp * GCD_GROUP]
        gg = ZERO
        for j in range(1, GCD_GROUP):
            gg = gcd_u64(gg, _magnitude(s[grp * GCD_GROUP + j] - first))
            if gg == ONE:  # (no common factor can come back: the group is broken)
                break
        if gg == ONE:
            broken += 1
        elif gg != ZERO:
            g = gcd_u64(g, gg)
            anchor = first
    if g >= np.uint64(2) and 4 * broken <= groups:
        factor = g
        offset = anchor % g
    # A residual order that is nearly constant (a regular clock with a few gaps).
    best_order = 0
    constant = ZERO
    npos = min(n - 2, 128)
    if npos >= 16:
        at = np.empty(npos, dtype=np.int64)  # (the positions t * (n - 3) // (npos - 1))
        q, r = divmod(n - 3, npos - 1)
        i = rem = 0
        for t in range(npos):
            at[t] = i
            i, rem = even_next(i, rem, q, r, npos - 1)
        for order in range(1, 3):
            # Boyer-Moore majority vote over the sampled positions, then a count.
            cand = ZERO
            votes = 0
            for t in range(npos):
                r = residual_at(u, at[t], order)
                if votes == 0:
                    cand = r
                    votes = 1
                elif r == cand:
                    votes += 1
                else:
                    votes -= 1
            hits = 0
            for t in range(npos):
                hits += residual_at(u, at[t], order) == cand
            if 100 * hits >= 97 * npos:
                best_order = order
                constant = cand
                break
    return factor, offset, best_order, constant


#: Added to and taken from a float below 2**51 in magnitude, rounds it to the nearest
#: integer (1.5 * 2**52: the sum's last mantissa bit is the units bit).
_ROUNDER = 6755399441055744.0


#: The bits of _ROUNDER: those of ``_ROUNDER + k`` less these are ``k`` (|k| < 2**51).
_ROUNDER_BITS = np.uint64(0x4338000000000000)
_LOW32 = np.int64(0xFFFFFFFF)
_BIT31 = np.int64(0x80000000)


@njit(inline="always")
def _rounder_sum(r, offset, inverse):
    """``(r - offset) * inverse + _ROUNDER`` (``r - offset`` as int64, made a float in two
    32-bit halves: AVX2 has no 64-bit integer to float conversion, the halves' have one;
    the sum of the two exact halves is the one rounding, as a 64-bit conversion's)."""
    x = np.int64(r - offset)
    hi = np.float64(np.int32(x >> 32)) * 4294967296.0
    lo = np.float64(np.int32((x & _LOW32) ^ _BIT31)) + 2147483648.0
    return (hi + lo) * inverse + _ROUNDER


@njit(inline="always")
def _float_quotient(r, offset, inverse):
    """``round((r - offset) * inverse)`` through a 64-bit conversion (exact to 2**53 and
    beyond where the product is an integer: :func:`mult_lanes`' second try)."""
    return np.uint64(np.int64(np.float64(np.int64(r - offset)) * inverse + _ROUNDER - _ROUNDER))


@njit
def _rounded_quotients(u, order, q, factor, offset, inverse):
    """Quotients ``q`` of the order-``order`` residuals of ``u``, rounded from their
    product by ``inverse`` (exact where the factor divides and ``|q| < 2**51``); the OR
    of their misses (0: every one checks out). Two passes that run on vectors: the sums
    :func:`_rounder_sum` stored in ``q``'s bits, then their bits less _ROUNDER's and the
    check (a loop with the conversions of int64 to float and back stays scalar on AVX2:
    103 -> 52 us on a clock's 65,536 values). A loop for each order, its residual written
    out on slices indexed from 0."""
    qf = q.view(np.float64)
    m = q.size
    if order == 0:
        for i in range(m):
            qf[i] = _rounder_sum(u[i], offset, inverse)
    elif order == 1:
        a, b = u[1:], u[:-1]
        for i in range(m):
            qf[i] = _rounder_sum(a[i] - b[i], offset, inverse)
    else:
        a, b, c = u[2:], u[1:-1], u[:-2]
        for i in range(m):
            qf[i] = _rounder_sum((a[i] - b[i]) - (b[i] - c[i]), offset, inverse)
    differ = ZERO
    if order == 0:
        for i in range(m):
            k = q[i] - _ROUNDER_BITS
            q[i] = k
            differ |= (offset + factor * k) ^ u[i]
    elif order == 1:
        a, b = u[1:], u[:-1]
        for i in range(m):
            k = q[i] - _ROUNDER_BITS
            q[i] = k
            differ |= (offset + factor * k) ^ (a[i] - b[i])
    else:
        a, b, c = u[2:], u[1:-1], u[:-2]
        for i in range(m):
            k = q[i] - _ROUNDER_BITS
            q[i] = k
            differ |= (offset + factor * k) ^ ((a[i] - b[i]) - (b[i] - c[i]))
    return differ


@njit
def mult_lanes(u, order, factor, offset, max_exceptions):
    """Quotients ``q`` with ``residual = offset + factor * q`` (mod 2**64) of the
    order-``order`` residuals of ``u``, and the positions where that fails (their ``q`` is
    the previous one). Returns ``(q, positions)``, or an empty ``q`` when there are more
    than ``max_exceptions`` exceptions.

    Each quotient is first rounded from a product by the factor's inverse, in a pass with
    no branch (a 64-bit integer division takes 40 cycles or more); it is exact where the
    factor divides and ``|q| < 2**50``. Only where some quotient does not check out does a
    second pass decide each of those with the integer division and carry the previous
    quotient over the exceptions."""
    m = max(u.size - order, 0)
    if factor == ZERO:
        # (a constant residual: every quotient is 0, the exceptions are where the
        # residual is not ``offset``; one pass)
        pos = np.empty(min(m, max_exceptions + 1), dtype=np.int64)
        nexc = 0
        for i in range(m):
            if residual_at(u, i, order) != offset:
                if nexc >= max_exceptions:
                    return np.empty(0, dtype=np.uint64), pos[:0]
                pos[nexc] = i
                nexc += 1
        return np.zeros(m, dtype=np.uint64), pos[:nexc]
    q = np.empty(m, dtype=np.uint64)
    sf = np.int64(factor)
    inverse = 1.0 / np.float64(sf) if sf > 0 else 0.0
    differ = _rounded_quotients(u, order, q, np.uint64(factor), np.uint64(offset), inverse)
    pos = np.empty(max(min(m, max_exceptions + 1), 0), dtype=np.int64)
    if differ == ZERO:
        return q, pos[:0]
    nexc = 0
    last = ZERO
    for i in range(m):
        r = residual_at(u, i, order)
        k = q[i]
        if offset + factor * k != r and sf > 0:
            # (a quotient of 2**51 or more: the 64-bit conversion, then the division)
            k = _float_quotient(r, offset, inverse)
            if offset + factor * k != r:
                k = np.uint64(np.int64(r - offset) // sf)
        if offset + factor * k == r:
            last = k
            q[i] = last
        else:
            q[i] = last
            if nexc >= max_exceptions:
                return np.empty(0, dtype=np.uint64), pos[:0]
            pos[nexc] = i
            nexc += 1
    return q, pos[:nexc]


@njit
def _exceptions(buf, pos, end, m, isz):
    """Parse ``nexc u32`` + positions ``u16`` (< m) + ``nexc`` values of ``isz`` bytes.

    Returns ``(status, nexc, positions offset, values offset, position after them)``.
    """
    if pos + 4 > end:
        return ERR_SHORT, 0, pos, pos, pos
    nexc = _rd32(buf, pos)
    pos += 4
    if nexc > m:
        return ERR_PARAMS, 0, pos, pos, pos
    if pos + nexc * (2 + isz) > end:
        return ERR_SHORT, 0, pos, pos, pos
    at_pos = pos
    for t in range(nexc):
        p = np.int64(buf[at_pos + 2 * t]) | (np.int64(buf[at_pos + 2 * t + 1]) << 8)
        if p >= m:
            return ERR_POSITION, 0, pos, pos, pos
    at_val = pos + 2 * nexc
    return 0, nexc, at_pos, at_val, at_val + isz * nexc


@njit(inline="always")
def _exception(buf, at_pos, at_val, isz, t):
    """(position, raw value as uint64) of exception ``t``."""
    p = np.int64(buf[at_pos + 2 * t]) | (np.int64(buf[at_pos + 2 * t + 1]) << 8)
    v = ZERO
    for j in range(isz):
        v |= np.uint64(buf[at_val + isz * t + j]) << np.uint64(8 * j)
    return p, v


@njit
def _decode_lanes(buf, pos, end, m, lanes):
    """A nested integer scheme (id byte + payload) coding ``m`` lanes into ``lanes[:m]``."""
    if pos + 1 > end:
        return ERR_SHORT, pos
    inner = np.int64(buf[pos])
    pos += 1
    if inner == RAW:
        if pos + 8 * m > end:
            return ERR_SHORT, pos
        for i in range(m):
            lanes[i] = _rd64(buf, pos + 8 * i)
        return 0, pos + 8 * m
    if FOR <= inner <= DOD:
        return decode_packed_block(buf, pos, end, inner - FOR, m, lanes)
    if inner == HUFF:
        return decode_huff_block(buf, pos, end, m, lanes)
    if inner == RANK:
        return decode_rank_block(buf, pos, end, m, lanes)
    return ERR_SCHEME, pos


@njit
def _integrate(out, n, order, first, firstd):
    """Integrate in place: ``out[order:n]`` holds the order-``order`` residuals."""
    if order >= 1:
        out[0] = first
    if order == 1:
        prev = first
        for i in range(1, n):
            prev = prev + out[i]
            out[i] = prev
    elif order == 2:
        prev = first + firstd
        prevd = firstd
        out[1] = prev
        for i in range(2, n):
            prevd = prevd + out[i]
            prev = prev + prevd
            out[i] = prev


@njit
def _rd_varint(buf, pos, end):
    """(ok, value, position after it) of an LEB128 varint of at most 10 bytes."""
    v = ZERO
    for b in range(10):
        if pos >= end:
            return False, v, pos
        byte = np.uint64(buf[pos])
        pos += 1
        v |= (byte & np.uint64(127)) << np.uint64(7 * b)
        if byte < np.uint64(128):
            return True, v, pos
    return False, v, pos


@njit
def _order_head(buf, pos, end, n, after):
    """The residual order (u8) and the first value(s) it keeps (u64 each) of a payload,
    checking that ``after`` more bytes follow. Returns ``(status, order, first, first
    delta, position after them)``."""
    if pos + 1 > end:
        return ERR_SHORT, np.int64(0), ZERO, ZERO, pos
    order = np.int64(buf[pos])
    pos += 1
    if order > 2 or n < order:
        return ERR_ORDER, order, ZERO, ZERO, pos
    if pos + 8 * order + after > end:
        return ERR_SHORT, order, ZERO, ZERO, pos
    first = ZERO
    firstd = ZERO
    if order >= 1:
        first = _rd64(buf, pos)
        pos += 8
    if order == 2:
        firstd = _rd64(buf, pos)
        pos += 8
    return 0, order, first, firstd, pos


@njit
def decode_rank_block(buf, pos, end, n, out):
    """Parse and decode a rank-scheme payload (nested only) into ``out[:n]`` (uint64):
    ``order u8``, the first value(s), ``k u8`` and ``k`` zigzag varint residuals (the
    dictionary), ``npairs u16`` and ``npairs`` varint pair codes, then a huffman payload whose lanes,
    zigzagged, are the ranks (or with pairs, the pair ranks).

    Returns ``(status, position after the payload)``.
    """
    return _decode_rank(buf, pos, end, n, out, RANK_MAX)


@njit
def decode_wide_rank_block(buf, pos, end, n, out):
    """As :func:`decode_rank_block` for a wide-rank block (format version 3): the same
    payload with up to 255 dictionary residuals."""
    return _decode_rank(buf, pos, end, n, out, RANK_WIDE_MAX)


@njit
def _decode_rank(buf, pos, end, n, out, kmax):
    status, order, first, firstd, pos = _order_head(buf, pos, end, n, 1)
    if status != 0:
        return status, pos
    k = np.int64(buf[pos])
    pos += 1
    if k < 1 or k > kmax:
        return ERR_PARAMS, pos
    values = np.empty(k, dtype=np.uint64)
    for j in range(k):
        ok, z, pos = _rd_varint(buf, pos, end)
        if not ok:
            return ERR_SHORT, pos
        values[j] = (z >> ONE) ^ (ZERO - (z & ONE))
    if pos + 2 > end:
        return ERR_SHORT, pos
    npairs = np.int64(buf[pos]) | (np.int64(buf[pos + 1]) << 8)
    pos += 2
    if npairs > k * k:
        return ERR_PARAMS, pos
    pairs = np.empty(npairs, dtype=np.int64)
    for t in range(npairs):
        ok, c, pos = _rd_varint(buf, pos, end)
        if not ok:
            return ERR_SHORT, pos
        if c >= np.uint64(k * k):
            return ERR_INDEX, pos
        pairs[t] = np.int64(c)
    m = n - order
    res = out[order:n]
    nlanes = (m + 1) // 2 if npairs > 0 else m
    lanes = np.empty(nlanes, dtype=np.uint64) if npairs > 0 else res
    status, pos = decode_huff_block(buf, pos, end, nlanes, lanes)
    if status != 0:
        return status, pos
    if npairs > 0:
        for t in range(nlanes):
            v = lanes[t]
            j = (v << ONE) ^ (ZERO - (v >> np.uint64(63)))
            if j >= np.uint64(npairs):
                return ERR_INDEX, pos
            c = pairs[j]
            res[2 * t] = values[c // k]
            if 2 * t + 1 < m:
                res[2 * t + 1] = values[c % k]
    else:
        uk = np.uint64(k)
        for i in range(m):
            v = res[i]
            j = (v << ONE) ^ (ZERO - (v >> np.uint64(63)))
            if j >= uk:
                return ERR_INDEX, pos
            res[i] = values[j]
    _integrate(out, n, order, first, firstd)
    return 0, pos


@njit
def decode_mult_block(buf, pos, end, n, out):
    """Parse and decode an int-mult payload at ``buf[pos:end]`` into ``out[:n]`` (uint64).

    Returns ``(status, position after the payload)``.
    """
    status, order, first, firstd, pos = _order_head(buf, pos, end, n, 16)
    if status != 0:
        return status, pos
    offset = _rd64(buf, pos)
    factor = _rd64(buf, pos + 8)
    pos += 16
    m = n - order
    status, nexc, at_pos, at_val, pos = _exceptions(buf, pos, end, m, 8)
    if status != 0:
        return status, pos
    q = out[order:n]
    status, pos = _decode_lanes(buf, pos, end, m, q)
    if status != 0:
        return status, pos
    for i in range(m):
        q[i] = offset + factor * q[i]
    for t in range(nexc):
        p, v = _exception(buf, at_pos, at_val, 8, t)
        q[p] = v
    _integrate(out, n, order, first, firstd)
    return 0, pos


# --- floats ---------------------------------------------------------------------------------


@njit(inline="always")
def _is_pow10(b):
    """``b`` is exactly one of the doubles nearest 10**k, |k| <= 22 (ALP's domain)."""
    for k in range(23):  # noqa: SIM110 (a loop numba compiles)
        if b == float(10.0**k) or b == 1.0 / float(10.0**k):
            return True
    return False


@njit(inline="always")
def _near_pow10(g, rel):
    """``g`` is within a relative ``rel`` of 10**k, |k| <= 22."""
    for k in range(23):
        p = float(10.0**k)
        if abs(g / p - 1.0) < rel or abs(g * p - 1.0) < rel:
            return True
    return False


@njit
def _float_gcd(a, b, tol):
    """Approximate greatest common divisor of two positive doubles (Euclid, with remainders
    within ``tol`` of 0 or of the divisor taken as 0)."""
    if a < b:
        a, b = b, a
    for _ in range(200):
        if b <= tol:
            return a
        r = a - b * np.floor(a / b)
        if r <= tol or b - r <= tol:
            return b
        a, b = b, r
    return 0.0


@njit(inline="always")
def fmult_ok(x, base, probe):
    """(ok, k): ``x == float(k * base)`` to the bit for ``k = round(x / base)``."""
    y = np.float64(x) / base
    if not (abs(y) < KMAX):
        return False, np.int64(0)
    k = np.int64(np.round(y))
    probe[0] = np.float64(k) * base
    if probe[0] != x or (x == 0 and math.copysign(1.0, x) < 0):
        return False, k
    return True, k


@njit
def sample_magnitudes(x):
    """``(sample, magnitudes, top)``: a 256-value sample of ``x``, the finite nonzero
    magnitudes in it (float64, in sample order) and the largest of them."""
    s = even_sample(x, MODE_SAMPLE)
    mags = np.empty(s.size, dtype=np.float64)
    cnt = 0
    top = 0.0
    for i in range(s.size):
        v = abs(np.float64(s[i]))
        if v > 0 and v < np.inf:
            mags[cnt] = v
            cnt += 1
            top = max(top, v)
    return s, mags[:cnt], top


@njit
def approx_step(mags, tol, finest):
    """The approximate GCD of a quarter of ``mags`` (remainders within ``tol`` count as
    0); 0.0 once it falls to ``finest`` or below (too fine for the precision)."""
    g = mags[0]
    big = mags[0]
    for i in range(1, mags.size, 4):
        g = _float_gcd(g, mags[i], tol)
        if g <= finest:
            return 0.0
        # Euclid's rounding errors grow with the quotients: re-derive the step from the
        # largest value seen (an integer multiple of it), so that the error stays ~1 ulp.
        big = max(big, mags[i])
        g = big / np.round(big / g)
    return g


@njit
def float_mult_base(x, probe):
    """A common multiplier: ``base`` such that 90 % of a 256-value sample of ``x`` are
    ``k * base`` to the bit, ``base`` not a power of ten (ALP codes those) unless the
    values are its products (:func:`_pow10_products`); 0.0 when none.

    The approximate GCD of the sampled magnitudes gives the step; the base is then the
    best on the sample of a few candidates ``x / k`` (the producer's own constant is one of
    them or one ulp away).
    """
    s, mags, top = sample_magnitudes(x)
    m = s.size
    cnt = mags.size
    if cnt < 16:
        return 0.0
    # Remainders within ``tol`` count as 0: float32 values carry 24 bits, float64 53.
    tol = top * (2.0**-17 if x.itemsize == 4 else 2.0**-30)
    g = approx_step(mags, tol, top * (2.0**-14 if x.itemsize == 4 else 2.0**-24))
    if g == 0.0:
        return 0.0  # steps too fine for the precision: no useful multiplier
    if _near_pow10(g, 2.0**-13 if x.itemsize == 4 else 1e-6):  # (a float32 step is rougher)
        # Decimals: ALP's domain (and the common case: decide it here, cheaply), unless
        # they are products of integers and the power of ten computed in floating point.
        return _pow10_products(s, g, probe)
    # Candidates: the step itself, x/k of the largest sampled values, one ulp around them.
    best = 0.0
    best_hits = 0
    order = np.argsort(mags[:cnt])
    for c in range(5):
        if c == 0:
            cand0 = g
        else:
            v = mags[order[cnt - c]]
            cand0 = v / np.round(v / g)
        for step in range(3):
            cand = cand0
            if step == 1:
                cand = np.nextafter(cand0, np.inf)
            elif step == 2:
                cand = np.nextafter(cand0, 0.0)
            hits = 0
            for i in range(m):
                ok, _k = fmult_ok(s[i], cand, probe)
                if ok:
                    hits += 1
                elif 10 * (i + 1 - hits) > m:
                    break  # more than 10 % missed: this candidate cannot qualify
            if hits > best_hits:
                best_hits = hits
                best = cand
    if 10 * best_hits < 9 * m or _is_pow10(best):
        return 0.0
    return best


@njit
def _pow10_products(s, g, probe):
    """The power of ten nearest the step ``g`` (near one; for float32 values, its float32
    too) where at least 90 % of the sample ``s`` are ``k * base`` to the bit and a
    twentieth of it more than are the decimals ``k / 10**d`` (ALP takes those): ADC
    counts times their scale of 0.001 computed in floating point, a seventh of which ALP
    misses; else 0.0."""
    d = -int(np.round(np.log10(g)))
    exact = 1.0 / float(10.0**d) if d > 0 else float(10.0 ** (-d))
    m = s.size
    decimals = 0
    for i in range(m):
        ok, k = fmult_ok(s[i], exact, probe)
        probe[0] = np.float64(k) / float(10.0**d) if d > 0 else np.float64(k) * exact
        decimals += np.int64(probe[0] == s[i])
    best = 0.0
    best_products = 0
    for c in range(2 if s.itemsize == 4 else 1):
        base = exact if c == 0 else np.float64(np.float32(exact))
        products = 0
        for i in range(m):
            ok, _k = fmult_ok(s[i], base, probe)
            products += np.int64(ok)
        if products > best_products:
            best, best_products = base, products
    if 10 * best_products >= 9 * m and best_products >= decimals + m // 20:
        return best
    return 0.0


@njit
def float_quant_shift(bits, total):
    """Trailing zero bits shared by 90 % of the nonzero values of a 256-value sample of
    float bit patterns ``bits``, or 0 below ``total // 5`` (ALP codes those) or with
    fewer than 16 nonzero values."""
    s = even_sample(bits, MODE_SAMPLE)
    hist = np.zeros(total + 1, dtype=np.int64)
    m = 0
    for i in range(s.size):
        b = np.uint64(s[i]) & (ALL >> np.uint64(65 - total))  # the magnitude
        if b != ZERO:
            hist[ctz(b)] += 1
            m += 1
    if m < 16:
        return 0
    have = 0
    for shift in range(total - 1, 0, -1):
        have += hist[shift]
        if 10 * have >= 9 * m:
            return shift if shift >= total // 5 else 0
    return 0


@njit(inline="always")
def quant_lane(b, shift, total):
    """Signed lane of float bits ``b``: ``mag >> shift``, negated minus one when negative
    (so that lanes order like the values; -0.0 is -1)."""
    sign = ONE << np.uint64(total - 1)
    mag = b & (sign - ONE)
    v = mag >> np.uint64(shift)
    if b & sign:
        return ZERO - v - ONE
    return v


@njit
def fquant_lanes(bits, shift, total):
    """FQUANT lanes of float bit patterns and the positions of those with a nonzero bit
    below ``shift`` (their lane is the previous one)."""
    n = bits.size
    lanes = np.empty(n, dtype=np.uint64)
    pos = np.empty(n, dtype=np.int64)
    low = (ONE << np.uint64(shift)) - ONE
    nexc = 0
    last = ZERO
    for i in range(n):
        b = np.uint64(bits[i])
        if b & low:
            lanes[i] = last
            pos[nexc] = i
            nexc += 1
        else:
            last = quant_lane(b, shift, total)
            lanes[i] = last
    return lanes, pos[:nexc]


@njit
def decode_fmult_block(buf, pos, end, n, out, out_bits):
    """Parse and decode a float-mult payload into ``out`` (float32/64): ``base f64``, then
    exceptions and nested lanes as in ALP, ``x = k * base``."""
    if pos + 8 > end:
        return ERR_SHORT, pos
    base = _rd64(buf, pos)
    scale = np.array([base]).view(np.float64)[0]
    return _scaled_tail(buf, pos + 8, end, n, out, out_bits, scale, 1.0)


@njit
def decode_fquant_block(buf, pos, end, n, out_bits):
    """Parse and decode a float-quant payload into ``out_bits`` (the float bit patterns)."""
    isz = out_bits.itemsize
    total = 8 * isz
    if pos + 1 > end:
        return ERR_SHORT, pos
    shift = np.int64(buf[pos])
    pos += 1
    if shift < 1 or shift >= total:
        return ERR_PARAMS, pos
    status, nexc, at_pos, at_val, pos = _exceptions(buf, pos, end, n, isz)
    if status != 0:
        return status, pos
    lanes = np.empty(n, dtype=np.uint64)
    status, pos = _decode_lanes(buf, pos, end, n, lanes)
    if status != 0:
        return status, pos
    sign = ONE << np.uint64(total - 1)
    ushift = np.uint64(shift)
    width = ALL >> np.uint64(64 - total)
    for i in range(n):
        v = lanes[i]
        if v & SIGN:
            out_bits[i] = ((((ZERO - v - ONE) << ushift) & width) | sign) & width
        else:
            out_bits[i] = (v << ushift) & width
    for t in range(nexc):
        p, v = _exception(buf, at_pos, at_val, isz, t)
        out_bits[p] = v
    return 0, pos
