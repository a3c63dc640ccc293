"""The huffman scheme's integer decoder: a value a table lookup, the residuals
integrated as they come, the streams read where they lie.

The direct table gives, per 12-bit pattern (the next stream bits), the residual whose code
and extra bits fit in those 12 bits, with the bits it takes; a read of a stream (57 bits)
then gives four values with one load each, and the residuals are integrated (and summed,
for a lag block of lag 1) in the same pass, straight into the output's dtype. The few
values that take more (loud audio has 3-6 % of them) are decoded from a read at
themselves, with the code length and extra-bit count the table gives for them, after a
branch that the loop is laid out not to take. It applies to complete codes (every 12-bit
pattern starts a code: no pattern to reject) whose values take at most 57 bits with their
extra bits (a read's bits); other blocks keep the decoders of ``huffman``.

Where the long values are more than a few, that branch is mispredicted at each of them
(15-20 cycles). :func:`direct_plan` weighs their share from the code lengths: from 8 %
to a half (speech: 24-35 %) takes a 13-bit table (twice the size, half as many long
values); most (float-div multiples, repeat lags) take the branch-free decoder, which
reads the stream at every value and decodes short and long ones with one formula.

For outputs of at most 16 bits the table's residuals include the block's center (modulo
2**24: their low 16 bits are exact), one addition a value less.

The streams are read where they lie in the frame when at least 8 bytes follow them in
the buffer (``STREAM_PAD`` for the other decoders, the branch-free one included: a
frame's last block has only its checksum after it), else from a zero-padded copy.
Reading past a stream's end into the next one changes nothing: a value that uses bits
past ``nbits`` leaves its stream's position past ``nbits``, which is an error whatever
those bits were.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload
from numba.np.numpy_support import carray

from edgekit._jit import njit
from edgekit.codec._format import ERR_STREAM, HUFF_MAXLEN, HUFF_NSYM, HUFF_STREAMS
from edgekit.codec._kernels.bitpack import (
    ONE,
    TWO,
    ZERO,
    _rd32,
    _read_heads,
    copy_bytes,
    likely,
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

#: Longest code plus extra bits the direct decoder takes: a long value is read at itself,
#: and a read holds at least 57 bits.
DIRECT_MAX_TAKEN = 57
#: Values a group of the direct decoder's loop takes from each stream (one read; the
#: loop's rounds are written out for 4).
DIRECT_GROUP = 4
#: The direct table's wider pattern (8192 int32 entries, 32 KB): for blocks of
#: WIDE_MIN_VALUES or more where values longer than 12 bits have a share of WIDE_SHARE or
#: more (speech: 24-35 %, each a mispredicted branch). See :func:`direct_plan`.
WIDE_BITS = 13
WIDE_SHARE = 0.08
WIDE_MIN_VALUES = 16384
#: Blocks of FREE_MIN_VALUES or more where those values have a share of FREE_SHARE or more
#: (float-div multiples, repeat lags, loud audio: most values long) take the branch-free
#: decoder, :func:`huff_decode_free`.
FREE_SHARE = 0.5
FREE_MIN_VALUES = 4096
_INDEX = np.uint64((1 << HUFF_MAXLEN) - 1)
_EIGHT = np.uint64(8)
_SIXTEEN = np.uint64(16)
_HIGH = np.uint64(32)
_BYTE = np.uint64(255)
_LOW6 = np.uint64(63)
_SPAN = 1 << 24  # the residual field of a direct entry: 24 bits


@intrinsic
def _data(typingctx, arr):
    """Pointer to the first item of a C-contiguous array (or of ``bytes``: uint8)."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        item = context.get_data_type(signature.args[0].dtype)
        return builder.bitcast(ary.data, item.as_pointer())

    return sig, codegen


@njit(inline="always")
def _byte_view(buf):
    """``buf`` (``bytes`` or a read-only uint8 array) as a plain uint8 array over the same
    memory, the type the stream decoders are compiled for (one compiled decoder for
    every buffer type). It does not own the memory: ``buf`` must outlive it."""
    return carray(_data(buf), len(buf))  # type: ignore[call-arg]


