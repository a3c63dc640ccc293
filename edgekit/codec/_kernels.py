"""Numba kernels of the codec layer: bit packing, delta transforms, Huffman, ALP, gear hashing.

All integer arithmetic is done on ``uint64`` so that it wraps modulo 2**64 (exactly what
the format specifies); signed order is obtained by flipping the sign bit (``u ^ SIGN``).
Kernels that read untrusted bytes never index out of bounds: callers validate sizes first,
and the bit readers stop at the end of their buffer and report an error code instead.
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros

from edgekit._jit import njit

SIGN = np.uint64(0x8000000000000000)
ONE = np.uint64(1)
ZERO = np.uint64(0)
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
TWO = np.uint64(2)
THREE = np.uint64(3)
FOUR = np.uint64(4)
SIX = np.uint64(6)
SIXTY_THREE = np.uint64(63)
SIXTY_FOUR = np.uint64(64)

#: 10**k (exact for k <= 22) and the doubles nearest to 10**-k, for ALP.
F10 = np.array([float(10**k) for k in range(23)], dtype=np.float64)
IF10 = np.array([float(f"1e-{k}") for k in range(23)], dtype=np.float64)
#: ALP rounds with this constant: (y + M) - M is y rounded half-to-even for |y| < 2**51.
ALP_MAGIC = float(2**52 + 2**51)
ALP_LIMIT = float(2**51)

HUFF_NSYM = 130
HUFF_MAXLEN = 12


@njit
def copy_bytes(dst, dpos, src, spos, nb):
    """``dst[dpos:dpos+nb] = src[spos:spos+nb]`` (uint8 arrays, bounds checked by the
    caller) as a plain loop on unsigned indices: numba's slice assignment copies bytes
    about 10x slower."""
    d = np.uint64(dpos)
    s = np.uint64(spos)
    for i in range(np.uint64(nb)):
        dst[d + i] = src[s + i]


@njit
def bitlen(u):
    """Number of significant bits of a uint64 (0 for 0): one count-leading-zeros instruction."""
    return 64 - np.int64(leading_zeros(np.uint64(u)))  # type: ignore[call-arg]


@njit
def _mask(w):
    if w >= 64:
        return ALL
    return (ONE << np.uint64(w)) - ONE


# --- statistics for the integer scheme chooser ------------------------------------------


@njit
def int_stats(u):
    """Signed-order (min, max) of values, deltas and deltas-of-deltas, as sign-flipped uint64.

    Returns an array of 6 uint64: vmin, vmax, dmin, dmax, ddmin, ddmax (sign-flipped, so
    unsigned order is signed order). Missing orders (too few values) give min=max=0.
    """
    n = u.size
    out = np.zeros(6, dtype=np.uint64)
    if n == 0:
        return out
    vmin = ALL
    vmax = ZERO
    dmin = ALL
    dmax = ZERO
    ddmin = ALL
    ddmax = ZERO
    prev = ZERO
    prevd = ZERO
    for i in range(n):
        x = u[i]
        s = x ^ SIGN
        vmin = min(vmin, s)
        vmax = max(vmax, s)
        if i >= 1:
            d = x - prev
            sd = d ^ SIGN
            dmin = min(dmin, sd)
            dmax = max(dmax, sd)
            if i >= 2:
                dd = (d - prevd) ^ SIGN
                ddmin = min(ddmin, dd)
                ddmax = max(ddmax, dd)
            prevd = d
        prev = x
    out[0] = vmin
    out[1] = vmax
    if n >= 2:
        out[2] = dmin
        out[3] = dmax
    if n >= 3:
        out[4] = ddmin
        out[5] = ddmax
    return out


@njit
def residuals(u, order):
    """Order-``order`` differences of ``u`` (wrapping), ``u.size - order`` values."""
    n = u.size
    if order == 0:
        return u.copy()
    d = np.empty(max(n - 1, 0), dtype=np.uint64)
    for i in range(1, n):
        d[i - 1] = u[i] - u[i - 1]
    if order == 1:
        return d
    dd = np.empty(max(n - 2, 0), dtype=np.uint64)
    for i in range(1, n - 1):
        dd[i - 1] = d[i] - d[i - 1]
    return dd


# --- bit packing ----------------------------------------------------------------------


@njit
def pack_residuals(u, order, base, w):
    """Pack order-``order`` residuals of ``u`` minus ``base`` (wrapping) into ``w``-bit lanes.

    Values are laid LSB-first into little-endian uint64 words; value ``i`` occupies bits
    ``i*w .. i*w+w-1`` of the concatenated words.
    """
    n = u.size - order
    if n < 0:
        n = 0
    nwords = (n * w + 63) // 64
    words = np.zeros(nwords, dtype=np.uint64)
    if w == 0 or n == 0:
        return words
    uw = np.uint64(w)
    bit = 0
    prev = ZERO
    prevd = ZERO
    if order >= 1:
        prev = u[0]
    if order == 2 and u.size >= 2:
        prevd = u[1] - u[0]
        prev = u[1]
    for i in range(n):
        x = u[i + order]
        if order == 0:
            v = x - base
        elif order == 1:
            v = (x - prev) - base
            prev = x
        else:
            d = x - prev
            v = (d - prevd) - base
            prevd = d
            prev = x
        wi = bit >> 6
        off = np.uint64(bit & 63)
        words[wi] |= v << off
        if (bit & 63) + w > 64:
            words[wi + 1] |= v >> (np.uint64(64) - off)
        bit += w
    _ = uw
    return words


@njit
def unpack_residuals(words, n, order, w, base, first, firstd, out):
    """Inverse of :func:`pack_residuals`: writes ``n + order`` values into ``out``.

    The caller has checked ``words.size * 64 >= n * w`` and ``out.size == n + order``.
    """
    fout = np.empty(0, dtype=np.float64)
    _unpack_packed(words, n, order, w, base, first, firstd, out, fout, False, 1.0, 1.0)
    return out


@njit(inline="always")
def _store_lane(out, j, v, fout, alp, ff, fe):
    """``out[j] = v``, or with ``alp`` the ALP value ``fout[j] = (v * ff) / fe``."""
    if alp:
        fout[j] = (np.float64(np.int64(v)) * ff) / fe
    else:
        out[j] = v


@njit
def _unpack_packed(words, n, order, w, base, first, firstd, out, fout, alp, ff, fe):
    """Read ``n`` ``w``-bit residuals packed LSB-first in ``words`` (uint64), add ``base``,
    integrate ``order`` times and store the ``n + order`` values in ``out`` (with ``alp``:
    as ALP floats in ``fout``). The caller has checked ``words.size * 64 >= n * w``.
    """
    if order >= 1:
        _store_lane(out, 0, first, fout, alp, ff, fe)
    if order == 2:
        _store_lane(out, 1, first + firstd, fout, alp, ff, fe)
    # One loop per order, each compiled with its order a constant (no branch per value).
    if order == 0:
        _unpack_loop(words, n, 0, w, base, first, firstd, out, fout, alp, ff, fe)
    elif order == 1:
        _unpack_loop(words, n, 1, w, base, first, firstd, out, fout, alp, ff, fe)
    else:
        _unpack_loop(words, n, 2, w, base, first, firstd, out, fout, alp, ff, fe)


@njit(inline="always")
def _unpack_loop(words, n, order, w, base, first, firstd, out, fout, alp, ff, fe):
    prev = first
    prevd = firstd
    if order == 2:
        prev = first + firstd
    mask = _mask(w)
    uw = np.uint64(w)
    # Values that start before the last word read two words and shift without a branch
    # (``(hi << (63 - off)) << 1`` is 0 at ``off == 0``); the last few take the careful way.
    safe = 0
    if w > 0 and words.size > 1:
        safe = min(n, ((words.size - 1) * 64 + w - 1) // w)
    bit = ZERO
    for i in range(safe):
        wi = bit >> SIX
        off = bit & SIXTY_THREE
        v = (words[wi] >> off) | ((words[wi + ONE] << (SIXTY_THREE - off)) << ONE)
        prev, prevd = _put_residual(
            out, i, (v & mask) + base, order, prev, prevd, fout, alp, ff, fe
        )
        bit += uw
    for i in range(safe, n):
        v = ZERO
        if w > 0:
            wi = bit >> SIX
            off = bit & SIXTY_THREE
            v = words[wi] >> off
            if off + uw > SIXTY_FOUR:
                v |= words[wi + ONE] << (SIXTY_FOUR - off)
            bit += uw
        prev, prevd = _put_residual(
            out, i, (v & mask) + base, order, prev, prevd, fout, alp, ff, fe
        )


@njit(inline="always")
def _put_residual(out, i, v, order, prev, prevd, fout, alp, ff, fe):
    """Integrate residual ``i`` (``v``) ``order`` times and store it; returns the state."""
    if order == 0:
        _store_lane(out, i, v, fout, alp, ff, fe)
    elif order == 1:
        prev = prev + v
        _store_lane(out, i + 1, prev, fout, alp, ff, fe)
    else:
        prevd = prevd + v
        prev = prev + prevd
        _store_lane(out, i + 2, prev, fout, alp, ff, fe)
    return prev, prevd


@njit
def pack_plain(v, w):
    """Pack uint64 values (already below 2**w) into ``w``-bit lanes (same layout as above)."""
    n = v.size
    words = np.zeros((n * w + 63) // 64, dtype=np.uint64)
    if w == 0:
        return words
    bit = 0
    for i in range(n):
        wi = bit >> 6
        off = np.uint64(bit & 63)
        words[wi] |= v[i] << off
        if (bit & 63) + w > 64:
            words[wi + 1] |= v[i] >> (np.uint64(64) - off)
        bit += w
    return words


@njit
def unpack_plain(words, n, w, out):
    """Inverse of :func:`pack_plain` into ``out[:n]``; the caller checked the sizes."""
    mask = _mask(w)
    bit = 0
    for i in range(n):
        if w == 0:
            out[i] = ZERO
            continue
        wi = bit >> 6
        off = np.uint64(bit & 63)
        v = words[wi] >> off
        if (bit & 63) + w > 64:
            v |= words[wi + 1] << (np.uint64(64) - off)
        out[i] = v & mask
        bit += w
    return out


# --- Huffman stage over zigzag residuals ------------------------------------------------


@njit
def _symbol(z):
    """Symbol and extra-bit count of a zigzag value (see the format spec)."""
    if z < np.uint64(8):
        return np.int64(z), 0
    L = bitlen(z)
    sub = np.int64((z >> np.uint64(L - 2)) & ONE)
    return 8 + (L - 4) * 2 + sub, L - 2


@njit
def zigzag_centered(r, center):
    """zigzag(r - center) with wrapping, as uint64."""
    n = r.size
    z = np.empty(n, dtype=np.uint64)
    for i in range(n):
        d = r[i] - center
        # zigzag: (d << 1) ^ (d >> 63 arithmetic), branch-free
        z[i] = (d << ONE) ^ (ZERO - (d >> np.uint64(63)))
    return z


@njit
def symbol_histogram(z):
    """Counts of each of the HUFF_NSYM symbols and the total number of extra bits per symbol."""
    counts = np.zeros(HUFF_NSYM, dtype=np.int64)
    for i in range(z.size):
        s, _e = _symbol(z[i])
        counts[s] += 1
    return counts


@njit
def _lengths_once(counts, lens):
    """Plain Huffman code lengths (O(nsym**2) merging, fine for 130 symbols)."""
    nsym = counts.size
    total = 2 * nsym
    weight = np.zeros(total, dtype=np.int64)
    parent = np.full(total, -1, dtype=np.int64)
    alive = np.zeros(total, dtype=np.bool_)
    nalive = 0
    for s in range(nsym):
        lens[s] = 0
        if counts[s] > 0:
            weight[s] = counts[s]
            alive[s] = True
            nalive += 1
    if nalive == 0:
        return
    if nalive == 1:
        for s in range(nsym):
            if alive[s]:
                lens[s] = 1
        return
    nxt = nsym
    while nalive > 1:
        a = -1
        b = -1
        for i in range(nxt):
            if alive[i]:
                if a < 0 or weight[i] < weight[a]:
                    b = a
                    a = i
                elif b < 0 or weight[i] < weight[b]:
                    b = i
        alive[a] = False
        alive[b] = False
        weight[nxt] = weight[a] + weight[b]
        parent[a] = nxt
        parent[b] = nxt
        alive[nxt] = True
        nxt += 1
        nalive -= 1
    for s in range(nsym):
        if counts[s] > 0:
            d = 0
            j = s
            while parent[j] >= 0:
                j = parent[j]
                d += 1
            lens[s] = d


@njit
def huff_lengths(counts, maxlen):
    """Huffman code lengths limited to ``maxlen`` bits (counts are halved until they fit)."""
    c = counts.copy()
    lens = np.zeros(counts.size, dtype=np.int64)
    while True:
        _lengths_once(c, lens)
        if lens.max() <= maxlen:
            return lens
        for s in range(c.size):
            if c[s] > 0:
                c[s] = (c[s] + 1) // 2


@njit
def huff_codes(lens, maxlen):
    """Canonical codes (by length, then symbol), bit-reversed for an LSB-first stream.

    Deflate's construction: count codes per length, take each length's first code, then
    hand codes out in symbol order (one pass over the symbols instead of one per length).
    """
    nsym = lens.size
    per_len = np.zeros(maxlen + 2, dtype=np.int64)
    for s in range(nsym):
        if 0 < lens[s] <= maxlen:
            per_len[lens[s]] += 1
    nxt = np.zeros(maxlen + 2, dtype=np.int64)
    code = 0
    for length in range(1, maxlen + 1):
        code = (code + per_len[length - 1]) << 1 if length > 1 else 0
        nxt[length] = code
    codes = np.zeros(nsym, dtype=np.int64)
    for s in range(nsym):
        length = lens[s]
        if 0 < length <= maxlen:
            c = nxt[length]
            nxt[length] = c + 1
            rev = 0
            for _ in range(length):
                rev = (rev << 1) | (c & 1)
                c >>= 1
            codes[s] = rev
    return codes


@njit
def huff_encode(z, codes, lens):
    """Encode zigzag values: per value its symbol's code (LSB-first) then its extra bits.

    Returns the stream bytes and its length in bits.
    """
    n = z.size
    # Worst case: 12 bits of code + 62 extra bits per value, plus slack for 4-byte writes.
    out = np.zeros(n * 10 + 16, dtype=np.uint8)
    acc = ZERO
    nacc = 0
    pos = 0
    m32 = np.uint64(0xFFFFFFFF)
    for i in range(n):
        zi = z[i]
        s, e = _symbol(zi)
        acc |= np.uint64(codes[s]) << np.uint64(nacc)
        nacc += lens[s]
        if e > 0:
            extra = zi & _mask(e)
            if e > 32:
                # flush first so the two halves fit
                if nacc >= 32:
                    w = acc & m32
                    out[pos] = np.uint8(w & np.uint64(0xFF))
                    out[pos + 1] = np.uint8((w >> np.uint64(8)) & np.uint64(0xFF))
                    out[pos + 2] = np.uint8((w >> np.uint64(16)) & np.uint64(0xFF))
                    out[pos + 3] = np.uint8(w >> np.uint64(24))
                    pos += 4
                    acc >>= np.uint64(32)
                    nacc -= 32
                acc |= (extra & m32) << np.uint64(nacc)
                nacc += 32
                extra >>= np.uint64(32)
                e -= 32
            if nacc >= 32:
                w = acc & m32
                out[pos] = np.uint8(w & np.uint64(0xFF))
                out[pos + 1] = np.uint8((w >> np.uint64(8)) & np.uint64(0xFF))
                out[pos + 2] = np.uint8((w >> np.uint64(16)) & np.uint64(0xFF))
                out[pos + 3] = np.uint8(w >> np.uint64(24))
                pos += 4
                acc >>= np.uint64(32)
                nacc -= 32
            acc |= extra << np.uint64(nacc)
            nacc += e
        if nacc >= 32:
            w = acc & m32
            out[pos] = np.uint8(w & np.uint64(0xFF))
            out[pos + 1] = np.uint8((w >> np.uint64(8)) & np.uint64(0xFF))
            out[pos + 2] = np.uint8((w >> np.uint64(16)) & np.uint64(0xFF))
            out[pos + 3] = np.uint8(w >> np.uint64(24))
            pos += 4
            acc >>= np.uint64(32)
            nacc -= 32
    nbits = pos * 8 + nacc
    while nacc > 0:
        out[pos] = np.uint8(acc & np.uint64(0xFF))
        pos += 1
        acc >>= np.uint64(8)
        nacc -= 8
    return out[:pos], nbits


HUFF_STREAMS = 4


@njit
def huff_prepare(r, center):
    """One pass over residuals: zigzag values, their symbols and the symbol counts."""
    n = r.size
    z = np.empty(n, dtype=np.uint64)
    syms = np.empty(n, dtype=np.uint8)
    counts = np.zeros(HUFF_NSYM, dtype=np.int64)
    for i in range(n):
        d = r[i] - center
        zi = (d << ONE) ^ (ZERO - (d >> np.uint64(63)))
        z[i] = zi
        s, _e = _symbol(zi)
        syms[i] = s
        counts[s] += 1
    return z, syms, counts


@njit
def _flush32(out, pos, acc):
    w = acc & np.uint64(0xFFFFFFFF)
    out[pos] = np.uint8(w & np.uint64(0xFF))
    out[pos + 1] = np.uint8((w >> np.uint64(8)) & np.uint64(0xFF))
    out[pos + 2] = np.uint8((w >> np.uint64(16)) & np.uint64(0xFF))
    out[pos + 3] = np.uint8(w >> np.uint64(24))


@njit
def huff_encode4(z, syms, codes, lens):
    """Encode into 4 interleaved streams (value ``i`` in stream ``i % 4``), concatenated.

    Returns the bytes of the 4 streams back to back and each stream's length in bits.
    Each stream is built in 64-bit words (little-endian words are the LSB-first bytes):
    a code and its extra bits go in with one shift when they fit in 64 bits together.
    """
    n = z.size
    per = (n + HUFF_STREAMS - 1) // HUFF_STREAMS
    cap = (per * 74 + 63) // 64 + 1
    words = np.zeros(HUFF_STREAMS * cap, dtype=np.uint64)
    nbits = np.zeros(HUFF_STREAMS, dtype=np.int64)
    ucodes = codes.astype(np.uint64)
    ulens = lens.astype(np.uint64)
    total_bytes = 0
    for j in range(HUFF_STREAMS):
        w = np.uint64(j * cap)
        w0 = w
        acc = ZERO
        nacc = ZERO
        for i in range(j, n, HUFF_STREAMS):
            s = np.int64(syms[i])
            ln = ulens[s]
            v = ucodes[s]
            if s >= 8:
                e = np.uint64((s - 8) // 2 + 2)
                extra = z[i] & ((ONE << e) - ONE)
                if ln + e > SIXTY_FOUR:
                    # Rare (extra fields of 53+ bits): the code goes in first, alone.
                    acc |= v << nacc
                    t = nacc + ln
                    if t >= SIXTY_FOUR:
                        words[w] = acc
                        w += ONE
                        acc = (v >> (SIXTY_FOUR - nacc)) if nacc > ZERO else ZERO
                        t -= SIXTY_FOUR
                    nacc = t
                    v = extra
                    ln = e
                else:
                    v = v | (extra << ln)
                    ln = ln + e
            acc |= v << nacc
            t = nacc + ln
            if t >= SIXTY_FOUR:
                words[w] = acc
                w += ONE
                acc = (v >> (SIXTY_FOUR - nacc)) if nacc > ZERO else ZERO
                t -= SIXTY_FOUR
            nacc = t
        if nacc > ZERO:
            words[w] = acc
        nbits[j] = np.int64(w - w0) * 64 + np.int64(nacc)
        total_bytes += (nbits[j] + 7) // 8
    out = np.empty(total_bytes, dtype=np.uint8)
    wb = words.view(np.uint8)
    pos = 0
    for j in range(HUFF_STREAMS):
        nb = (nbits[j] + 7) // 8
        copy_bytes(out, pos, wb, 8 * j * cap, nb)
        pos += nb
    return out, nbits


@njit
def _put64(out, pos, v):
    for j in range(8):
        out[pos + j] = np.uint8((v >> np.uint64(8 * j)) & np.uint64(0xFF))


@njit
def select_kth(a, k):
    """The ``k``-th smallest value of ``a`` (uint64, not empty; ``a`` may be reordered).

    Values spanning a narrow range are counted; otherwise quickselect with three-way partitioning, so runs of equal values (common in sensor
    residuals) cost one pass; pivots come from a fixed pseudo-random sequence, and after
    64 rounds the remaining range is sorted, which bounds the worst case at O(n log n).
    """
    n = a.size
    mn = a[0]
    mx = a[0]
    for i in range(1, n):
        mn = min(mn, a[i])
        mx = max(mx, a[i])
    span = mx - mn
    if span < np.uint64(max(4 * n, 1024)):
        # Narrow range: a counting pass, no data-dependent branches.
        counts = np.zeros(np.int64(span) + 1, dtype=np.int64)
        for i in range(n):
            counts[np.int64(a[i] - mn)] += 1
        seen = 0
        for j in range(counts.size):
            seen += counts[j]
            if seen > k:
                return mn + np.uint64(j)
    lo = 0
    hi = n - 1
    state = np.uint64(0x9E3779B97F4A7C15)
    for _ in range(64):
        if lo >= hi:
            return a[k]
        state = state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        pivot = a[lo + np.int64((state >> np.uint64(33)) % np.uint64(hi - lo + 1))]
        lt = lo
        i = lo
        gt = hi
        while i <= gt:
            v = a[i]
            if v < pivot:
                a[i] = a[lt]
                a[lt] = v
                lt += 1
                i += 1
            elif v > pivot:
                a[i] = a[gt]
                a[gt] = v
                gt -= 1
            else:
                i += 1
        if k < lt:
            hi = lt - 1
        elif k > gt:
            lo = gt + 1
        else:
            return pivot
    a[lo : hi + 1] = np.sort(a[lo : hi + 1])
    return a[k]


@njit
def huff_candidate(u, order, limit):
    """The whole huffman-scheme payload of ``u`` with residual ``order``, in one call.

    Residuals, their signed median (the center), zigzag symbols and counts, code lengths
    (at most HUFF_MAXLEN bits), the packed length table and the four streams. Returns an
    empty array when the payload would be ``limit`` bytes or more (checked before encoding).
    """
    r = residuals(u, order)
    m = r.size
    flipped = r ^ SIGN
    center = select_kth(flipped, m // 2) ^ SIGN
    z, syms, counts = huff_prepare(r, center)
    # No prefix code beats the entropy: skip building one that cannot fit in ``limit``.
    lo = 0
    while counts[lo] == 0:
        lo += 1
    hi = HUFF_NSYM - 1
    while counts[hi] == 0:
        hi -= 1
    least = 0.0
    for s in range(HUFF_NSYM):
        c = counts[s]
        if c:
            e = 0 if s < 8 else (s - 8) // 2 + 2
            least += c * (math.log2(m / c) + e)
    head = 1 + 8 * order + 8 + 2 + (hi - lo + 2) // 2 + 4 * HUFF_STREAMS
    if head + (least * (1.0 - 1e-9) - 1.0) / 8 + HUFF_STREAMS >= limit:
        return np.zeros(0, dtype=np.uint8)
    lens = huff_lengths(counts, HUFF_MAXLEN)
    lo = 0
    while lens[lo] == 0:
        lo += 1
    hi = HUFF_NSYM - 1
    while lens[hi] == 0:
        hi -= 1
    bits = 0
    for s in range(HUFF_NSYM):
        if counts[s]:
            e = 0 if s < 8 else (s - 8) // 2 + 2
            bits += counts[s] * (lens[s] + e)
    ntable = 2 + (hi - lo + 2) // 2
    head = 1 + 8 * order + 8 + ntable + 4 * HUFF_STREAMS
    size = head + (bits + 7) // 8 + HUFF_STREAMS
    if size >= limit:
        return np.zeros(0, dtype=np.uint8)
    codes = huff_codes(lens, HUFF_MAXLEN)
    streams, nbits = huff_encode4(z, syms, codes, lens)
    out = np.zeros(head + streams.size, dtype=np.uint8)
    out[0] = np.uint8(order)
    pos = 1
    if order >= 1:
        _put64(out, pos, u[0])
        pos += 8
    if order == 2:
        _put64(out, pos, u[1] - u[0])
        pos += 8
    _put64(out, pos, center)
    pos += 8
    out[pos] = np.uint8(lo)
    out[pos + 1] = np.uint8(hi)
    pos += 2
    for sym in range(lo, hi + 1):
        k = sym - lo
        out[pos + k // 2] |= np.uint8(lens[sym] << (4 * (k % 2)))
    pos += (hi - lo + 2) // 2
    for j in range(HUFF_STREAMS):
        v = nbits[j]
        for b in range(4):
            out[pos + b] = np.uint8((v >> (8 * b)) & 255)
        pos += 4
    copy_bytes(out, pos, streams, 0, streams.size)
    return out


@njit
def huff_kraft_ok(lens, maxlen):
    """True when the code lengths (0..maxlen) describe a prefix code with at least one symbol."""
    total = 0
    used = 0
    for s in range(lens.size):
        ln = lens[s]
        if ln < 0 or ln > maxlen:
            return False
        if ln > 0:
            used += 1
            total += 1 << (maxlen - ln)
    return used > 0 and total <= (1 << maxlen)


@njit
def huff_symbol_tables(lens, maxlen):
    """Decode tables: per ``maxlen``-bit pattern ``symbol | length << 8 | extra_bits << 16``
    (0 = invalid code), and per symbol the value base, so that ``z = base | extra``."""
    codes = huff_codes(lens, maxlen)
    size = 1 << maxlen
    entry = np.zeros(size, dtype=np.int32)
    base = np.zeros(HUFF_NSYM, dtype=np.uint64)
    for sym in range(HUFF_NSYM):
        e = 0
        if sym < 8:
            base[sym] = np.uint64(sym)
        else:
            e = (sym - 8) // 2 + 2
            base[sym] = np.uint64(2 | ((sym - 8) & 1)) << np.uint64(e)
        ln = lens[sym]
        if ln > 0:
            value = np.int32(sym | (ln << 8) | (e << 16))
            j = codes[sym]
            step = 1 << ln
            while j < size:
                entry[j] = value
                j += step
    return entry, base


@njit(inline="always")
def _huff_one(words, w0, p, entry, tmask, base):
    """Decode one value of the stream whose words start at ``w0``: (z, new p, entry).

    Positions are uint64 (numba then adds no negative-index fix-up to the loads). An
    entry of 0 marks an unused code. The caller guarantees ``p`` is inside the stream.
    """
    k = w0 + (p >> SIX)
    off = p & SIXTY_THREE
    bits = (words[k] >> off) | ((words[k + ONE] << (SIXTY_THREE - off)) << ONE)
    ent = entry[bits & tmask]
    ln = np.uint64((ent >> 8) & 255)
    e = np.uint64(ent >> 16)
    if ln + e <= SIXTY_FOUR:
        extra = (bits >> ln) & ((ONE << e) - ONE)
    else:
        q = p + ln
        k2 = w0 + (q >> SIX)
        off2 = q & SIXTY_THREE
        more = (words[k2] >> off2) | ((words[k2 + ONE] << (SIXTY_THREE - off2)) << ONE)
        extra = more & ((ONE << e) - ONE)
    return base[ent & 255] | extra, p + ln + e, ent


@njit
def huff_decode4(words, starts, nbits, n, entry, base, out):
    """Decode ``n`` zigzag values from 4 interleaved Huffman streams into ``out``.

    Value ``i`` is in stream ``i % 4``; stream ``j`` occupies ``words`` from word
    ``starts[j]`` and holds ``nbits[j]`` bits followed by at least two zero words.
    ``entry`` is indexed by the next ``log2(entry.size)`` bits (at least the longest code).
    Returns 0, or -1 for a bad stream (an unused code, or a read past ``nbits``).
    """
    tmask = np.uint64(entry.size - 1)
    p0 = ZERO
    p1 = ZERO
    p2 = ZERO
    p3 = ZERO
    s0 = np.uint64(starts[0])
    s1 = np.uint64(starts[1])
    s2 = np.uint64(starts[2])
    s3 = np.uint64(starts[3])
    n0 = np.uint64(nbits[0])
    n1 = np.uint64(nbits[1])
    n2 = np.uint64(nbits[2])
    n3 = np.uint64(nbits[3])
    bad = False
    groups = n // 4
    oi = ZERO
    for _g in range(groups):
        if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3) | bad:
            return -1
        z0, p0, e0 = _huff_one(words, s0, p0, entry, tmask, base)
        z1, p1, e1 = _huff_one(words, s1, p1, entry, tmask, base)
        z2, p2, e2 = _huff_one(words, s2, p2, entry, tmask, base)
        z3, p3, e3 = _huff_one(words, s3, p3, entry, tmask, base)
        bad = (e0 == 0) | (e1 == 0) | (e2 == 0) | (e3 == 0)
        out[oi] = z0
        out[oi + ONE] = z1
        out[oi + TWO] = z2
        out[oi + THREE] = z3
        oi += FOUR
    if bad:
        return -1
    for i in range(4 * groups, n):
        j = i - 4 * groups
        if j == 0:
            if p0 > n0:
                return -1
            z, p0, ent = _huff_one(words, s0, p0, entry, tmask, base)
        elif j == 1:
            if p1 > n1:
                return -1
            z, p1, ent = _huff_one(words, s1, p1, entry, tmask, base)
        else:
            if p2 > n2:
                return -1
            z, p2, ent = _huff_one(words, s2, p2, entry, tmask, base)
        if ent == 0:
            return -1
        out[i] = z
    if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3):
        return -1
    return 0


@njit
def huff_value_table(lens, maxlen):
    """Decode table for :func:`huff_decode4_integrate`: per ``maxlen``-bit pattern
    ``length | extra_bits << 4 | top << 10`` (0 = invalid code), where the value is
    ``top << extra_bits | extra`` (``top`` is the symbol itself below 8, else 2 or 3):
    one table load gives the whole value, with no per-symbol base table."""
    codes = huff_codes(lens, maxlen)
    size = 1 << maxlen
    entry = np.zeros(size, dtype=np.int32)
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln > 0:
            if sym < 8:
                e = 0
                top = sym
            else:
                e = (sym - 8) // 2 + 2
                top = 2 | ((sym - 8) & 1)
            value = np.int32(ln | (e << 4) | (top << 10))
            j = codes[sym]
            step = 1 << ln
            while j < size:
                entry[j] = value
                j += step
    return entry


@njit(inline="always")
def _huff_value(words, w0, p, entry, tmask):
    """Decode one value at bit ``p`` of the stream at word ``w0``: (z, new p, entry)."""
    k = w0 + (p >> SIX)
    off = p & SIXTY_THREE
    bits = (words[k] >> off) | ((words[k + ONE] << (SIXTY_THREE - off)) << ONE)
    ent = entry[bits & tmask]
    ln = np.uint64(ent & 15)
    e = np.uint64((ent >> 4) & 63)
    top = np.uint64(ent >> 10)
    if ln + e <= SIXTY_FOUR:
        extra = (bits >> ln) & ((ONE << e) - ONE)
    else:
        q = p + ln
        k2 = w0 + (q >> SIX)
        off2 = q & SIXTY_THREE
        more = (words[k2] >> off2) | ((words[k2 + ONE] << (SIXTY_THREE - off2)) << ONE)
        extra = more & ((ONE << e) - ONE)
    return (top << e) | extra, p + ln + e, ent


@njit(inline="always")
def _emit(out, i, z, center, order, prev, prevd, fout, alp, ff, fe):
    """Store residual ``i`` (zigzag ``z``) integrated ``order`` times; returns the state.

    With ``alp`` the lane goes to ``fout`` as the ALP value ``(lane * ff) / fe`` instead.
    """
    r = ((z >> ONE) ^ (ZERO - (z & ONE))) + center
    if order == 0:
        v = r
        j = i
    elif order == 1:
        prev = prev + r
        v = prev
        j = i + ONE
    else:
        prevd = prevd + r
        prev = prev + prevd
        v = prev
        j = i + TWO
    if alp:
        fout[j] = (np.float64(np.int64(v)) * ff) / fe
    else:
        out[j] = v
    return prev, prevd


@njit
def huff_decode4_integrate(
    words, starts, nbits, m, entry, order, center, first, firstd, out, fout, alp, ff, fe
):
    """:func:`huff_decode4` and :func:`unzigzag_integrate` in one pass over the values.

    Decodes ``m`` residuals into ``out`` (``m + order`` lanes, heads included) without
    the intermediate zigzag array; ``entry`` is a :func:`huff_value_table`. With ``alp``,
    lanes go to ``fout`` as ALP values ``(lane * ff) / fe`` (``out`` is then not written).
    Returns 0, or -1 for a bad stream.
    """
    if order >= 1:
        if alp:
            fout[0] = (np.float64(np.int64(first)) * ff) / fe
        else:
            out[0] = first
    if order == 2:
        if alp:
            fout[1] = (np.float64(np.int64(first + firstd)) * ff) / fe
        else:
            out[1] = first + firstd
    prev = first
    prevd = firstd
    if order == 2:
        prev = first + firstd
    tmask = np.uint64(entry.size - 1)
    p0 = ZERO
    p1 = ZERO
    p2 = ZERO
    p3 = ZERO
    s0 = np.uint64(starts[0])
    s1 = np.uint64(starts[1])
    s2 = np.uint64(starts[2])
    s3 = np.uint64(starts[3])
    n0 = np.uint64(nbits[0])
    n1 = np.uint64(nbits[1])
    n2 = np.uint64(nbits[2])
    n3 = np.uint64(nbits[3])
    bad = False
    groups = m // 4
    oi = ZERO
    for _g in range(groups):
        if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3) | bad:
            return -1
        z0, p0, e0 = _huff_value(words, s0, p0, entry, tmask)
        z1, p1, e1 = _huff_value(words, s1, p1, entry, tmask)
        z2, p2, e2 = _huff_value(words, s2, p2, entry, tmask)
        z3, p3, e3 = _huff_value(words, s3, p3, entry, tmask)
        bad = (e0 == 0) | (e1 == 0) | (e2 == 0) | (e3 == 0)
        prev, prevd = _emit(out, oi, z0, center, order, prev, prevd, fout, alp, ff, fe)
        prev, prevd = _emit(out, oi + ONE, z1, center, order, prev, prevd, fout, alp, ff, fe)
        prev, prevd = _emit(out, oi + TWO, z2, center, order, prev, prevd, fout, alp, ff, fe)
        prev, prevd = _emit(out, oi + THREE, z3, center, order, prev, prevd, fout, alp, ff, fe)
        oi += FOUR
    if bad:
        return -1
    for i in range(4 * groups, m):
        j = i - 4 * groups
        if j == 0:
            if p0 > n0:
                return -1
            z, p0, ent = _huff_value(words, s0, p0, entry, tmask)
        elif j == 1:
            if p1 > n1:
                return -1
            z, p1, ent = _huff_value(words, s1, p1, entry, tmask)
        else:
            if p2 > n2:
                return -1
            z, p2, ent = _huff_value(words, s2, p2, entry, tmask)
        if ent == 0:
            return -1
        prev, prevd = _emit(out, np.uint64(i), z, center, order, prev, prevd, fout, alp, ff, fe)
    if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3):
        return -1
    return 0


@njit
def _rd64(buf, p):
    """Little-endian uint64 at ``buf[p:p+8]`` (the caller checked the bounds)."""
    v = ZERO
    for j in range(8):
        v |= np.uint64(buf[p + j]) << np.uint64(8 * j)
    return v


@njit
def _rd32(buf, p):
    v = np.int64(0)
    for j in range(4):
        v |= np.int64(buf[p + j]) << (8 * j)
    return v


#: Error codes of the block parsers below (the Python side turns them into messages).
ERR_SHORT = -1
ERR_ORDER = -2
ERR_SYMBOLS = -3
ERR_KRAFT = -4
ERR_STREAM_LENGTH = -5
ERR_STREAM = -6
ERR_WIDTH = -7


@njit
def decode_huff_block(buf, pos, end, n, out):
    """Parse and decode a huffman-scheme payload at ``buf[pos:end]`` into ``out[:n]``.

    Returns ``(status, position after the payload)``; status 0 or an ``ERR_*`` code.
    """
    return _decode_huff(buf, pos, end, n, out, np.empty(0, dtype=np.float64), False, 1.0, 1.0)


@njit
def _decode_huff(buf, pos, end, n, out, fout, alp, ff, fe):
    """Parse and decode a huffman-scheme payload at ``buf[pos:end]`` into ``out[:n]``,
    or with ``alp`` into ``fout[:n]`` as ALP values ``(lane * ff) / fe``.

    Returns ``(status, position after the payload)``; status 0 or an ``ERR_*`` code.
    Every field is bounds-checked against ``end`` before it is read.
    """
    if pos + 1 > end:
        return ERR_SHORT, pos
    order = np.int64(buf[pos])
    pos += 1
    if order > 2 or n < order:
        return ERR_ORDER, pos
    if pos + 8 * order + 10 > end:
        return ERR_SHORT, pos
    first = ZERO
    firstd = ZERO
    if order >= 1:
        first = _rd64(buf, pos)
        pos += 8
    if order == 2:
        firstd = _rd64(buf, pos)
        pos += 8
    center = _rd64(buf, pos)
    pos += 8
    lo = np.int64(buf[pos])
    hi = np.int64(buf[pos + 1])
    pos += 2
    if lo > hi or hi >= HUFF_NSYM:
        return ERR_SYMBOLS, pos
    nb = (hi - lo + 2) // 2
    if pos + nb > end:
        return ERR_SHORT, pos
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    for sym in range(lo, hi + 1):
        b = np.int64(buf[pos + (sym - lo) // 2])
        lens[sym] = (b & 15) if (sym - lo) % 2 == 0 else (b >> 4)
    pos += nb
    if not huff_kraft_ok(lens, HUFF_MAXLEN):
        return ERR_KRAFT, pos
    if pos + 4 * HUFF_STREAMS > end:
        return ERR_SHORT, pos
    m = n - order
    nbits = np.empty(HUFF_STREAMS, dtype=np.int64)
    starts = np.empty(HUFF_STREAMS, dtype=np.int64)
    total_words = 0
    total_bytes = 0
    for j in range(HUFF_STREAMS):
        nbits[j] = _rd32(buf, pos)
        pos += 4
        count = (m - j + HUFF_STREAMS - 1) // HUFF_STREAMS
        if nbits[j] > 74 * max(count, 0):
            return ERR_STREAM_LENGTH, pos
        nbytes = (nbits[j] + 7) // 8
        starts[j] = total_words
        total_words += (nbytes + 7) // 8 + 2
        total_bytes += nbytes
    if pos + total_bytes > end:
        return ERR_SHORT, pos
    words = np.zeros(total_words, dtype=np.uint64)
    word_bytes = words.view(np.uint8)  # little-endian words: a plain byte copy
    for j in range(HUFF_STREAMS):
        nbytes = (nbits[j] + 7) // 8
        w0 = starts[j] * 8
        copy_bytes(word_bytes, w0, buf, pos, nbytes)
        pos += nbytes
    # Table indexed by the longest code in use (a 2**12 table only when needed).
    entry = huff_value_table(lens, max(lens.max(), 1))
    status = huff_decode4_integrate(
        words, starts, nbits, m, entry, order, center, first, firstd, out, fout, alp, ff, fe
    )
    if status != 0:
        return ERR_STREAM, pos
    return 0, pos


@njit
def decode_packed_block(buf, pos, end, order, n, out):
    """Parse and decode a for/delta/delta-of-delta payload at ``buf[pos:end]`` into ``out``.

    Returns ``(status, position after the payload)``.
    """
    return _decode_packed(
        buf, pos, end, order, n, out, np.empty(0, dtype=np.float64), False, 1.0, 1.0
    )


@njit
def _decode_packed(buf, pos, end, order, n, out, fout, alp, ff, fe):
    """:func:`decode_packed_block`, or with ``alp`` into ``fout`` as ALP values
    ``(lane * ff) / fe`` (``out`` unused)."""
    if n < order:
        return ERR_ORDER, pos
    if pos + 8 * order + 9 > end:
        return ERR_SHORT, pos
    first = ZERO
    firstd = ZERO
    if order >= 1:
        first = _rd64(buf, pos)
        pos += 8
    if order == 2:
        firstd = _rd64(buf, pos)
        pos += 8
    base = _rd64(buf, pos)
    pos += 8
    width = np.int64(buf[pos])
    pos += 1
    if width > 64:
        return ERR_WIDTH, pos
    nwords = ((n - order) * width + 63) // 64
    if pos + 8 * nwords > end:
        return ERR_SHORT, pos
    words = np.empty(nwords, dtype=np.uint64)
    copy_bytes(words.view(np.uint8), 0, buf, pos, 8 * nwords)
    _unpack_packed(words, n - order, order, width, base, first, firstd, out, fout, alp, ff, fe)
    return 0, pos + 8 * nwords


ERR_PARAMS = -8
ERR_POSITION = -9
ERR_SCHEME = -10


@njit
def decode_alp_block(buf, pos, end, n, out, out_bits):
    """Parse and decode an ALP payload at ``buf[pos:end]`` into ``out`` (float32/64).

    ``out_bits`` is ``out`` viewed as unsigned integers of the same width, used to patch
    exceptions bit for bit. Returns ``(status, position after the payload)``.
    """
    isz = out_bits.itemsize
    if pos + 6 > end:
        return ERR_SHORT, pos
    e = np.int64(buf[pos])
    f = np.int64(buf[pos + 1])
    if e > 22 or f > 22:
        return ERR_PARAMS, pos
    nexc = _rd32(buf, pos + 2)
    pos += 6
    if nexc > n:
        return ERR_PARAMS, pos
    if pos + nexc * (2 + isz) + 1 > end:
        return ERR_SHORT, pos
    at_pos = pos
    at_val = pos + 2 * nexc
    for t in range(nexc):
        p = np.int64(buf[at_pos + 2 * t]) | (np.int64(buf[at_pos + 2 * t + 1]) << 8)
        if p >= n:
            return ERR_POSITION, pos
    pos = at_val + isz * nexc
    inner = np.int64(buf[pos])
    pos += 1
    # Lanes become floats as they are decoded (no lane array, no second pass).
    ff = F10[f]
    fe = F10[e]
    if inner == 0:
        if pos + 8 * n > end:
            return ERR_SHORT, pos
        for i in range(n):
            out[i] = (np.float64(np.int64(_rd64(buf, pos + 8 * i))) * ff) / fe
        pos += 8 * n
        status = 0
    elif inner <= 3:
        status, pos = _decode_packed(
            buf, pos, end, inner - 1, n, np.empty(0, dtype=np.uint64), out, True, ff, fe
        )
    elif inner == 4:
        status, pos = _decode_huff(
            buf, pos, end, n, np.empty(0, dtype=np.uint64), out, True, ff, fe
        )
    else:
        return ERR_SCHEME, pos
    if status != 0:
        return status, pos
    for t in range(nexc):
        p = np.int64(buf[at_pos + 2 * t]) | (np.int64(buf[at_pos + 2 * t + 1]) << 8)
        v = ZERO
        for j in range(isz):
            v |= np.uint64(buf[at_val + isz * t + j]) << np.uint64(8 * j)
        out_bits[p] = v
    return 0, pos


#: Status of the frame loops below when a block's scheme is left to the Python side.
BLOCK_NOT_HERE = 1
ERR_BLOCK_HEADER = -11
ERR_BLOCK_PAYLOAD = -12
ERR_TRAILING = -13
SCHEME_RAW = 0
SCHEME_FOR = 1
SCHEME_HUFF = 4
SCHEME_ALP = 5


@njit
def _block_head(buf, pos, end):
    """(status, scheme, payload end) of the block header at ``pos`` (5 bytes)."""
    if end - pos < 5:
        return ERR_BLOCK_HEADER, 0, pos
    scheme = np.int64(buf[pos])
    length = _rd32(buf, pos + 1)
    if length > end - pos - 5:
        return ERR_BLOCK_PAYLOAD, scheme, pos
    return 0, scheme, pos + 5 + length


@njit
def _float_blocks(buf, pos, end, start, n, block_size, out, out_bits):
    while start < n:
        count = min(block_size, n - start)
        status, scheme, stop = _block_head(buf, pos, end)
        if status != 0:
            return status, pos, start, pos
        isz = out_bits.itemsize
        if scheme == SCHEME_RAW and stop - pos - 5 == count * isz:
            # The values' own bytes (a raw block of another length is left to Python,
            # which names the error).
            copy_bytes(out_bits.view(np.uint8), start * isz, buf, pos + 5, count * isz)
            pos = stop
            start += count
            continue
        if scheme != SCHEME_ALP:
            return BLOCK_NOT_HERE, pos, start, pos
        status, got = decode_alp_block(
            buf, pos + 5, stop, count, out[start : start + count], out_bits[start : start + count]
        )
        if status != 0:
            return status, pos, start, got
        if got != stop:
            return ERR_TRAILING, pos, start, got
        pos = stop
        start += count
    return 0, pos, start, pos


@njit
def decode_f64_blocks(buf, pos, end, start, n, block_size, out):
    """Decode the blocks of a float64 series frame from value ``start`` on, in one call.

    ``buf[pos:end]`` holds the blocks (``pos`` at a block header); ``out`` is the whole
    float64 result. ALP and raw blocks are decoded here; the loop stops at the first block
    of another scheme.

    Returns ``(status, block position, start value of that block, detail position)``:
    status 0 when every block is done, ``BLOCK_NOT_HERE`` at a block left to the caller
    (nothing of it consumed), or a negative error code for the block at that position
    (the detail position is where its payload parser stopped).
    """
    return _float_blocks(buf, pos, end, start, n, block_size, out, out.view(np.uint64))


@njit
def decode_f32_blocks(buf, pos, end, start, n, block_size, out):
    """As :func:`decode_f64_blocks` for float32 frames."""
    return _float_blocks(buf, pos, end, start, n, block_size, out, out.view(np.uint32))


@njit
def decode_int_blocks(buf, pos, end, start, n, block_size, out):
    """As :func:`decode_f64_blocks` for integer frames: for/delta/delta-of-delta/huffman
    blocks are decoded into ``out`` (uint64 or int64 lanes); the loop stops at any other
    scheme."""
    lanes = out.view(np.uint64)
    while start < n:
        count = min(block_size, n - start)
        status, scheme, stop = _block_head(buf, pos, end)
        if status != 0:
            return status, pos, start, pos
        if scheme < SCHEME_FOR or scheme > SCHEME_HUFF:
            return BLOCK_NOT_HERE, pos, start, pos
        dest = lanes[start : start + count]
        if scheme == SCHEME_HUFF:
            status, got = decode_huff_block(buf, pos + 5, stop, count, dest)
        else:
            status, got = decode_packed_block(buf, pos + 5, stop, scheme - SCHEME_FOR, count, dest)
        if status != 0:
            return status, pos, start, got
        if got != stop:
            return ERR_TRAILING, pos, start, got
        pos = stop
        start += count
    return 0, pos, start, pos


#: Header size of a 1-D series frame (magic, version, dtype, ndim, n u64, block size u32).
HEAD_1D = 19


@njit
def _frame_status(result, end):
    """0 when a block loop decoded every block and stopped exactly at ``end``."""
    status, pos, _start, _got = result
    if status == 0 and pos != end:
        return ERR_TRAILING
    return status


@njit
def decode_f64_frame(frame, out):
    """Decode a whole 1-D float64 series frame into ``out`` (its ``n`` values) in one call.

    The caller has checked the header (``n``, block size, bounds) and the checksum; the
    block size is read from the header here. Returns 0 when every block was decoded (ALP
    or raw) and they end at the checksum, else non-zero: the caller then decodes the frame
    on the general path (which handles the other schemes and names any error).
    """
    end = len(frame) - 8
    block_size = _rd32(frame, HEAD_1D - 4)
    return _frame_status(
        _float_blocks(frame, HEAD_1D, end, 0, out.size, block_size, out, out.view(np.uint64)),
        end,
    )


@njit
def decode_f32_frame(frame, out):
    """As :func:`decode_f64_frame` for float32 frames."""
    end = len(frame) - 8
    block_size = _rd32(frame, HEAD_1D - 4)
    return _frame_status(
        _float_blocks(frame, HEAD_1D, end, 0, out.size, block_size, out, out.view(np.uint32)),
        end,
    )


@njit
def decode_int_frame(frame, out):
    """As :func:`decode_f64_frame` for integer frames, into uint64 or int64 lanes."""
    end = len(frame) - 8
    block_size = _rd32(frame, HEAD_1D - 4)
    return _frame_status(decode_int_blocks(frame, HEAD_1D, end, 0, out.size, block_size, out), end)


@njit
def unzigzag_integrate(z, order, center, first, firstd, out):
    """Undo zigzag and centering, then integrate ``order`` times into ``out`` (n + order)."""
    n = z.size
    if order >= 1:
        out[0] = first
    if order == 2:
        out[1] = first + firstd
    prev = first
    prevd = firstd
    if order == 2:
        prev = first + firstd
    for i in range(n):
        zi = z[i]
        r = ((zi >> ONE) ^ (ZERO - (zi & ONE))) + center
        if order == 0:
            out[i] = r
        elif order == 1:
            prev = prev + r
            out[i + 1] = prev
        else:
            prevd = prevd + r
            prev = prev + prevd
            out[i + 2] = prev
    return out


# --- ALP --------------------------------------------------------------------------------


@njit
def _alp_ok(x, e, f, probe):
    """ALP-encode one float; returns (ok, integer)."""
    y = np.float64(x) * F10[e] * IF10[f]
    if not (abs(y) < ALP_LIMIT):
        return False, np.int64(0)
    r = (y + ALP_MAGIC) - ALP_MAGIC
    k = np.int64(r)
    probe[0] = (np.float64(k) * F10[f]) / F10[e]
    d = probe[0]
    if d != x:
        return False, k
    if x == 0 and math.copysign(1.0, x) < 0:
        return False, k
    return True, k


@njit
def alp_search(sample, es, fs, probe):
    """Best of the candidate (e, f) pairs on a sample: fewest estimated bits.

    The estimate is bit width * n + 96 bits per exception. Returns (e, f, cost); the
    cost is 2**62 when every candidate fails on every value.
    """
    n = sample.size
    best_e = 0
    best_f = 0
    best_cost = np.int64(1) << 62
    for c in range(es.size):
        e = es[c]
        f = fs[c]
        nexc = 0
        lo = np.int64(1) << 62
        hi = -(np.int64(1) << 62)
        for i in range(n):
            ok, k = _alp_ok(sample[i], e, f, probe)
            if ok:
                lo = min(lo, k)
                hi = max(hi, k)
            else:
                nexc += 1
        if nexc == n:
            continue
        w = bitlen(np.uint64(hi - lo))
        cost = np.int64(w) * n + 96 * nexc
        if cost < best_cost:
            best_cost = cost
            best_e = e
            best_f = f
    return best_e, best_f, best_cost


#: How many (e, f) pairs the frame-level ALP sampling keeps for the per-block search.
ALP_KEEP = 5


@njit
def _rank_pair(sample, e, f, probe, limit):
    """Estimated cost of (e, f) on ``sample``, or 2**62 when it fails on every value or
    its cost is certain to exceed ``limit`` (checked after every value)."""
    never = np.int64(1) << 62
    n = sample.size
    nexc = 0
    lo = np.int64(1) << 62
    hi = -(np.int64(1) << 62)
    width = 0
    for i in range(n):
        ok, k = _alp_ok(sample[i], e, f, probe)
        if ok:
            if k < lo or k > hi:
                lo = min(lo, k)
                hi = max(hi, k)
                width = bitlen(np.uint64(hi - lo))
        else:
            nexc += 1
        if np.int64(width) * n + 96 * nexc > limit:
            return never
    if nexc == n:
        return never
    return np.int64(width) * n + 96 * nexc


@njit
def alp_rank(sample, emax, probe):
    """Estimated cost of every (e, f) with f <= e <= emax on a sample, as a 23x23 table.

    Costs are those of :func:`alp_search`, except that a pair is abandoned (cost 2**62)
    as soon as its cost is certain to exceed the ``ALP_KEEP``-th best cost seen so far:
    such a pair can never be among the ``ALP_KEEP`` cheapest, so the choice is unchanged.
    Pairs whose cost is at most the final ``ALP_KEEP``-th best are never abandoned, so
    the order of visits does not change the cheapest pairs: the pairs that keep the
    first value's digits (``e - f`` equal to its smallest exact exponent) go first, which
    makes the bound tight early and abandons most other pairs after a value or two.
    """
    never = np.int64(1) << 62
    costs = np.full((23, 23), never, dtype=np.int64)
    seen = np.zeros((23, 23), dtype=np.bool_)
    best = np.full(ALP_KEEP, never, dtype=np.int64)  # ascending
    digits = -1
    if sample.size:
        for e in range(emax + 1):
            ok, _k = _alp_ok(sample[0], e, 0, probe)
            if ok:
                digits = e
                break
    for step in range(2):
        for e in range(emax + 1):
            for f in range(e + 1):
                if step == 0 and (digits < 0 or e - f != digits or f >= ALP_KEEP):
                    continue
                if seen[e, f]:
                    continue
                seen[e, f] = True
                limit = best[ALP_KEEP - 1]
                cost = _rank_pair(sample, e, f, probe, limit)
                if cost >= never:
                    continue
                costs[e, f] = cost
                if cost < limit:
                    j = ALP_KEEP - 1
                    while j > 0 and best[j - 1] > cost:
                        best[j] = best[j - 1]
                        j -= 1
                    best[j] = cost
    return costs


@njit
def alp_encode(x, e, f, probe):
    """ALP integers of ``x`` (exceptions filled with the previous integer) and exception positions."""
    n = x.size
    ints = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    nexc = 0
    last = np.int64(0)
    for i in range(n):
        ok, k = _alp_ok(x[i], e, f, probe)
        if ok:
            ints[i] = k
            last = k
        else:
            ints[i] = last
            pos[nexc] = i
            nexc += 1
    return ints, pos[:nexc]


@njit
def alp_decode(ints, e, f, out):
    """Floats from ALP integers (exceptions are patched by the caller)."""
    ff = F10[f]
    fe = F10[e]
    for i in range(ints.size):
        out[i] = (np.float64(np.int64(ints[i])) * ff) / fe
    return out


# --- dictionary scheme ------------------------------------------------------------------------


@njit
def alp_rd_decode(
    idx_words, right_words, n, dict_bits, right, dictionary, positions, lefts, total, out
):
    """ALP_RD bits: ``dictionary[index] << right | right part``, exceptions patched.

    Returns 0, -1 for an index outside the dictionary, -2 for a left part wider than
    ``total - right`` bits. The caller checked the word counts and exception positions.
    """
    dmask = _mask(dict_bits)
    rmask = _mask(right)
    ur = np.uint64(right)
    dsize = dictionary.size
    bit_i = 0
    bit_r = 0
    for i in range(n):
        if dict_bits == 0:
            j = 0
        else:
            wi = bit_i >> 6
            off = np.uint64(bit_i & 63)
            v = idx_words[wi] >> off
            if (bit_i & 63) + dict_bits > 64:
                v |= idx_words[wi + 1] << (np.uint64(64) - off)
            j = np.int64(v & dmask)
            bit_i += dict_bits
        if j >= dsize:
            return -1
        wr = bit_r >> 6
        offr = np.uint64(bit_r & 63)
        rv = right_words[wr] >> offr
        if (bit_r & 63) + right > 64:
            rv |= right_words[wr + 1] << (np.uint64(64) - offr)
        bit_r += right
        out[i] = (dictionary[j] << ur) | (rv & rmask)
    limit = total - right
    for t in range(positions.size):
        left = lefts[t]
        if left >> np.uint64(limit):
            return -2
        p = positions[t]
        out[p] = (left << ur) | (np.uint64(out[p]) & rmask)
    for j in range(dsize):
        if dictionary[j] >> np.uint64(limit):
            return -2
    return 0


@njit
def order_keys(bits, total):
    """Float bit patterns mapped to uint64 keys whose unsigned order is numeric order."""
    sign = ONE << np.uint64(total - 1)
    allm = _mask(total)
    out = np.empty(bits.size, dtype=np.uint64)
    for i in range(bits.size):
        b = np.uint64(bits[i])
        if b & sign:
            out[i] = b ^ allm
        else:
            out[i] = b ^ sign
    return out


@njit
def dict_encode(keys, max_distinct):
    """Sorted distinct keys and each key's index in them (hash table, then a small sort).

    Returns ``(distinct, inverse)``, or an empty ``distinct`` when there are more than
    ``max_distinct`` distinct keys (the caller then skips the dictionary scheme).
    """
    n = keys.size
    cap = 16
    while cap < 2 * n:
        cap *= 2
    shift = np.uint64(64 - bitlen(np.uint64(cap - 1)))
    slot_key = np.zeros(cap, dtype=np.uint64)
    slot_used = np.zeros(cap, dtype=np.int64)  # 0 = empty, else 1 + slot rank later
    distinct = np.empty(min(n, max_distinct + 1), dtype=np.uint64)
    slot_of = np.empty(n, dtype=np.int64)
    nd = 0
    m = np.uint64(cap - 1)
    for i in range(n):
        key = keys[i]
        h = np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> shift)
        while True:
            if slot_used[h] == 0:
                if nd >= max_distinct:
                    return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64)
                slot_used[h] = 1
                slot_key[h] = key
                distinct[nd] = key
                nd += 1
                break
            if slot_key[h] == key:
                break
            h = np.int64((np.uint64(h) + ONE) & m)
        slot_of[i] = h
    ordered = np.sort(distinct[:nd])
    for r in range(nd):
        key = ordered[r]
        h = np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> shift)
        while slot_key[h] != key or slot_used[h] == 0:
            h = np.int64((np.uint64(h) + ONE) & m)
        slot_used[h] = r + 1
    inverse = np.empty(n, dtype=np.uint64)
    for i in range(n):
        inverse[i] = np.uint64(slot_used[slot_of[i]] - 1)
    return ordered, inverse


@njit
def count_distinct(v):
    """Number of distinct values in ``v`` (unsigned ints), with an open-addressing hash set."""
    n = v.size
    if n == 0:
        return 0
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    size = 1 << bits
    slots = np.empty(size, dtype=np.uint64)
    used = np.zeros(size, dtype=np.bool_)
    shift = np.uint64(64 - bits)
    mask = np.uint64(size - 1)
    found = 0
    for i in range(n):
        key = np.uint64(v[i])
        j = (key * np.uint64(0x9E3779B97F4A7C15)) >> shift
        while used[j] and slots[j] != key:
            j = (j + ONE) & mask
        if not used[j]:
            used[j] = True
            slots[j] = key
            found += 1
    return found


@njit
def dict_gather(values, idx, out):
    """``out[i] = values[idx[i]]``; returns -1 (and stops) at the first index out of range."""
    nd = np.uint64(values.size)
    for i in range(idx.size):
        j = idx[i]
        if j >= nd:
            return -1
        out[i] = values[j]
    return 0


# --- fused choosers and encoders (one call per block from the Python side) ---------------------


@njit
def even_sample(x, size):
    """``size`` evenly spaced values of ``x`` (first and last included); ``x`` when small.

    Position ``i`` is ``i * (n - 1) // (size - 1)``, as in ``_schemes._sample``.
    """
    n = x.size
    if n <= size:
        return x
    out = np.empty(size, dtype=x.dtype)
    for i in range(size):
        out[i] = x[(i * (n - 1)) // (size - 1)]
    return out


@njit
def alp_plan(x, emax, probe):
    """Frame-level ALP sampling: the (up to ``ALP_KEEP``) cheapest (e, f) pairs, as a
    ``(2, m)`` int64 array (row 0 exponents, row 1 factors), cheapest first.

    The cost table of :func:`alp_rank` on 32 values of a 256-value sample, ordered by
    (cost, e, f); pairs that fail on every sampled value are left out.
    """
    costs = alp_rank(even_sample(even_sample(x, 256), 32), emax, probe)
    never = np.int64(1) << 62
    keep_cost = np.full(ALP_KEEP, never, dtype=np.int64)
    keep_idx = np.zeros(ALP_KEEP, dtype=np.int64)
    m = 0
    for idx in range(23 * 23):
        c = costs[idx // 23, idx % 23]
        if c >= never:
            continue
        if m == ALP_KEEP and c >= keep_cost[ALP_KEEP - 1]:
            continue
        j = min(m, ALP_KEEP - 1)
        while j > 0 and keep_cost[j - 1] > c:
            keep_cost[j] = keep_cost[j - 1]
            keep_idx[j] = keep_idx[j - 1]
            j -= 1
        keep_cost[j] = c
        keep_idx[j] = idx
        m = min(m + 1, ALP_KEEP)
    pairs = np.empty((2, m), dtype=np.int64)
    for j in range(m):
        pairs[0, j] = keep_idx[j] // 23
        pairs[1, j] = keep_idx[j] % 23
    return pairs


@njit
def alp_choose(x, pairs, probe):
    """(e, f, cost) of :func:`alp_search` over the plan's pairs on 128 values of ``x``."""
    return alp_search(even_sample(x, 128), pairs[0], pairs[1], probe)


