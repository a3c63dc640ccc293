"""The huffman scheme's integer decoder: long codes one branch-free lookup a value, and
the streams read where they lie.

Blocks whose values take more than about 6.5 bits (loud audio, noisy sensors) hold at
most one whole value per 12-bit pattern, so the multi-value table of
:mod:`edgekit.codec._kernels.huffman` mostly misses there. The wide decoder looks each
value up alone in a table giving its code length, the bits it takes and its top bits,
two values per 64-bit read of each of the four streams, with no branch per value, and
integrates the residuals in the same pass (one loop per residual order). It applies to
complete codes (every 12-bit pattern starts a code: no pattern to reject) whose values
take at most 28 bits with their extra bits; other blocks keep the decoders of
``huffman``.

The streams are read where they lie in the frame when enough bytes follow them in the
buffer (8 for the wide decoder, ``STREAM_PAD`` for the others: a frame's last block has
only its checksum after it), else from a zero-padded copy. Reading past a stream's end
into the next one changes nothing: a value that uses bits past ``nbits`` leaves its
stream's position past ``nbits``, which is an error whatever those bits were.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic
from numba.np.numpy_support import carray

from edgekit._jit import njit
from edgekit.codec._format import ERR_STREAM, HUFF_MAXLEN, HUFF_NSYM, HUFF_STREAMS
from edgekit.codec._kernels.bitpack import (
    ONE,
    THREE,
    TWO,
    ZERO,
    _rd32,
    _read_heads,
    copy_bytes,
    load_u64,
)
from edgekit.codec._kernels.huffman import (
    MULTI_BITS,
    MULTI_MIN_VALUES,
    STREAM_PAD,
    _integrate_lanes,
    decode_huff_block,
    huff_codes,
    huff_decode4_integrate,
    huff_decode_multi,
    huff_multi_table,
    huff_value_table,
    sym_class,
)

#: Longest code plus extra bits this decoder takes: two values fit in one 57-bit read.
WIDE_MAX_TAKEN = 28
#: Blocks of at least this many bits a value (times 2), or of fewer than
#: ``MULTI_MIN_VALUES``, use the wide decoder: below, on longer blocks, the
#: multi-value table decodes faster (1.0-1.4 ns a value at 4-6 bits against about 1.7).
WIDE_MIN_BITS_X2 = 13
#: ... and so do blocks whose codes (by their share of the code space) take more than
#: ``MULTI_BITS`` bits with their extra bits at least this often: the multi-value table
#: reads each of them alone, after a mispredicted branch (a repeat block's lags, 4 bits
#: a value, 2.2 ns a value there against 1.6 here).
WIDE_LONG_SHARE = 0.1
_INDEX = np.uint64((1 << HUFF_MAXLEN) - 1)
_BYTE = np.uint64(255)
_LOW6 = np.uint64(63)
_EIGHT = np.uint64(8)


@intrinsic
def _data(typingctx, arr):
    """Pointer to the first byte of a C-contiguous uint8 array or ``bytes``."""
    sig = types.CPointer(types.uint8)(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.bitcast(ary.data, ir.IntType(8).as_pointer())

    return sig, codegen


@njit(inline="always")
def _byte_view(buf):
    """``buf`` (``bytes`` or a read-only uint8 array) as a plain uint8 array over the same
    memory, the type the stream decoders are compiled for (one compiled decoder for
    every buffer type). It does not own the memory: ``buf`` must outlive it."""
    return carray(_data(buf), len(buf))  # type: ignore[call-arg]


@njit
def _long_share(lens):
    """The share of the code space (``2**-length`` a code) of the codes whose values take
    more than ``MULTI_BITS`` bits with their extra bits: about the share of such values."""
    share = 0.0
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln:
            extra, _top = sym_class(sym)
            if ln + extra > MULTI_BITS:
                share += 2.0 ** -np.float64(ln)
    return share


@njit
def huff_wide_table(lens):
    """Decode table of the wide decoder, or an empty array when it does not apply.

    Per 12-bit pattern (the next stream bits): the bits the value takes (code and extra
    bits) in bits 0-7, the code length in bits 8-15, and ``top << taken`` from bit 32,
    where the value's zigzag form is ``top << extra_bits | extra`` (``top`` is the symbol
    below 8, else 2 or 3). Empty when the code is incomplete (a pattern would be no code)
    or a value can take more than ``WIDE_MAX_TAKEN`` bits.
    """
    size = 1 << HUFF_MAXLEN
    codes = huff_codes(lens, HUFF_MAXLEN)
    table = np.zeros(size, dtype=np.uint64)
    kraft = 0
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln == 0:
            continue
        e, top = sym_class(sym)
        taken = ln + e
        if ln > HUFF_MAXLEN or taken > WIDE_MAX_TAKEN:
            return table[:0]
        kraft += 1 << (HUFF_MAXLEN - ln)
        entry = np.uint64(taken | (ln << 8)) | (np.uint64(top) << np.uint64(32 + taken))
        j = codes[sym]
        while j < size:
            table[j] = entry
            j += 1 << ln
    if kraft != size:
        return table[:0]
    return table


@njit(inline="always")
def _bits(wb, q):
    """At least 57 stream bits from bit ``q`` of the uint8 array ``wb``."""
    return load_u64(wb, q >> np.uint64(3)) >> (q & np.uint64(7))  # type: ignore[call-arg]


@njit(inline="always")
def _residual(b, ent, center):
    """The residual whose code starts at bit 0 of ``b`` (``ent``: its table entry).

    The code's own bits are cut off with the extra bits (``bzhi``) and replaced by the
    top bits, so one shift by the code length gives the zigzag value; bit 0 of that
    value, then, is the sign."""
    z = ((b & ((ONE << (ent & _BYTE)) - ONE)) | (ent >> np.uint64(32))) >> ((ent >> _EIGHT) & _LOW6)
    return center + ((z >> ONE) ^ (ZERO - (z & ONE)))


@njit(inline="always")
def _put(out, o, r, order, prev, prevd):
    """Store residual ``r`` at ``out[o]`` integrated ``order`` times; returns the state."""
    if order == 0:
        out[o] = r
    elif order == 1:
        prev = prev + r
        out[o] = prev
    else:
        prevd = prevd + r
        prev = prev + prevd
        out[o] = prev
    return prev, prevd


@njit(inline="always")
def _wide_loop(wb, q, lim, m, table, center, out, order, prev, prevd):
    """The decoding loop of :func:`huff_decode_wide` for one residual ``order``."""
    q0 = q[0]
    q1 = q[1]
    q2 = q[2]
    q3 = q[3]
    l0 = lim[0]
    l1 = lim[1]
    l2 = lim[2]
    l3 = lim[3]
    o = np.uint64(order)
    for _g in range(m >> 3):
        # Each stream: one read, two values (each at most 28 bits of the read's 57).
        if (q0 > l0) | (q1 > l1) | (q2 > l2) | (q3 > l3):
            return False
        b0 = _bits(wb, q0)
        b1 = _bits(wb, q1)
        b2 = _bits(wb, q2)
        b3 = _bits(wb, q3)
        e0 = table[b0 & _INDEX]
        e1 = table[b1 & _INDEX]
        e2 = table[b2 & _INDEX]
        e3 = table[b3 & _INDEX]
        prev, prevd = _put(out, o, _residual(b0, e0, center), order, prev, prevd)
        prev, prevd = _put(out, o + ONE, _residual(b1, e1, center), order, prev, prevd)
        prev, prevd = _put(out, o + TWO, _residual(b2, e2, center), order, prev, prevd)
        prev, prevd = _put(out, o + THREE, _residual(b3, e3, center), order, prev, prevd)
        b0 >>= e0 & _LOW6
        b1 >>= e1 & _LOW6
        b2 >>= e2 & _LOW6
        b3 >>= e3 & _LOW6
        f0 = table[b0 & _INDEX]
        f1 = table[b1 & _INDEX]
        f2 = table[b2 & _INDEX]
        f3 = table[b3 & _INDEX]
        # (the two bit counts sit in the entries' low bytes: their sum is at most 56)
        q0 += (e0 + f0) & _BYTE
        q1 += (e1 + f1) & _BYTE
        q2 += (e2 + f2) & _BYTE
        q3 += (e3 + f3) & _BYTE
        prev, prevd = _put(out, o + np.uint64(4), _residual(b0, f0, center), order, prev, prevd)
        prev, prevd = _put(out, o + np.uint64(5), _residual(b1, f1, center), order, prev, prevd)
        prev, prevd = _put(out, o + np.uint64(6), _residual(b2, f2, center), order, prev, prevd)
        prev, prevd = _put(out, o + np.uint64(7), _residual(b3, f3, center), order, prev, prevd)
        o += _EIGHT
    q[0] = q0
    q[1] = q1
    q[2] = q2
    q[3] = q3
    # The last values (fewer than 8), one read each, checked before it.
    for i in range(m & ~7, m):
        j = i & 3
        if q[j] > lim[j]:
            return False
        b = _bits(wb, q[j])
        ent = table[b & _INDEX]
        q[j] += ent & _BYTE
        prev, prevd = _put(out, np.uint64(i + order), _residual(b, ent, center), order, prev, prevd)
    return (q[0] <= lim[0]) & (q[1] <= lim[1]) & (q[2] <= lim[2]) & (q[3] <= lim[3])


@njit
def huff_decode_wide(wb, starts, nbits, m, table, order, center, first, firstd, out):
    """Decode ``m`` residuals of 4 interleaved streams into ``out`` (``m + order`` lanes),
    integrated ``order`` times from the heads ``first`` and ``firstd``.

    Stream ``j`` starts at byte ``starts[j]`` of the uint8 array ``wb`` and holds
    ``nbits[j]`` bits, followed by at least 8 bytes of ``wb``. ``table`` is a non-empty
    :func:`huff_wide_table`. Returns True, or False when a stream would take more than
    its ``nbits`` (every pattern is a code: there is no other failure).
    """
    q = np.empty(HUFF_STREAMS, dtype=np.uint64)
    lim = np.empty(HUFF_STREAMS, dtype=np.uint64)
    for j in range(HUFF_STREAMS):
        q[j] = np.uint64(starts[j]) << np.uint64(3)
        lim[j] = q[j] + np.uint64(nbits[j])
    if order == 0:
        return _wide_loop(wb, q, lim, m, table, center, out, 0, ZERO, ZERO)
    out[0] = first
    if order == 1:
        return _wide_loop(wb, q, lim, m, table, center, out, 1, first, ZERO)
    out[1] = first + firstd
    return _wide_loop(wb, q, lim, m, table, center, out, 2, first + firstd, firstd)


@njit
def _running_sum(out, n):
    """``out[:n]`` becomes its running sum, in place (the inverse of a lag of 1)."""
    if n:
        total = out[0]
        for i in range(1, n):
            total += out[i]
            out[i] = total


@njit(inline="always")
def _integrate_summed(out, n, order, first, firstd):
    """As :func:`~edgekit.codec._kernels.huffman._integrate_lanes`, then a running sum, in
    one pass: the residuals of a lag block of lag 1 whose lanes are huffman-coded (third
    differences as second ones, the smooth waveforms of PCM audio and PPG)."""
    if order == 0:
        _running_sum(out, n)
        return
    out[0] = first
    total = first
    if order == 1:
        prev = first
        for i in range(ONE, np.uint64(n)):
            prev = prev + np.uint64(out[i])
            total = total + prev
            out[i] = total
        return
    prevd = firstd
    prev = first + firstd
    total = total + prev
    out[1] = total
    for i in range(TWO, np.uint64(n)):
        prevd = prevd + np.uint64(out[i])
        prev = prev + prevd
        total = total + prev
        out[i] = total


@njit
def _decode_streams(wb, starts, nbits, n, lens, table, order, center, first, firstd, out, summed):
    """Decode the four streams (laid out in ``wb`` as :func:`huff_decode_wide` wants them,
    with ``STREAM_PAD`` bytes after them unless ``table`` is not empty) into ``out[:n]``:
    with the wide decoder when ``table`` (a :func:`huff_wide_table`) is not empty, else
    with the multi-value table for blocks of ``MULTI_MIN_VALUES`` or more up to 9.5 bits a
    value, else one value a lookup. With ``summed``, ``out[:n]`` then becomes its running
    sum. Returns True, or False for a bad stream."""
    m = n - order
    if table.size:
        ok = huff_decode_wide(wb, starts, nbits, m, table, order, center, first, firstd, out)
        if ok and summed:
            _running_sum(out, n)
        return ok
    single = huff_value_table(lens, MULTI_BITS)
    if 16 * nbits.sum() > 19 * 8 * m or m < MULTI_MIN_VALUES:
        empty = np.empty(0, dtype=np.float64)
        status = huff_decode4_integrate(
            wb, starts, nbits, m, single, order, center, first, firstd, out, empty, False, 1.0, 1.0
        )
        if status == 0 and summed:
            _running_sum(out, n)
        return status == 0
    multi = huff_multi_table(single)
    if huff_decode_multi(wb, starts, nbits, m, multi, single, center, out, order) != 0:
        return False
    if summed:
        _integrate_summed(out, n, order, first, firstd)
    else:
        _integrate_lanes(out, n, order, first, firstd)
    return True


@njit
def decode_huff_lanes(buf, pos, end, n, out):
    """Parse and decode a huffman-scheme payload at ``buf[pos:end]`` into ``out[:n]``
    (uint64 lanes), with the results of
    :func:`edgekit.codec._kernels.huffman.decode_huff_block`, errors included (a
    malformed header is left to it).

    Returns ``(status, position after the payload)``.
    """
    return _huff_lanes(buf, pos, end, n, out, False)


@njit
def decode_huff_summed(buf, pos, end, n, out):
    """As :func:`decode_huff_lanes`, then ``out[:n]`` becomes its running sum (the nested
    lanes of a lag block of lag 1), fused with the residuals' integration."""
    return _huff_lanes(buf, pos, end, n, out, True)