@njit
def huff_direct_table(lens, center, fold, bits=HUFF_MAXLEN):
    """Decode table of the direct decoder (int32 per ``bits``-bit pattern: 12 or
    WIDE_BITS), or an empty array when it does not apply (an incomplete code: some
    pattern starts no code; or a value taking more than ``DIRECT_MAX_TAKEN`` bits).

    A pattern that holds a whole value (code and extra bits: ``taken <= bits``) gives
    ``taken | r << 8``, ``r`` the residual minus the block's ``center`` (with ``fold``: the
    residual itself, modulo 2**24, sign-extended). Any other gives 0 in bits 0-7, then
    the code length (bits 8-11), the extra-bit count (bits 12-17) and ``top - 2`` (bit
    18): the value's zigzag form is ``top << extra_bits | extra``.
    """
    size = 1 << bits
    table = np.empty(size, dtype=np.int32)
    if not _direct_code(lens):
        return table[:0]
    codes = huff_codes(lens, HUFF_MAXLEN)
    vals = np.empty(size, dtype=np.int32)
    c = np.int64(center & np.uint64(_SPAN - 1)) if fold else 0
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln == 0:
            continue
        e, top = sym_class(sym)
        taken = ln + e
        # (unsigned indices: no negative-index check a store)
        j = np.uint64(codes[sym])
        step = np.uint64(ln)
        if taken <= bits:
            # The 2**e values of the symbol, then each pattern's (its extra bits, the
            # pattern's bits after the code, repeat every 2**e patterns).
            for x in range(1 << e):
                z = (top << e) | x
                r = (((z >> 1) ^ -(z & 1)) + c) & (_SPAN - 1)
                vals[x] = np.int32(((r ^ (_SPAN >> 1)) - (_SPAN >> 1)) << 8 | taken)
            mask = np.uint64((1 << e) - 1)
            for k in range(np.uint64(1 << (bits - ln))):
                table[j + (k << step)] = vals[k & mask]
        else:
            ent = np.int32(ln << 8 | e << 12 | (top - 2) << 18)
            for k in range(np.uint64(1 << (bits - ln))):
                table[j + (k << step)] = ent
    return table


@njit
def long_share(lens):
    """Share of a block's values (``2**-length`` a code) that take more than 12 bits with
    their extra bits: the direct decoder's branch to a read at the value."""
    share = 0.0
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln and ln + sym_class(sym)[0] > HUFF_MAXLEN:
            share += 2.0**-ln
    return share


@njit
def direct_plan(lens, m):
    """The decoder of a block of ``m`` residuals with code lengths ``lens``: 0 for the
    branch-free one (long values FREE_SHARE or more), else the direct table's pattern
    width in bits (WIDE_BITS for long values WIDE_SHARE or more, else 12)."""
    share = long_share(lens)
    if m >= FREE_MIN_VALUES and share >= FREE_SHARE:
        return 0
    if m >= WIDE_MIN_VALUES and share >= WIDE_SHARE:
        return WIDE_BITS
    return HUFF_MAXLEN


@njit
def huff_free_table(lens, narrow):
    """Decode table of the branch-free decoder (uint64 per 12-bit pattern), or an empty
    array where the direct decoder would not apply (see :func:`huff_direct_table`).

    Every entry gives the bits its value takes (bits 16-23) and the value as
    ``h << e | extra`` in zigzag form: ``e`` extra bits (bits 8-15) read after the
    code's ``s`` bits (bits 0-7), ``h`` in bits 32-63. A pattern that holds its whole value
    has ``e = 0`` and ``h`` its zigzag value. With ``narrow`` (outputs of at most 16 bits)
    ``h`` is instead the residual (``e = 0``) or ``top << (e - 1)`` modulo 2**32, so that
    the residual is ``(h | extra >> 1) ^ -(extra & 1)`` in the low bits.
    """
    size = 1 << HUFF_MAXLEN
    table = np.empty(size, dtype=np.uint64)
    if not _direct_code(lens):
        return table[:0]
    codes = huff_codes(lens, HUFF_MAXLEN)
    vals = np.empty(size, dtype=np.uint64)
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln == 0:
            continue
        e, top = sym_class(sym)
        taken = np.uint64(ln + e) << np.uint64(16)
        j = np.uint64(codes[sym])
        step = np.uint64(ln)
        if ln + e <= HUFF_MAXLEN:
            for x in range(1 << e):
                z = (top << e) | x
                h = (((z >> 1) ^ -(z & 1)) & 0xFFFFFFFF) if narrow else z
                vals[x] = np.uint64(h) << np.uint64(32) | taken
            mask = np.uint64((1 << e) - 1)
            for k in range(np.uint64(1 << (HUFF_MAXLEN - ln))):
                table[j + (k << step)] = vals[k & mask]
        else:
            h = ((top << (e - 1)) & 0xFFFFFFFF) if narrow else top
            ent = np.uint64(h) << np.uint64(32) | taken | np.uint64(e << 8 | ln)
            for k in range(np.uint64(1 << (HUFF_MAXLEN - ln))):
                table[j + (k << step)] = ent
    return table