@njit
def dictionary_may_pay(v):
    """Few enough distinct bit patterns (``v``: the values as unsigned ints) in samples of
    1024 and 4096 values for a dictionary of at most a quarter of the block."""
    n = v.size
    first = count_distinct(even_sample(v, 1024))
    if first / max(min(n, 1024), 1) >= 0.95:
        return False
    if n <= 4096 and first > n // 4:
        return False  # the second sample is all of ``v``: it has at least as many
    count = count_distinct(even_sample(v, 4096))
    return count / min(n, 4096) < 0.6 and count <= n // 4


@njit
def _nwords(count, width):
    return (count * width + 63) // 64


@njit
def int_payload(u, entropy, raw_size):
    """The cheapest integer scheme for lanes ``u`` and its payload, in one call.

    Sizes of for/delta/delta-of-delta come from :func:`int_stats`; the huffman candidate
    is built when ``entropy`` and ``u.size >= 64`` and the narrowest order is at least 2
    bits wide. ``raw_size`` is the size of the raw payload (the caller writes it: an
    empty payload is returned for scheme 0). Returns ``(scheme id, payload bytes)``.
    """
    n = u.size
    stats = int_stats(u)
    best_scheme = 0
    best_size = raw_size
    best_order = -1
    widths = np.full(3, -1, dtype=np.int64)
    for order in range(3):
        if n < order or (order > 0 and n == 0):
            continue
        width = bitlen(stats[2 * order + 1] - stats[2 * order]) if n > order else 0
        widths[order] = width
        size = 8 * order + 9 + 8 * _nwords(n - order, width)
        if size < best_size:
            best_scheme = 1 + order
            best_size = size
            best_order = order
    if entropy and n >= 64:
        order = 0
        for o in range(1, 3):
            if widths[o] >= 0 and widths[o] < widths[order]:
                order = o
        if widths[order] >= 2:
            narrowest = widths[0]
            for o in range(1, 3):
                narrowest = min(narrowest, widths[o])
            limit = 9 + 8 * _nwords(n, narrowest)
            huff = huff_candidate(u, order, limit)
            if huff.size > 0 and huff.size < best_size:
                return 4, huff
    if best_scheme == 0:
        return 0, np.zeros(0, dtype=np.uint8)
    order = best_order
    lo = stats[2 * order] ^ SIGN
    width = widths[order]
    words = pack_residuals(u, order, lo, width)
    head = 8 * order + 9
    out = np.empty(head + 8 * words.size, dtype=np.uint8)
    pos = 0
    if order >= 1:
        _put64(out, 0, u[0])
        pos = 8
    if order == 2:
        _put64(out, 8, u[1] - u[0])
        pos = 16
    _put64(out, pos, lo)
    out[pos + 8] = np.uint8(width)
    copy_bytes(out, head, words.view(np.uint8), 0, 8 * words.size)
    return best_scheme, out


