"""Bit packing: ``w``-bit lanes in uint64 words, order-0..2 residuals, the packed schemes.

All integer arithmetic is done on ``uint64`` so that it wraps modulo 2**64 (exactly what
the format specifies); signed order is obtained by flipping the sign bit (``u ^ SIGN``).
Also the byte helpers every kernel module uses (copies, little-endian reads and writes).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.numbers import leading_zeros
from numba.extending import intrinsic

from edgekit._jit import njit
from edgekit.codec._format import ERR_ORDER, ERR_SHORT, ERR_WIDTH

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


@njit
def copy_bytes(dst, dpos, src, spos, nb):
    """``dst[dpos:dpos+nb] = src[spos:spos+nb]`` (uint8 arrays, bounds checked by the
    caller) as a plain loop on unsigned indices: numba's slice assignment copies bytes
    about 10x slower."""
    d = np.uint64(dpos)
    s = np.uint64(spos)
    for i in range(np.uint64(nb)):
        dst[d + i] = src[s + i]


@intrinsic
def load_u64(typingctx, arr, at):
    """The little-endian uint64 at byte ``at`` of a C-contiguous uint8 array: one unaligned
    load, no bounds check (the caller guarantees ``at + 8 <= arr.size``)."""
    sig = types.uint64(arr, at)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return sig, codegen


@njit
def bitlen(u):
    """Number of significant bits of a uint64 (0 for 0): one count-leading-zeros instruction."""
    return 64 - np.int64(leading_zeros(np.uint64(u)))  # type: ignore[call-arg]


@njit
def _mask(w):
    if w >= 64:
        return ALL
    return (ONE << np.uint64(w)) - ONE


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


@njit
def _put64(out, pos, v):
    for j in range(8):
        out[pos + j] = np.uint8((v >> np.uint64(8 * j)) & np.uint64(0xFF))


@njit
def _nwords(count, width):
    return (count * width + 63) // 64


@njit
def narrow_lanes(v):
    """The uint64 lanes of 8- or 16-bit integers ``v`` (sign- or zero-extended, as
    ``astype``) and their :func:`int_stats`, in one pass of 32-bit arithmetic (exact: a
    second difference of 16-bit values takes 18 bits); 3 us less than the two apart on a
    PPG block of 15,000 values: ``(lanes, stats)``."""
    n = v.size
    lanes = np.empty(n, dtype=np.int64)
    out = np.zeros(6, dtype=np.uint64)
    if n == 0:
        return lanes.view(np.uint64), out
    lanes[0] = np.int64(v[0])
    vmin = vmax = np.int32(v[0])
    dmin = dmax = np.int32(0)
    if n >= 2:
        first = np.int32(v[1])
        lanes[1] = np.int64(v[1])
        vmin = min(vmin, first)
        vmax = max(vmax, first)
        dmin = dmax = np.int32(first - np.int32(v[0]))
    ddmin = np.int32(2**31 - 1)
    ddmax = np.int32(-(2**31))
    for j in range(n - 2):
        q = np.int32(v[j])
        p = np.int32(v[j + 1])
        x = np.int32(v[j + 2])
        lanes[j + 2] = np.int64(x)
        d = np.int32(x - p)
        dd = np.int32(d - np.int32(p - q))
        vmin = min(vmin, x)
        vmax = max(vmax, x)
        dmin = min(dmin, d)
        dmax = max(dmax, d)
        ddmin = min(ddmin, dd)
        ddmax = max(ddmax, dd)
    out[0] = np.uint64(np.int64(vmin)) ^ SIGN
    out[1] = np.uint64(np.int64(vmax)) ^ SIGN
    if n >= 2:
        out[2] = np.uint64(np.int64(dmin)) ^ SIGN
        out[3] = np.uint64(np.int64(dmax)) ^ SIGN
    if n >= 3:
        out[4] = np.uint64(np.int64(ddmin)) ^ SIGN
        out[5] = np.uint64(np.int64(ddmax)) ^ SIGN
    return lanes.view(np.uint64), out


@njit
def int_stats(u):
    """Signed-order (min, max) of values, deltas and deltas-of-deltas, as sign-flipped uint64.

    Returns an array of 6 uint64: vmin, vmax, dmin, dmax, ddmin, ddmax (sign-flipped, so
    unsigned order is signed order). Missing orders (too few values) give min=max=0. The
    loop reads each window of three values afresh (no state carried from one value to
    the next), so it runs on vectors.
    """
    n = u.size
    out = np.zeros(6, dtype=np.uint64)
    if n == 0:
        return out
    vmin = vmax = u[0] ^ SIGN
    if n >= 2:
        s = u[1] ^ SIGN
        vmin = min(vmin, s)
        vmax = max(vmax, s)
        out[2] = out[3] = (u[1] - u[0]) ^ SIGN
    dmin, dmax = out[2], out[3]
    ddmin = ALL
    ddmax = ZERO
    for j in range(n - 2):
        q = u[j]
        p = u[j + 1]
        x = u[j + 2]
        d = x - p
        s = x ^ SIGN
        sd = d ^ SIGN
        dd = (d - (p - q)) ^ SIGN
        vmin = s if s < vmin else vmin
        vmax = s if s > vmax else vmax
        dmin = sd if sd < dmin else dmin
        dmax = sd if sd > dmax else dmax
        ddmin = dd if dd < ddmin else ddmin
        ddmax = dd if dd > ddmax else ddmax
    out[0] = vmin
    out[1] = vmax
    if n >= 3:
        out[2] = dmin
        out[3] = dmax
        out[4] = ddmin
        out[5] = ddmax
    return out


@njit
def distinct_adjacent(s):
    """Of the sorted int64 values ``s`` (not empty): how many are distinct, and how many of
    the distinct ones are one above the previous (a dense run of integers). Without a
    branch on either (a sample's steps go either way at random)."""
    distinct = 1
    adjacent = 0
    for i in range(1, s.size):
        step = s[i] - s[i - 1]
        distinct += np.int64(step != 0)
        adjacent += np.int64(step == 1)
    return distinct, adjacent


@intrinsic
def _ctpop(typingctx, x):
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [args[0]])

    return sig, codegen