@njit
def _direct_code(lens):
    """Whether a code is complete (every 12-bit pattern starts a code) with no value over
    ``DIRECT_MAX_TAKEN`` bits: the direct and branch-free decoders' condition."""
    kraft = 0
    for sym in range(HUFF_NSYM):
        ln = lens[sym]
        if ln == 0:
            continue
        if ln > HUFF_MAXLEN or ln + sym_class(sym)[0] > DIRECT_MAX_TAKEN:
            return False
        kraft += 1 << (HUFF_MAXLEN - ln)
    return kraft == 1 << HUFF_MAXLEN


@intrinsic
def _load_entry(typingctx, ptr, at):
    """The int32 at index ``at`` of a pointer, sign-extended to int64."""
    sig = types.int64(ptr, at)

    def codegen(context, builder, signature, args):
        return builder.sext(builder.load(builder.gep(args[0], [args[1]])), ir.IntType(64))

    return sig, codegen


@intrinsic
def _load_word(typingctx, ptr, at):
    """The item at index ``at`` of a uint64 pointer."""
    sig = types.uint64(ptr, at)

    def codegen(context, builder, signature, args):
        return builder.load(builder.gep(args[0], [args[1]]))

    return sig, codegen


@intrinsic
def _load_bits(typingctx, ptr, at):
    """The little-endian uint64 at byte ``at`` of a uint8 pointer (one unaligned load)."""
    sig = types.uint64(ptr, at)

    def codegen(context, builder, signature, args):
        at_byte = builder.gep(args[0], [args[1]])
        return builder.load(builder.bitcast(at_byte, ir.IntType(64).as_pointer()), align=1)

    return sig, codegen


@intrinsic
def _narrow_type(typingctx, arr):
    """Whether an integer array holds at most 16 bits a value: a constant of its type."""
    sig = types.boolean(arr)

    def codegen(context, builder, signature, args):
        return ir.Constant(ir.IntType(1), int(signature.args[0].dtype.bitwidth <= 16))

    return sig, codegen


# (the intrinsics are called through these helpers: one place for mypy's ignores)


@njit
def _entry(tp, at):
    """The direct table entry at index ``at`` of the table at ``tp``."""
    return _load_entry(tp, at)  # type: ignore[call-arg]


@njit
def _word(tp, at):
    """The branch-free table entry at index ``at`` of the table at ``tp``."""
    return _load_word(tp, at)  # type: ignore[call-arg]


@njit
def _narrow(out):
    """Whether ``out`` holds at most 16 bits a value (a constant of its type)."""
    return _narrow_type(out)  # type: ignore[call-arg]


@njit
def _pointers(wb, table):
    """Pointers to the stream bytes and to the direct table."""
    return _data(wb), _data(table)  # type: ignore[call-arg]


# The helpers of the direct decoder's loop take pointers and numbers only (no array: no
# reference counting) and are left to LLVM to inline: numba's own inlining of them in
# each of the loop's six copies took a minute to compile.


@njit
def _bits(wp, q):
    """At least 57 stream bits from bit ``q`` of the bytes at ``wp``."""
    return _load_bits(wp, q >> np.uint64(3)) >> (q & np.uint64(7))  # type: ignore[call-arg]


@njit
def _long_value(b, e, center):
    """The residual whose code starts at bit 0 of ``b``, from its table entry ``e`` (a
    value longer than the table's 12 bits), and the bits it takes."""
    ln = np.uint64((e >> 8) & 15)
    extra = np.uint64((e >> 12) & 63)
    top = np.uint64(((e >> 18) & 1) + 2)
    z = (top << extra) | ((b >> ln) & ((ONE << extra) - ONE))
    return center + ((z >> ONE) ^ (ZERO - (z & ONE))), ln + extra