@njit
def alp_payload(x, x_bits, e, f, probe, entropy):
    """The whole ALP block payload of ``x`` with exponent ``e`` and factor ``f``.

    ``x_bits`` is ``x`` viewed as unsigned integers (for the raw exception values).
    """
    n = x.size
    ints, positions = alp_encode(x, e, f, probe)
    u = ints.view(np.uint64)
    scheme, inner = int_payload(u, entropy, 8 * n)
    if scheme == 0:
        inner = u.view(np.uint8)
    isz = x_bits.itemsize
    nexc = positions.size
    head = 6 + nexc * (2 + isz)
    out = np.empty(head + 1 + inner.size, dtype=np.uint8)
    out[0] = np.uint8(e)
    out[1] = np.uint8(f)
    for b in range(4):
        out[2 + b] = np.uint8((nexc >> (8 * b)) & 255)
    at = 6
    for t in range(nexc):
        out[at + 2 * t] = np.uint8(positions[t] & 255)
        out[at + 2 * t + 1] = np.uint8((positions[t] >> 8) & 255)
    at += 2 * nexc
    for t in range(nexc):
        v = np.uint64(x_bits[positions[t]])
        for b in range(isz):
            out[at + isz * t + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(255))
    out[head] = np.uint8(scheme)
    copy_bytes(out, head + 1, inner, 0, inner.size)
    return out