@njit(inline="always")
def count_ones(x):
    """The set bits of a uint64: one population-count instruction."""
    return _ctpop(np.uint64(x))  # type: ignore[call-arg]


@intrinsic
def _expect_true(typingctx, c):
    sig = types.boolean(types.boolean)

    def codegen(context, builder, signature, args):
        bit = ir.IntType(1)
        fn = builder.module.declare_intrinsic(
            "llvm.expect", [bit], ir.FunctionType(bit, [bit, bit])
        )
        return builder.call(fn, [args[0], ir.Constant(bit, 1)])

    return sig, codegen


@njit(inline="always")
def likely(c):
    """``c``, marked as almost always true: the compiler lays the other branch out of the
    loop (no taken jump on the common path)."""
    return _expect_true(c)  # type: ignore[call-arg]


#: :func:`radix_order` sorts at least this many keys by radix (below, numba's mergesort).
RADIX_MIN_KEYS = 512


@njit
def radix_order(keys):
    """The stable argsort of the uint64 ``keys`` (int64 positions): least significant byte
    first, a byte all keys share skipped (numba's argsort took 550 us for a dictionary's
    10,109 float keys; this takes a tenth)."""
    n = keys.size
    if n < RADIX_MIN_KEYS:
        return np.argsort(keys, kind="mergesort")
    counts = np.zeros((8, 256), dtype=np.int64)
    for i in range(n):
        k = keys[i]
        for d in range(8):
            counts[d, np.int64((k >> np.uint64(8 * d)) & np.uint64(255))] += 1
    order = np.arange(n)
    cur = keys.copy()  # (the keys move with their positions: every pass reads in order)
    moved = np.empty(n, dtype=np.int64)
    moved_keys = np.empty(n, dtype=np.uint64)
    starts = np.empty(256, dtype=np.int64)
    for d in range(8):
        shared = False
        total = 0
        for b in range(256):
            shared = shared or counts[d, b] == n
            starts[b] = total
            total += counts[d, b]
        if shared:
            continue
        shift = np.uint64(8 * d)
        for i in range(n):
            k = cur[i]
            b = np.int64((k >> shift) & np.uint64(255))
            at = starts[b]
            moved[at] = order[i]
            moved_keys[at] = k
            starts[b] = at + 1
        order, moved = moved, order  # (the buffers swap: no copy back)
        cur, moved_keys = moved_keys, cur
    return order


#: Widest span of values (largest minus smallest) that :func:`sample_distinct_adjacent`
#: marks in a bitmap (32 KB); a wider sample is sorted.
BITMAP_SPAN = 1 << 18
#: Spans of fewer integers than this are marked a byte each (8 times the bitmap's bytes,
#: but plain stores: :func:`sample_distinct_adjacent`).
BYTEMAP_SPAN = 1 << 14


@njit(inline="always")
def even_next(i, rem, q, r, m):
    """The position after ``i`` among the evenly spaced ``j * total // m`` (``j = 0, 1,
    ...``; ``q, r``: ``total // m`` and ``total % m``, ``rem``: ``j * r % m``), and its
    ``rem``: one add and a compare where the division took ~2 ns (1,024 positions: 2 us)."""
    i += q
    rem += r
    if rem >= m:
        rem -= m
        i += 1
    return i, rem


@njit(inline="always")
def sample_span(s):
    """The least of the int64 values ``s`` (not empty) and their span (largest minus least,
    uint64)."""
    lo = s[0]
    hi = s[0]
    for i in range(s.size):
        lo = min(lo, s[i])
        hi = max(hi, s[i])
    return lo, np.uint64(hi) - np.uint64(lo)