@njit
def _next(wp, b, acc, q, lim, tp, tmask, center, add):
    """The next residual of a stream whose bits from its last read are ``b``.

    ``acc`` sums the table entries of the values taken since that read (its low byte:
    their bits); ``q`` is that read's bit position; ``add`` is the center where the
    table left it out, else 0. Returns (residual, bits, acc, q). A long value reads the
    stream at itself and again after itself (at ``lim`` at most: a position past it is an
    error the caller reports)."""
    e = _entry(tp, b & tmask)
    if likely((e & 255) != 0):
        # (the shift uses the entry's low 6 bits: its bit count, at most 12)
        return add + np.uint64(e >> 8), b >> (np.uint64(e) & _LOW6), acc + np.uint64(e), q
    # (from a read at the value itself: the bits left of the group's read may be fewer
    # than the value takes)
    q = q + (acc & _BYTE)
    r, taken = _long_value(_bits(wp, min(q, lim)), e, center)
    q = q + taken
    return r, _bits(wp, min(q, lim)), ZERO, q


@njit
def _integrate(r, order, summed, prev, prevd, total):
    """Residual ``r`` integrated ``order`` times (then summed once more with ``summed``):
    (value, state)."""
    if order == 0:
        v = r
    elif order == 1:
        prev = prev + r
        v = prev
    else:
        prevd = prevd + r
        prev = prev + prevd
        v = prev
    if summed:
        total = total + v
        v = total
    return v, prev, prevd, total