@njit
def _fallback(buf, pos, end, n, out, summed):
    """:func:`~edgekit.codec._kernels.huffman.decode_huff_block`'s results (and a running
    sum of ``out[:n]`` with ``summed``, when it decoded)."""
    status, stop = decode_huff_block(buf, pos, end, n, out)
    if status == 0 and summed:
        _running_sum(out, n)
    return status, stop


@njit
def _huff_lanes(buf, pos, end, n, out, summed):
    """:func:`decode_huff_lanes`, with a running sum of the values when ``summed``."""
    start = pos
    if pos + 1 > end:
        return _fallback(buf, start, end, n, out, summed)
    order = np.int64(buf[pos])
    if order > 2 or n < order or pos + 1 + 8 * order + 10 > end:
        return _fallback(buf, start, end, n, out, summed)
    first, firstd, center, pos = _read_heads(buf, pos + 1, order)
    lo = np.int64(buf[pos])
    hi = np.int64(buf[pos + 1])
    pos += 2
    nb = (hi - lo + 2) // 2
    if lo > hi or hi >= HUFF_NSYM or pos + nb + 4 * HUFF_STREAMS > end:
        return _fallback(buf, start, end, n, out, summed)
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    for sym in range(lo, hi + 1):
        b = np.int64(buf[pos + (sym - lo) // 2])
        lens[sym] = (b & 15) if (sym - lo) % 2 == 0 else (b >> 4)
        if lens[sym] > HUFF_MAXLEN:
            return _fallback(buf, start, end, n, out, summed)
    kraft = 0
    for sym in range(HUFF_NSYM):
        if lens[sym]:
            kraft += 1 << (HUFF_MAXLEN - lens[sym])
    if kraft == 0 or kraft > 1 << HUFF_MAXLEN:
        return _fallback(buf, start, end, n, out, summed)
    pos += nb
    m = n - order
    starts = np.empty(HUFF_STREAMS, dtype=np.int64)
    nbits = np.empty(HUFF_STREAMS, dtype=np.int64)
    at = pos + 4 * HUFF_STREAMS
    total_bytes = 0
    for j in range(HUFF_STREAMS):
        nbits[j] = _rd32(buf, pos + 4 * j)
        count = (m - j + HUFF_STREAMS - 1) // HUFF_STREAMS
        if nbits[j] > 74 * max(count, 0):
            return _fallback(buf, start, end, n, out, summed)
        starts[j] = at + total_bytes
        total_bytes += (nbits[j] + 7) // 8
    stop = at + total_bytes
    if stop > end:
        return _fallback(buf, start, end, n, out, summed)
    # 6.5 bits a value or more, or too few values to repay a multi-value table: the
    # wide decoder, when its table applies.
    if (
        2 * nbits.sum() >= WIDE_MIN_BITS_X2 * m
        or m < MULTI_MIN_VALUES
        or _long_share(lens) >= WIDE_LONG_SHARE
    ):
        table = huff_wide_table(lens)
    else:
        table = np.zeros(0, dtype=np.uint64)
    if stop + (8 if table.size else STREAM_PAD) <= len(buf):
        view = _byte_view(buf)
        ok = _decode_streams(
            view, starts, nbits, n, lens, table, order, center, first, firstd, out, summed
        )
    else:
        wb = np.zeros(total_bytes + HUFF_STREAMS * STREAM_PAD, dtype=np.uint8)
        put = 0
        for j in range(HUFF_STREAMS):
            nbytes = (nbits[j] + 7) // 8
            copy_bytes(wb, put, buf, starts[j], nbytes)
            starts[j] = put
            put += nbytes + STREAM_PAD
        ok = _decode_streams(
            wb, starts, nbits, n, lens, table, order, center, first, firstd, out, summed
        )
    if not ok:
        return ERR_STREAM, stop
    return 0, stop