@njit
def sample_distinct_adjacent(s):
    """:func:`distinct_adjacent` of the int64 values ``s`` in any order (not empty; ``s``
    may be reordered). Where they span under BITMAP_SPAN integers, from a bitmap of them
    (two set-bit counts a word; a byte a value under BYTEMAP_SPAN): sorting a sample
    mispredicts a branch at about every other comparison on data the predictor has not
    seen (three sorts of 512 values took a PCM block 30 us)."""
    lo, span = sample_span(s)
    if span >= np.uint64(BITMAP_SPAN):
        s.sort()
        return distinct_adjacent(s)
    if span < np.uint64(BYTEMAP_SPAN):
        # (a byte a value: plain stores; a word of the bitmap waits on its last update,
        # and a sensor's residuals fall in a few words: 0.85 us on 512 of a PPG's, 0.25)
        seen = np.zeros(np.int64(span) + 2, dtype=np.uint8)
        for i in range(s.size):
            seen[np.int64(np.uint64(s[i]) - np.uint64(lo)) + 1] = 1
        distinct = 0
        adjacent = 0
        for j in range(1, seen.size):
            distinct += np.int64(seen[j])
            adjacent += np.int64(seen[j] & seen[j - 1])
        return distinct, adjacent
    words = np.zeros((np.int64(span) >> 6) + 1, dtype=np.uint64)
    for i in range(s.size):
        b = np.uint64(s[i]) - np.uint64(lo)
        words[np.int64(b >> SIX)] |= ONE << (b & SIXTY_THREE)
    distinct = 0
    adjacent = 0
    carry = ZERO
    for w in range(words.size):
        x = words[w]
        distinct += count_ones(x)
        adjacent += count_ones(x & ((x << ONE) | carry))
        carry = x >> SIXTY_THREE
    return distinct, adjacent


@njit
def residuals(u, order):
    """Order-``order`` differences of ``u`` (wrapping), ``u.size - order`` values."""
    n = u.size
    if order == 0:
        return u.copy()
    if order == 1:
        d = np.empty(max(n - 1, 0), dtype=np.uint64)
        for i in range(1, n):
            d[i - 1] = u[i] - u[i - 1]
        return d
    dd = np.empty(max(n - 2, 0), dtype=np.uint64)
    if n < 3:
        return dd
    a = u[0]  # (two and one back, kept in registers: the loop reads each value once)
    b = u[1]
    for i in range(2, n):
        c = u[i]
        dd[i - 2] = (c - b) - (b - a)
        a = b
        b = c
    return dd


@njit
def third_residuals(u):
    """The order-2 :func:`residuals` of the lag-1 residuals ``u[0], u[1] - u[0], ...`` of
    ``u`` (third differences), in one pass: ``u.size - 2`` values (none below 3)."""
    n = u.size
    out = np.empty(max(n - 2, 0), dtype=np.uint64)
    if n < 3:
        return out
    a = u[0]  # the lag-1 residuals two and one back
    b = u[1] - u[0]
    for i in range(2, n):
        c = u[i] - u[i - 1]
        out[i - 2] = (c - b) - (b - a)
        a = b
        b = c
    return out


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


@njit
def decode_packed_block(buf, pos, end, order, n, out):
    """Parse and decode a for/delta/delta-of-delta payload at ``buf[pos:end]`` into ``out``.

    Returns ``(status, position after the payload)``.
    """
    return _decode_packed(
        buf, pos, end, order, n, out, np.empty(0, dtype=np.float64), False, 1.0, 1.0
    )


@njit(inline="always")
def _read_heads(buf, pos, order):
    """The heads of an order-``order`` payload at ``buf[pos:]`` and the u64 after them (base
    or center): ``(first, first delta, that u64, position after it)``. The caller checked
    the bounds."""
    first = ZERO
    firstd = ZERO
    if order >= 1:
        first = _rd64(buf, pos)
        pos += 8
    if order == 2:
        firstd = _rd64(buf, pos)
        pos += 8
    return first, firstd, _rd64(buf, pos), pos + 8


@njit
def _decode_packed(buf, pos, end, order, n, out, fout, alp, ff, fe):
    """:func:`decode_packed_block`, or with ``alp`` into ``fout`` as ALP values
    ``(lane * ff) / fe`` (``out`` unused)."""
    if n < order:
        return ERR_ORDER, pos
    if pos + 8 * order + 9 > end:
        return ERR_SHORT, pos
    first, firstd, base, pos = _read_heads(buf, pos, order)
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


@njit
def _varint_size(v):
    """Bytes of ``v`` (uint64) as an LEB128 varint."""
    size = 1
    while v >= np.uint64(128):
        v >>= np.uint64(7)
        size += 1
    return size


@njit
def _put_varint(out, at, v):
    """Write ``v`` (uint64) as an LEB128 varint at ``out[at:]``; returns the end."""
    while v >= np.uint64(128):
        out[at] = np.uint8((v & np.uint64(127)) | np.uint64(128))
        v >>= np.uint64(7)
        at += 1
    out[at] = np.uint8(v)
    return at + 1