@njit(inline="always")
def _direct_loop(wp, q, lim, m, tp, tmask, center, add, out, order, summed, prev, prevd, total):
    """The loop of :func:`huff_decode_direct` for one residual ``order`` and ``summed``
    (constants of each inlined copy)."""
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    l0, l1, l2, l3 = lim[0], lim[1], lim[2], lim[3]
    o = np.uint64(order)
    per = DIRECT_GROUP * HUFF_STREAMS
    for _g in range(m // per):
        if (q0 > l0) | (q1 > l1) | (q2 > l2) | (q3 > l3):
            return False
        b0 = _bits(wp, q0)
        b1 = _bits(wp, q1)
        b2 = _bits(wp, q2)
        b3 = _bits(wp, q3)
        a0 = ZERO
        a1 = ZERO
        a2 = ZERO
        a3 = ZERO
        # (written out: a loop over the four rounds kept its state in a permutation of
        # registers that cost about 30 moves a round in some callers)
        r, b0, a0, q0 = _next(wp, b0, a0, q0, l0, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(0)] = v
        r, b1, a1, q1 = _next(wp, b1, a1, q1, l1, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(1)] = v
        r, b2, a2, q2 = _next(wp, b2, a2, q2, l2, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(2)] = v
        r, b3, a3, q3 = _next(wp, b3, a3, q3, l3, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(3)] = v
        r, b0, a0, q0 = _next(wp, b0, a0, q0, l0, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(4)] = v
        r, b1, a1, q1 = _next(wp, b1, a1, q1, l1, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(5)] = v
        r, b2, a2, q2 = _next(wp, b2, a2, q2, l2, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(6)] = v
        r, b3, a3, q3 = _next(wp, b3, a3, q3, l3, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(7)] = v
        r, b0, a0, q0 = _next(wp, b0, a0, q0, l0, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(8)] = v
        r, b1, a1, q1 = _next(wp, b1, a1, q1, l1, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(9)] = v
        r, b2, a2, q2 = _next(wp, b2, a2, q2, l2, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(10)] = v
        r, b3, a3, q3 = _next(wp, b3, a3, q3, l3, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(11)] = v
        r, b0, a0, q0 = _next(wp, b0, a0, q0, l0, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(12)] = v
        r, b1, a1, q1 = _next(wp, b1, a1, q1, l1, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(13)] = v
        r, b2, a2, q2 = _next(wp, b2, a2, q2, l2, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(14)] = v
        r, b3, a3, q3 = _next(wp, b3, a3, q3, l3, tp, tmask, center, add)
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[o + np.uint64(15)] = v
        o += np.uint64(DIRECT_GROUP * HUFF_STREAMS)
        q0 += a0 & _BYTE
        q1 += a1 & _BYTE
        q2 += a2 & _BYTE
        q3 += a3 & _BYTE
    q[0], q[1], q[2], q[3] = q0, q1, q2, q3
    # The last values (fewer than a group), one read each, checked before it.
    for i in range(m - m % per, m):
        j = i & 3
        if q[j] > lim[j]:
            return False
        b = _bits(wp, q[j])
        e = _entry(tp, b & tmask)
        if e & 255:
            r = add + np.uint64(e >> 8)
            q[j] += np.uint64(e & 255)
        else:
            r, taken = _long_value(b, e, center)
            q[j] += taken
        v, prev, prevd, total = _integrate(r, order, summed, prev, prevd, total)
        out[np.uint64(i + order)] = v
    return (q[0] <= lim[0]) & (q[1] <= lim[1]) & (q[2] <= lim[2]) & (q[3] <= lim[3])


@njit
def huff_decode_direct(wb, starts, nbits, m, table, order, center, first, firstd, out, summed):
    """Decode ``m`` residuals of 4 interleaved streams into ``out`` (``m + order`` values
    of any integer dtype: the low bits of sums modulo 2**64), integrated ``order`` times
    from the heads ``first`` and ``firstd``; with ``summed``, the running sum of those.

    Stream ``j`` starts at byte ``starts[j]`` of the uint8 array ``wb`` and holds
    ``nbits[j]`` bits, followed by at least 8 bytes of ``wb``. ``table`` is a non-empty
    :func:`huff_direct_table` of the block's center, folded where ``out`` has at most 16
    bits a value. Returns True, or False when a stream would take more than its
    ``nbits`` (every pattern is a code: there is no other failure).
    """
    q, lim = _positions(starts, nbits)
    wp, tp = _pointers(wb, table)
    add = ZERO if _narrow(out) else center
    tmask = np.uint64(table.size - 1)
    # (four copies of the loop: the lag blocks of lag 1 the encoder writes nest order 2;
    # other orders are summed in a pass of their own)
    if order == 2 and summed:
        second = first + firstd
        out[0] = first
        out[1] = first + second
        return _direct_loop(
            wp, q, lim, m, tp, tmask, center, add, out, 2, True, second, firstd, first + second
        )
    if order == 0:
        ok = _direct_loop(wp, q, lim, m, tp, tmask, center, add, out, 0, False, ZERO, ZERO, ZERO)
    elif order == 1:
        out[0] = first
        ok = _direct_loop(wp, q, lim, m, tp, tmask, center, add, out, 1, False, first, ZERO, ZERO)
    else:
        out[0] = first
        out[1] = first + firstd
        ok = _direct_loop(
            wp, q, lim, m, tp, tmask, center, add, out, 2, False, first + firstd, firstd, ZERO
        )
    if ok and summed:
        _running_sum(out, m + order)
    return ok


@njit
def _free_value(wp, tp, q, narrow):
    """The residual (less the center) of the value at bit ``q`` of a stream, and the bit
    after it, with no branch (an entry of :func:`huff_free_table`)."""
    b = _bits(wp, q)
    e = _word(tp, b & _INDEX)
    x = (b >> (e & _LOW6)) & ((ONE << ((e >> _EIGHT) & _BYTE)) - ONE)
    if narrow:
        r = ((e >> _HIGH) | (x >> ONE)) ^ (ZERO - (x & ONE))
    else:
        z = ((e >> _HIGH) << ((e >> _EIGHT) & _BYTE)) | x
        r = (z >> ONE) ^ (ZERO - (z & ONE))
    return r, q + ((e >> _SIXTEEN) & _BYTE)


@njit(inline="always")
def _free_loop(wp, q, lim, m, tp, center, out, order, summed, prev, prevd, total, narrow):
    """The loop of :func:`huff_decode_free` for one residual ``order``, ``summed`` and
    ``narrow`` (constants of each inlined copy): a stream read at each value, the four
    streams' positions checked every four of their values."""
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    l0, l1, l2, l3 = lim[0], lim[1], lim[2], lim[3]
    o = np.uint64(order)
    per = DIRECT_GROUP * HUFF_STREAMS
    for _g in range(m // per):
        if (q0 > l0) | (q1 > l1) | (q2 > l2) | (q3 > l3):
            return False
        for _k in range(DIRECT_GROUP):
            r0, q0 = _free_value(wp, tp, q0, narrow)
            r1, q1 = _free_value(wp, tp, q1, narrow)
            r2, q2 = _free_value(wp, tp, q2, narrow)
            r3, q3 = _free_value(wp, tp, q3, narrow)
            v, prev, prevd, total = _integrate(r0 + center, order, summed, prev, prevd, total)
            out[o] = v
            v, prev, prevd, total = _integrate(r1 + center, order, summed, prev, prevd, total)
            out[o + ONE] = v
            v, prev, prevd, total = _integrate(r2 + center, order, summed, prev, prevd, total)
            out[o + TWO] = v
            v, prev, prevd, total = _integrate(r3 + center, order, summed, prev, prevd, total)
            out[o + np.uint64(3)] = v
            o += np.uint64(HUFF_STREAMS)
    q[0], q[1], q[2], q[3] = q0, q1, q2, q3
    # The last values (fewer than a group), each checked before its read.
    for i in range(m - m % per, m):
        j = i & 3
        if q[j] > lim[j]:
            return False
        r, qj = _free_value(wp, tp, q[j], narrow)
        q[j] = qj
        v, prev, prevd, total = _integrate(r + center, order, summed, prev, prevd, total)
        out[np.uint64(i + order)] = v
    return (q[0] <= lim[0]) & (q[1] <= lim[1]) & (q[2] <= lim[2]) & (q[3] <= lim[3])


@njit
def huff_decode_free(wb, starts, nbits, m, table, order, center, first, firstd, out, summed):
    """As :func:`huff_decode_direct` with a :func:`huff_free_table` (built ``narrow``
    where ``out`` has at most 16 bits a value), for blocks of mostly long values: each
    value is read at itself and decoded by one formula, long or not, with no branch to
    mispredict. ``wb`` has at least ``STREAM_PAD`` bytes after the streams (a group's
    reads go up to 3 values past a stream's end before its check)."""
    q, lim = _positions(starts, nbits)
    wp, tp = _pointers(wb, table)
    narrow = _narrow(out)
    if order == 2 and summed:
        second = first + firstd
        out[0] = first
        out[1] = first + second
        return _free_loop(
            wp, q, lim, m, tp, center, out, 2, True, second, firstd, first + second, narrow
        )
    if order == 0:
        ok = _free_loop(wp, q, lim, m, tp, center, out, 0, False, ZERO, ZERO, ZERO, narrow)
    elif order == 1:
        out[0] = first
        ok = _free_loop(wp, q, lim, m, tp, center, out, 1, False, first, ZERO, ZERO, narrow)
    else:
        out[0] = first
        out[1] = first + firstd
        ok = _free_loop(
            wp, q, lim, m, tp, center, out, 2, False, first + firstd, firstd, ZERO, narrow
        )
    if ok and summed:
        _running_sum(out, m + order)
    return ok


@njit
def _positions(starts, nbits):
    """Each stream's first bit and the bit after its last (uint64 arrays)."""
    q = np.empty(HUFF_STREAMS, dtype=np.uint64)
    lim = np.empty(HUFF_STREAMS, dtype=np.uint64)
    for j in range(HUFF_STREAMS):
        q[j] = np.uint64(starts[j]) << np.uint64(3)
        lim[j] = q[j] + np.uint64(nbits[j])
    return q, lim


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
def _decode_streams(
    wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
):
    """Decode the four streams (laid out in ``wb`` as :func:`huff_decode_direct` wants
    them, with ``STREAM_PAD`` bytes after them unless ``table`` is not empty) into
    ``out[:n]``: with the branch-free decoder when ``free`` (a :func:`huff_free_table`)
    is not empty, with the direct decoder when ``table`` (a :func:`huff_direct_table`) is
    not empty, else with the multi-value table for blocks of ``MULTI_MIN_VALUES`` or more
    up to 9.5 bits a value, else one value a lookup. With ``summed``, ``out[:n]`` then
    becomes its running sum. Returns True, or False for a bad stream."""
    m = n - order
    if free.size:
        return huff_decode_free(
            wb, starts, nbits, m, free, order, center, first, firstd, out, summed
        )
    if table.size:
        return huff_decode_direct(
            wb, starts, nbits, m, table, order, center, first, firstd, out, summed
        )
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


# The int16 frames' decoders (their own compiled chain, see ``series``) take only the
# direct decoder into int16; the other decoders, rare there, go through uint64 lanes, so
# that the int16 chain compiles none of them (each narrow copy of them cost tens of
# seconds of compilation on a cold cache). ``overload`` picks the code by ``out``'s type.


def _fallback_into(buf, pos, end, n, out, summed):  # pragma: no cover (compiled only)
    """:func:`_fallback` into ``out`` (narrow dtypes through uint64 lanes)."""
    raise NotImplementedError


def _streams_into(
    wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
):  # pragma: no cover
    """:func:`_decode_streams` into ``out`` (narrow dtypes: the branch-free or direct
    decoder, else through uint64 lanes)."""
    raise NotImplementedError


@overload(_fallback_into, jit_options={"nogil": True})
def _fallback_into_impl(buf, pos, end, n, out, summed):
    if out.dtype.bitwidth > 16:
        return lambda buf, pos, end, n, out, summed: _fallback(buf, pos, end, n, out, summed)

    def narrow(buf, pos, end, n, out, summed):
        lanes = np.empty(n, dtype=np.uint64)
        status, stop = _fallback(buf, pos, end, n, lanes, summed)
        if status == 0:
            for i in range(n):
                out[i] = lanes[i]
        return status, stop

    return narrow


@overload(_streams_into, jit_options={"nogil": True})
def _streams_into_impl(
    wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
):
    if out.dtype.bitwidth > 16:

        def wide(
            wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
        ):
            return _decode_streams(
                wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
            )

        return wide

    def narrow(wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed):
        m = n - order
        if free.size:
            return huff_decode_free(
                wb, starts, nbits, m, free, order, center, first, firstd, out, summed
            )
        if table.size:
            return huff_decode_direct(
                wb, starts, nbits, m, table, order, center, first, firstd, out, summed
            )
        lanes = np.empty(n, dtype=np.uint64)
        ok = _decode_streams(
            wb, starts, nbits, n, lens, table, free, order, center, first, firstd, lanes, summed
        )
        if ok:
            for i in range(n):
                out[i] = lanes[i]
        return ok

    return narrow


@njit
def _huff_lanes(buf, pos, end, n, out, summed):
    """:func:`decode_huff_lanes`, with a running sum of the values when ``summed``."""
    start = pos
    if pos + 1 > end:
        return _fallback_into(buf, start, end, n, out, summed)
    order = np.int64(buf[pos])
    if order > 2 or n < order or pos + 1 + 8 * order + 10 > end:
        return _fallback_into(buf, start, end, n, out, summed)
    first, firstd, center, pos = _read_heads(buf, pos + 1, order)
    lo = np.int64(buf[pos])
    hi = np.int64(buf[pos + 1])
    pos += 2
    nb = (hi - lo + 2) // 2
    if lo > hi or hi >= HUFF_NSYM or pos + nb + 4 * HUFF_STREAMS > end:
        return _fallback_into(buf, start, end, n, out, summed)
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    for sym in range(lo, hi + 1):
        b = np.int64(buf[pos + (sym - lo) // 2])
        lens[sym] = (b & 15) if (sym - lo) % 2 == 0 else (b >> 4)
        if lens[sym] > HUFF_MAXLEN:
            return _fallback_into(buf, start, end, n, out, summed)
    kraft = 0
    for sym in range(HUFF_NSYM):
        if lens[sym]:
            kraft += 1 << (HUFF_MAXLEN - lens[sym])
    if kraft == 0 or kraft > 1 << HUFF_MAXLEN:
        return _fallback_into(buf, start, end, n, out, summed)
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
            return _fallback_into(buf, start, end, n, out, summed)
        starts[j] = at + total_bytes
        total_bytes += (nbits[j] + 7) // 8
    stop = at + total_bytes
    if stop > end:
        return _fallback_into(buf, start, end, n, out, summed)
    plan = direct_plan(lens, m)
    free = np.empty(0, dtype=np.uint64)
    table = np.empty(0, dtype=np.int32)
    if plan == 0:
        free = huff_free_table(lens, _narrow(out))
    else:
        table = huff_direct_table(lens, center, _narrow(out), plan)
    if stop + (8 if table.size else STREAM_PAD) <= len(buf):
        view = _byte_view(buf)
        ok = _streams_into(
            view, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
        )
    else:
        wb = np.zeros(total_bytes + HUFF_STREAMS * STREAM_PAD, dtype=np.uint8)
        put = 0
        for j in range(HUFF_STREAMS):
            nbytes = (nbits[j] + 7) // 8
            copy_bytes(wb, put, buf, starts[j], nbytes)
            starts[j] = put
            put += nbytes + STREAM_PAD
        ok = _streams_into(
            wb, starts, nbits, n, lens, table, free, order, center, first, firstd, out, summed
        )
    if not ok:
        return ERR_STREAM, stop
    return 0, stop