NEVER = np.int64(1) << 62


@njit
def alp_single_block(x, x_bits, emax, probe, entropy):
    """The whole-frame fast path for a frame of one float block: plan, choice, payload.

    Does what ``FloatPlan`` + ``encode_float_block`` do when ALP wins outright: ranks the
    (e, f) pairs, picks one on 128 values, and, unless a dictionary may pay (256 values
    or more with few distinct ones), builds the ALP payload. Returns ``(code, pairs,
    payload)``: code 0 when the payload is at most 0.6x the raw bytes (done), else 1
    (the caller runs the general chooser, reusing ``pairs``).
    """
    empty = np.zeros(0, dtype=np.uint8)
    pairs = alp_plan(x, emax, probe)
    if pairs.shape[1] == 0:
        return 1, pairs, empty
    e, f, cost = alp_choose(x, pairs, probe)
    n = x.size
    if n >= 256 and dictionary_may_pay(x_bits):
        return 1, pairs, empty
    nbytes = n * x_bits.itemsize
    estimate = cost * n / max(min(n, 128), 1) / 8
    if cost >= NEVER or not estimate < 0.9 * nbytes:
        return 1, pairs, empty
    payload = alp_payload(x, x_bits, e, f, probe, entropy)
    if payload.size <= 0.6 * nbytes:
        return 0, pairs, payload
    return 1, pairs, empty


# --- gear hashing for content-defined chunking -----------------------------------------------


@njit
def gear_table():
    """The 256 64-bit gear values: splitmix64 from seed 0x65646765 ("edge")."""
    table = np.empty(256, dtype=np.uint64)
    state = np.uint64(0x65646765)
    for i in range(256):
        state += np.uint64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        table[i] = z ^ (z >> np.uint64(31))
    return table


@njit
def _gear_scan(data, gear, gear_ls, h, i, end, mask, mask_ls):
    """Roll the gear hash from ``i`` to ``end``; return (cut or -1, hash, next index).

    Two bytes per step (FastCDC 2020): ``(h << 2) + (gear[a] << 1)`` is the one-byte hash
    shifted left once, so testing it against ``mask << 1`` is the one-byte test (the masks
    leave bit 63 clear); adding ``gear[b]`` gives the exact two-byte hash.
    """
    # Unsigned positions: numba adds no negative-index fix-up to each load (2.7x faster).
    j = np.uint64(i)
    stop = np.uint64(end - 1) if end > i else np.uint64(0)
    while j < stop:
        h = (h << TWO) + gear_ls[data[j]]
        if (h & mask_ls) == ZERO:
            return np.int64(j) + 1, h >> ONE, np.int64(j) + 1
        h = h + gear[data[j + ONE]]
        if (h & mask) == ZERO:
            return np.int64(j) + 2, h, np.int64(j) + 2
        j += TWO
    i = np.int64(j)
    while i < end:
        h = (h << ONE) + gear[data[i]]
        i += 1
        if (h & mask) == ZERO:
            return i, h, i
    return -1, h, i


@njit
def cdc_cut_points(data, gear, min_size, avg_size, max_size, mask_s, mask_l):
    """FastCDC boundaries with normalized chunking: ends of chunks (exclusive offsets).

    From ``start + min_size`` the hash is rolled; before ``start + avg_size`` a cut needs
    the harder mask ``mask_s``, after it the easier ``mask_l``; ``start + max_size`` cuts
    unconditionally. Chunks of the final ``min_size`` bytes or less are not split.
    """
    n = data.size
    gear_ls = gear << ONE
    mask_s_ls = mask_s << ONE
    mask_l_ls = mask_l << ONE
    cuts = np.empty(n // max(min_size, 1) + 2, dtype=np.int64)
    ncut = 0
    start = 0
    while start < n:
        remaining = n - start
        if remaining <= min_size:
            cuts[ncut] = n
            ncut += 1
            break
        end = start + min(remaining, max_size)
        normal = start + min(remaining, avg_size)
        cut, h, i = _gear_scan(
            data, gear, gear_ls, ZERO, start + min_size, normal, mask_s, mask_s_ls
        )
        if cut < 0:
            cut, h, i = _gear_scan(
                data, gear, gear_ls, h, max(i, start + min_size), end, mask_l, mask_l_ls
            )
            if cut < 0:
                cut = end
        cuts[ncut] = cut
        ncut += 1
        start = cut
    return cuts[:ncut]


def warmup() -> None:
    """Compile every kernel once on tiny inputs of each dtype the public API uses."""
    from edgekit.codec.series import compress, decompress

    for dtype in (
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float32,
        np.float64,
    ):
        x = (np.arange(40) * 3 % 7).astype(dtype)
        decompress(compress(x))
    rng = np.random.default_rng(0)
    decompress(compress(np.cumsum(rng.integers(-3, 4, 600))))
    decompress(compress(rng.standard_normal(300)))
    decompress(compress(np.round(rng.standard_normal(300), 2)))
    decompress(compress(np.round(rng.standard_normal(300), 2).astype(np.float32)))
    levels = rng.integers(0, 40, 1000)
    for dtype in (np.float32, np.float64):
        decompress(compress((levels * 0.0076293945).astype(dtype)))  # dictionary
        decompress(compress(np.tile(rng.standard_normal(300), 4).astype(dtype)))  # lz4
    from edgekit.codec.blob import diff, patch, signature

    old = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    patch(old, diff(signature(old), old[:100] + b"x" + old[100:]))
