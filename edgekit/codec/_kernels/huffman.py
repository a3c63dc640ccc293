"""The Huffman stage over zigzag residuals: symbols, length-limited canonical codes, four
interleaved streams (encoder, decoders and the huffman-scheme payload).

Decoders that read untrusted bytes never index out of bounds: the callers validate sizes
first, and the bit readers stop at the end of their stream and report an error code.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import (
    ERR_KRAFT,
    ERR_ORDER,
    ERR_SHORT,
    ERR_STREAM,
    ERR_STREAM_LENGTH,
    ERR_SYMBOLS,
    HUFF_MAXLEN,
    HUFF_NSYM,
    HUFF_STREAMS,
)
from edgekit.codec._kernels.bitpack import (
    ALL,
    FOUR,
    ONE,
    SIGN,
    SIX,
    SIXTY_FOUR,
    SIXTY_THREE,
    THREE,
    TWO,
    ZERO,
    _mask,
    _put64,
    _rd32,
    _read_heads,
    bitlen,
    copy_bytes,
    even_next,
    load_u64,
    residuals,
    third_residuals,
)

#: Index bits of the multi-value decode table (the longest code: one lookup always
#: identifies the next code).
MULTI_BITS = 12
MULTI_MASK = np.uint64((1 << MULTI_BITS) - 1)
#: Fewest residuals of a block decoded with the multi-value table (fewer: one value a
#: lookup, which needs no table of its own).
MULTI_MIN_VALUES = 8192
#: Zero bytes after each stream in the decoder's copy of the streams: a read at a bit
#: position up to the stream's ``nbits`` (and its extra bits, up to 74 bits later) stays
#: inside the copy.
STREAM_PAD = 32


@njit
def _symbol(z):
    """Symbol and extra-bit count of a zigzag value (see the format spec)."""
    if z < np.uint64(8):
        return np.int64(z), 0
    L = bitlen(z)
    sub = np.int64((z >> np.uint64(L - 2)) & ONE)
    return 8 + (L - 4) * 2 + sub, L - 2


@njit(inline="always")
def sym_class(sym):
    """``(extra_bits, top)`` of a symbol: its values are ``top << extra_bits | extra``
    (the inverse of :func:`_symbol`)."""
    if sym < 8:
        return 0, sym
    return (sym - 8) // 2 + 2, 2 | ((sym - 8) & 1)


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
    """Plain Huffman code lengths: the two lightest nodes merged first, ties to the lower
    index (symbols first, then merged nodes in the order they were made). Two queues:
    the symbols sorted by count and the merged nodes, which come out in order of
    weight: O(n log n), where a scan of every node for each merge took 15-20 us on a
    block of 60 symbols (a fixed cost of every Huffman candidate)."""
    nsym = counts.size
    for s in range(nsym):
        lens[s] = 0
    used = np.flatnonzero(counts > 0)
    k = used.size
    if k == 0:
        return
    if k == 1:
        lens[used[0]] = 1
        return
    # (a stable sort: equal counts stay in symbol order)
    leaves = used[np.argsort(counts[used], kind="mergesort")]
    weight = np.empty(k - 1, dtype=np.int64)  # merged node j
    parent = np.empty(nsym + k - 1, dtype=np.int64)  # symbols, then merged nodes + nsym
    li = 0  # next leaf
    mi = 0  # next merged node
    for j in range(k - 1):
        for pick in range(2):
            # the lighter head; a symbol where they weigh the same (its index is lower)
            if li < k and (mi >= j or counts[leaves[li]] <= weight[mi]):
                node = leaves[li]
                w = counts[node]
                li += 1
            else:
                node = nsym + mi
                w = weight[mi]
                mi += 1
            parent[node] = nsym + j
            if pick == 0:
                weight[j] = w
            else:
                weight[j] += w
    # depths: the root is the last merged node; parents come after their children
    depth = np.empty(k - 1, dtype=np.int64)
    depth[k - 2] = 0
    for j in range(k - 3, -1, -1):
        depth[j] = depth[parent[nsym + j] - nsym] + 1
    for sym in used:
        lens[sym] = depth[parent[sym] - nsym] + 1


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
                pos, acc, nacc = _flush32(out, pos, acc, nacc)
                acc |= (extra & m32) << np.uint64(nacc)
                nacc += 32
                extra >>= np.uint64(32)
                e -= 32
            pos, acc, nacc = _flush32(out, pos, acc, nacc)
            acc |= extra << np.uint64(nacc)
            nacc += e
        pos, acc, nacc = _flush32(out, pos, acc, nacc)
    nbits = pos * 8 + nacc
    while nacc > 0:
        out[pos] = np.uint8(acc & np.uint64(0xFF))
        pos += 1
        acc >>= np.uint64(8)
        nacc -= 8
    return out[:pos], nbits


_EIGHT = np.uint64(8)


@njit(inline="always")
def symbol_of(z):
    """The symbol of a zigzag value (as :func:`_symbol`) without a branch: values below 8
    and above are equally common in the residuals of audio or a PPG, and a branch on
    which they are mispredicted a third of the time (half the Huffman stage's counting
    time on data the predictor has not seen)."""
    L = bitlen(z | ONE)
    big = L + L + np.int64((z >> np.uint64(L - 2)) & ONE)
    small = -np.int64(z < _EIGHT)  # all ones where z < 8
    return big ^ ((big ^ np.int64(z)) & small)


#: Rows of :func:`byte_rows` (one per value of four in turn: consecutive equal values do
#: not wait on each other's increment), and the width of :func:`count_symbols`' rows.
_TABLES = 4
_TABLE = 136


@njit
def byte_rows(a, width):
    """The counts of the values of ``a`` (uint8, each below ``width``) in four rows of
    ``width`` (row ``r``: the values at ``i % 4 == r``), back to back (int64): in a pass
    of their own, four rows so that a run of one value does not wait on each increment
    (an increment made in the pass that finds its value waits on it)."""
    n = a.size
    rows = np.zeros(_TABLES * width, dtype=np.int64)
    full = n // _TABLES * _TABLES
    for i in range(0, full, _TABLES):
        rows[np.int64(a[i])] += 1
        rows[width + np.int64(a[i + 1])] += 1
        rows[2 * width + np.int64(a[i + 2])] += 1
        rows[3 * width + np.int64(a[i + 3])] += 1
    for i in range(full, n):
        rows[(i % _TABLES) * width + np.int64(a[i])] += 1
    return rows


@njit
def count_symbols(syms):
    """The counts of each of the HUFF_NSYM symbols in ``syms`` (uint8), in a pass of its
    own (:func:`byte_rows`)."""
    rows = byte_rows(syms, _TABLE)
    counts = np.zeros(HUFF_NSYM, dtype=np.int64)
    for s in range(HUFF_NSYM):
        counts[s] = rows[s] + rows[_TABLE + s] + rows[2 * _TABLE + s] + rows[3 * _TABLE + s]
    return counts


def _symbol_table(bits: int) -> np.ndarray:
    """The symbol of each zigzag value below ``2**bits`` (uint8), as :func:`_symbol`."""
    z = np.arange(1 << bits, dtype=np.int64)
    length = np.floor(np.log2(np.maximum(z, 1))).astype(np.int64) + 1  # (exact below 2**52)
    big = 8 + (length - 4) * 2 + ((z >> np.maximum(length - 2, 0)) & 1)
    return np.where(z < 8, z, big).astype(np.uint8)


#: :func:`symbol_counts` looks the symbols of zigzag values below ``2**SMALL_BITS`` up in
#: a table (4 KB): the values the table encoder takes (TABLE_MAX_SYMBOL).
SMALL_BITS = 12
_SMALL = np.uint64((1 << SMALL_BITS) - 1)
_SMALL_CHECK = 255  # (a wide value is looked for every 256 values)
_SMALL_PROBES = 64  # (and first among this many evenly spaced ones)
_SYMBOL_OF_SMALL = _symbol_table(SMALL_BITS)


@njit
def _small_counts(r, center):
    """The symbol counts of the zigzag values of the residuals ``r`` around ``center``,
    or an empty array where one is ``2**SMALL_BITS`` or more (looked for among 64 evenly
    spaced values first, then every 256 values):
    a table lookup a value and four rows of counts, in one pass (computing the symbols,
    storing them and counting them took 23.6 us for a PPG's 15,000 third differences,
    this 13.2)."""
    n = r.size
    big = ZERO
    step = max(n // _SMALL_PROBES, 1)
    for i in range(0, n, step):  # (a wide value among evenly spaced ones: no pass)
        big |= _zigzag_at(r, i, center)
    if big > _SMALL:
        return np.zeros(0, dtype=np.int64)
    rows = np.zeros(4 * _TABLE, dtype=np.int64)
    full = n // 4 * 4
    for i in range(0, full, 4):
        z0 = _zigzag_at(r, i, center)
        z1 = _zigzag_at(r, i + 1, center)
        z2 = _zigzag_at(r, i + 2, center)
        z3 = _zigzag_at(r, i + 3, center)
        big |= z0 | z1 | z2 | z3
        rows[np.int64(_SYMBOL_OF_SMALL[z0 & _SMALL])] += 1
        rows[_TABLE + np.int64(_SYMBOL_OF_SMALL[z1 & _SMALL])] += 1
        rows[2 * _TABLE + np.int64(_SYMBOL_OF_SMALL[z2 & _SMALL])] += 1
        rows[3 * _TABLE + np.int64(_SYMBOL_OF_SMALL[z3 & _SMALL])] += 1
        if (i & _SMALL_CHECK) == 0 and big > _SMALL:
            return np.zeros(0, dtype=np.int64)  # (loud audio, far lags: found early)
    for i in range(full, n):
        z = _zigzag_at(r, i, center)
        big |= z
        rows[np.int64(_SYMBOL_OF_SMALL[z & _SMALL])] += 1
    if big > _SMALL:
        return np.zeros(0, dtype=np.int64)
    counts = np.zeros(HUFF_NSYM, dtype=np.int64)
    for s in range(HUFF_NSYM):
        counts[s] = rows[s] + rows[_TABLE + s] + rows[2 * _TABLE + s] + rows[3 * _TABLE + s]
    return counts


@njit
def symbol_counts(r, center):
    """The counts of the Huffman symbols of the zigzag values of the residuals ``r``
    around ``center`` (:func:`_small_counts`, else :func:`huff_symbols`')."""
    counts = _small_counts(r, center)
    if counts.size == 0:
        _syms, counts = huff_symbols(r, center)
    return counts


@njit
def huff_symbols(r, center):
    """The symbols of the zigzag values of the residuals ``r`` around ``center`` (uint8)
    and their counts."""
    n = r.size
    syms = np.empty(n, dtype=np.uint8)
    for i in range(n):
        d = r[i] - center
        syms[i] = np.uint8(symbol_of((d << ONE) ^ (ZERO - (d >> np.uint64(63)))))
    return syms, count_symbols(syms)


@njit
def huff_prepare(r, center):
    """As :func:`huff_symbols`, with the zigzag values too: ``(z, syms, counts)``."""
    n = r.size
    z = np.empty(n, dtype=np.uint64)
    syms = np.empty(n, dtype=np.uint8)
    for i in range(n):
        d = r[i] - center
        zi = (d << ONE) ^ (ZERO - (d >> np.uint64(63)))
        z[i] = zi
        syms[i] = np.uint8(symbol_of(zi))
    return z, syms, count_symbols(syms)


@njit
def _flush32(out, pos, acc, nacc):
    """With 32 bits or more in ``acc`` (``nacc`` bits), write its low 32 bits at ``out[pos]``
    (little-endian); returns the new ``(pos, acc, nacc)``."""
    if nacc < 32:
        return pos, acc, nacc
    w = acc & np.uint64(0xFFFFFFFF)
    out[pos] = np.uint8(w & np.uint64(0xFF))
    out[pos + 1] = np.uint8((w >> np.uint64(8)) & np.uint64(0xFF))
    out[pos + 2] = np.uint8((w >> np.uint64(16)) & np.uint64(0xFF))
    out[pos + 3] = np.uint8(w >> np.uint64(24))
    return pos + 4, acc >> np.uint64(32), nacc - 32


_M32 = np.uint64(0xFFFFFFFF)
_THIRTY_TWO = np.uint64(32)
_FIVE = np.uint64(5)


@njit(inline="always")
def _put32(buf, w, acc, nacc, v, ln):
    """Append the ``ln`` (at most 32) low bits of ``v`` (no higher bits set) to a stream of
    32-bit words: ``acc`` holds the ``nacc`` (< 32) bits of ``buf[w]`` so far. Branch-free:
    the word is always stored, and ``w`` moves on when it is full. Returns the new
    ``(w, acc, nacc)``."""
    acc |= v << nacc
    nacc += ln
    buf[w] = np.uint32(acc & _M32)
    full = nacc >> _FIVE
    return w + full, acc >> (full << _FIVE), nacc - (full << _FIVE)


#: A symbol's entry for :func:`_put_value`: its code in the low 32 bits, the code's length
#: from bit 32 and its extra bits' count from bit 40 (one load a value where three arrays
#: took three: the symbol encoder 5 % faster).
_CODE_MASK = np.uint64(0xFFFFFFFF)
_LEN_AT = np.uint64(32)
_EXTRA_AT = np.uint64(40)
_BYTE = np.uint64(255)


@njit
def symbol_entries(codes, lens):
    """Each symbol's entry for :func:`_put_value` (uint64) from its code and length."""
    out = np.empty(lens.size, dtype=np.uint64)
    for s in range(lens.size):
        e, _top = sym_class(s)
        out[s] = np.uint64(codes[s]) | (np.uint64(lens[s]) << _LEN_AT) | (np.uint64(e) << _EXTRA_AT)
    return out


@njit(inline="always")
def _put_value(buf, w, acc, nacc, zi, ent):
    """Append one value's code and extra bits (``zi`` zigzag value, ``ent`` its symbol's
    entry, :func:`symbol_entries`)."""
    ln = (ent >> _LEN_AT) & _BYTE
    e = ent >> _EXTRA_AT
    extra = zi & ((ONE << e) - ONE)
    if ln + e <= _THIRTY_TWO:  # the common case: code and extra bits in one shift
        return _put32(buf, w, acc, nacc, (ent & _CODE_MASK) | (extra << ln), ln + e)
    w, acc, nacc = _put32(buf, w, acc, nacc, ent & _CODE_MASK, ln)
    if e > _THIRTY_TWO:
        w, acc, nacc = _put32(buf, w, acc, nacc, extra & _M32, _THIRTY_TWO)
        extra >>= _THIRTY_TWO
        e -= _THIRTY_TWO
    return _put32(buf, w, acc, nacc, extra, e)


@njit(inline="always")
def _zigzag_at(r, i, center):
    """The zigzag value of ``r[i] - center``."""
    d = r[i] - center
    return (d << ONE) ^ (ZERO - (d >> np.uint64(63)))


@njit(inline="always")
def _stream_words(bits):
    """The words of four streams of at most ``bits`` bits each, their capacity and each
    stream's first word (a writer always stores the word past its end; a value of over
    32 bits takes three stores)."""
    cap = np.uint64(bits // 32 + 4)
    buf = np.empty(HUFF_STREAMS * np.int64(cap), dtype=np.uint32)
    return buf, cap, ZERO, cap, cap + cap, cap + cap + cap


@njit(inline="always")
def _put_pair(buf, w, acc, nacc, r, syms, ent, i, center):
    """Append the values ``i`` and ``i + 4`` of the residuals ``r`` around ``center`` (a
    stream's next two; ``syms``: their symbols, ``ent``: the symbols' entries): in one
    shift where both codes and extra bits fit in 32 bits."""
    z1 = _zigzag_at(r, i, center)
    z2 = _zigzag_at(r, i + 4, center)
    ent1 = ent[syms[i]]
    ent2 = ent[syms[i + 4]]
    ln1 = (ent1 >> _LEN_AT) & _BYTE
    e1 = ent1 >> _EXTRA_AT
    ln2 = (ent2 >> _LEN_AT) & _BYTE
    e2 = ent2 >> _EXTRA_AT
    t1 = ln1 + e1
    if t1 + ln2 + e2 <= _THIRTY_TWO:
        v1 = (ent1 & _CODE_MASK) | ((z1 & ((ONE << e1) - ONE)) << ln1)
        v2 = (ent2 & _CODE_MASK) | ((z2 & ((ONE << e2) - ONE)) << ln2)
        return _put32(buf, w, acc, nacc, v1 | (v2 << t1), t1 + ln2 + e2)
    w, acc, nacc = _put_value(buf, w, acc, nacc, z1, ent1)
    return _put_value(buf, w, acc, nacc, z2, ent2)


@njit
def huff_encode4(r, center, syms, codes, lens, bits):
    """Encode the zigzag values of the residuals ``r`` around ``center`` (of symbols
    ``syms``) into 4 interleaved streams (value ``i`` in stream ``i % 4``), concatenated;
    ``bits`` is the streams' total in bits (from the counts: their capacity).

    Returns the bytes of the 4 streams back to back and each stream's length in bits.
    The four streams are written in one loop (four independent bit writers), each in
    32-bit words (little-endian words are the LSB-first bytes) with a branch-free writer;
    two values of a stream (``i`` and ``i + 4``), codes and extra bits, go in with one
    shift where they fit in 32 bits together (a repeat block's lags: 2.1 -> 1.7 ns a value;
    each symbol's code, length and extra bits in one entry: 1.65).
    Any symbol (:func:`huff_encode4_table` is faster where the values are below 2**12);
    the zigzag values are computed as they are written, not stored.
    """
    n = r.size
    buf, cap, w0, w1, w2, w3 = _stream_words(bits)
    ent = symbol_entries(codes, lens)
    a0 = a1 = a2 = a3 = ZERO
    n0 = n1 = n2 = n3 = ZERO
    full = n // 8 * 8
    for i in range(0, full, 8):
        w0, a0, n0 = _put_pair(buf, w0, a0, n0, r, syms, ent, i, center)
        w1, a1, n1 = _put_pair(buf, w1, a1, n1, r, syms, ent, i + 1, center)
        w2, a2, n2 = _put_pair(buf, w2, a2, n2, r, syms, ent, i + 2, center)
        w3, a3, n3 = _put_pair(buf, w3, a3, n3, r, syms, ent, i + 3, center)
    for i in range(full, n):
        z, e = _zigzag_at(r, i, center), ent[syms[i]]
        j = i % 4
        if j == 0:
            w0, a0, n0 = _put_value(buf, w0, a0, n0, z, e)
        elif j == 1:
            w1, a1, n1 = _put_value(buf, w1, a1, n1, z, e)
        elif j == 2:
            w2, a2, n2 = _put_value(buf, w2, a2, n2, z, e)
        else:
            w3, a3, n3 = _put_value(buf, w3, a3, n3, z, e)
    return _join_streams(buf, np.int64(cap), w0, a0, n0, w1, a1, n1, w2, a2, n2, w3, a3, n3)


@njit
def _join_streams(buf, cap, w0, a0, n0, w1, a1, n1, w2, a2, n2, w3, a3, n3):
    """The four streams of ``cap`` words each in ``buf`` back to back (each to its last
    byte) and their lengths in bits, from their writers' states ``(w, acc, nacc)``."""
    # (the last partial word of a writer that just moved on is not stored yet)
    buf[w0] = np.uint32(a0)
    buf[w1] = np.uint32(a1)
    buf[w2] = np.uint32(a2)
    buf[w3] = np.uint32(a3)
    nbits = np.empty(HUFF_STREAMS, dtype=np.int64)
    nbits[0] = np.int64(w0) * 32 + np.int64(n0)
    nbits[1] = np.int64(w1 - np.uint64(cap)) * 32 + np.int64(n1)
    nbits[2] = np.int64(w2 - np.uint64(2 * cap)) * 32 + np.int64(n2)
    nbits[3] = np.int64(w3 - np.uint64(3 * cap)) * 32 + np.int64(n3)
    total_bytes = 0
    for j in range(HUFF_STREAMS):
        total_bytes += (nbits[j] + 7) // 8
    out = np.empty(total_bytes, dtype=np.uint8)
    wb = buf.view(np.uint8)
    pos = 0
    for j in range(HUFF_STREAMS):
        nb = (nbits[j] + 7) // 8
        copy_bytes(out, pos, wb, 4 * j * cap, nb)
        pos += nb
    return out, nbits


#: The table encoder (:func:`huff_encode4_table`) takes blocks whose symbols are all at
#: most TABLE_MAX_SYMBOL (zigzag values below 2**12: a code and its extra bits in 22 bits)
#: and of at least TABLE_VALUES_PER_ENTRY values per entry of its table.
TABLE_MAX_SYMBOL = 25
TABLE_VALUES_PER_ENTRY = 2
_LEN_SHIFT = np.uint64(27)
_BITS_MASK = np.uint64((1 << 27) - 1)


@njit
def table_bits(counts, n):
    """The index bits of :func:`huff_encode4_table`'s table for ``n`` values of symbol
    ``counts`` (the bit length of the largest zigzag value the used symbols hold), or -1
    where the table encoder does not pay or cannot take them."""
    _lo, hi = _used_range(counts)
    if hi > TABLE_MAX_SYMBOL:
        return -1
    e, _top = sym_class(hi)
    bits = max(3, e + 2)
    return bits if TABLE_VALUES_PER_ENTRY << bits <= n else -1


@njit(inline="always")
def _put_two(buf, w, acc, nacc, e1, e2):
    """Append two table entries (code and extra bits below bit 27, their length above) to
    a stream: in one shift where they fit in 32 bits together (almost always)."""
    l1 = e1 >> _LEN_SHIFT
    l2 = e2 >> _LEN_SHIFT
    if l1 + l2 <= _THIRTY_TWO:
        return _put32(buf, w, acc, nacc, (e1 & _BITS_MASK) | ((e2 & _BITS_MASK) << l1), l1 + l2)
    w, acc, nacc = _put32(buf, w, acc, nacc, e1 & _BITS_MASK, l1)
    return _put32(buf, w, acc, nacc, e2 & _BITS_MASK, l2)


@njit(inline="always")
def _entry(tab, r, i, center):
    """The table entry of the zigzag value of ``r[i] - center``."""
    return np.uint64(tab[_zigzag_at(r, i, center)])


@njit(inline="always")
def _put_four(buf, w, acc, nacc, tab, r, i, center):
    """Append the values ``i``, ``i + 4``, ``i + 8`` and ``i + 12`` of the residuals ``r``
    (a stream's next four) from their table entries: in one shift where they fit in 32
    bits together (short codes: a PPG's second differences take ~3.5 bits a value), else
    as two :func:`_put_two`."""
    e1 = _entry(tab, r, i, center)
    e2 = _entry(tab, r, i + 4, center)
    e3 = _entry(tab, r, i + 8, center)
    e4 = _entry(tab, r, i + 12, center)
    l1 = e1 >> _LEN_SHIFT
    l3 = e3 >> _LEN_SHIFT
    t12 = l1 + (e2 >> _LEN_SHIFT)
    t34 = l3 + (e4 >> _LEN_SHIFT)
    if t12 + t34 <= _THIRTY_TWO:
        v12 = (e1 & _BITS_MASK) | ((e2 & _BITS_MASK) << l1)
        v34 = (e3 & _BITS_MASK) | ((e4 & _BITS_MASK) << l3)
        return _put32(buf, w, acc, nacc, v12 | (v34 << t12), t12 + t34)
    w, acc, nacc = _put_two(buf, w, acc, nacc, e1, e2)
    return _put_two(buf, w, acc, nacc, e3, e4)


@njit
def huff_encode4_table(r, center, codes, lens, bits, tbits):
    """:func:`huff_encode4` of the zigzag values of the residuals ``r`` around ``center``,
    from a table of each value's code and extra bits (``2**tbits`` entries, from
    :func:`table_bits`); ``bits`` is the streams' total (their capacity). Four values of
    a stream (``i``, ``i + 4``, ``i + 8``, ``i + 12``) go in with one shift where they fit
    in 32 bits, and no zigzag values or symbols are stored: 1.15 ns a value (two at a time
    took 1.35, huff_encode4 1.7)."""
    n = r.size
    tab = np.empty(1 << tbits, dtype=np.uint32)
    for s in range(HUFF_NSYM):
        if lens[s] > 0:
            e, top = sym_class(s)
            head = np.uint32(codes[s] | ((lens[s] + e) << 27))
            for k in range(1 << e):
                tab[(top << e) | k] = head | np.uint32(k << lens[s])
    buf, cap, w0, w1, w2, w3 = _stream_words(bits)
    a0 = a1 = a2 = a3 = ZERO
    n0 = n1 = n2 = n3 = ZERO
    full = n // 16 * 16
    for i in range(0, full, 16):
        w0, a0, n0 = _put_four(buf, w0, a0, n0, tab, r, i, center)
        w1, a1, n1 = _put_four(buf, w1, a1, n1, tab, r, i + 1, center)
        w2, a2, n2 = _put_four(buf, w2, a2, n2, tab, r, i + 2, center)
        w3, a3, n3 = _put_four(buf, w3, a3, n3, tab, r, i + 3, center)
    for i in range(full, n):
        e = _entry(tab, r, i, center)
        v, ln = e & _BITS_MASK, e >> _LEN_SHIFT
        j = i % 4
        if j == 0:
            w0, a0, n0 = _put32(buf, w0, a0, n0, v, ln)
        elif j == 1:
            w1, a1, n1 = _put32(buf, w1, a1, n1, v, ln)
        elif j == 2:
            w2, a2, n2 = _put32(buf, w2, a2, n2, v, ln)
        else:
            w3, a3, n3 = _put32(buf, w3, a3, n3, v, ln)
    return _join_streams(buf, np.int64(cap), w0, a0, n0, w1, a1, n1, w2, a2, n2, w3, a3, n3)


#: Up to this many values :func:`select_kth` selects by radix (2x faster than quickselect
#: or the bracket on 1,024 or 4,096 values: no sort, no mispredicted partition branch);
#: above, it first brackets the answer between two quantiles of an evenly spaced sample of
#: SELECT_SAMPLE values (SELECT_MARGIN sample ranks either side), then selects among the
#: values between them only.
SELECT_RADIX_MAX = 8192
SELECT_SAMPLE = 1024
SELECT_MARGIN = 48


@njit
def select_kth(a, k):
    """The ``k``-th smallest value of ``a`` (uint64, not empty; ``a`` is overwritten).

    Values spanning a narrow range are counted (in four interleaved counts where the range
    is under a quarter of the values). Up to SELECT_RADIX_MAX values, a radix selection
    narrows the range until it can be counted (:func:`_select_radix`). Otherwise, the
    answer is bracketed by two quantiles of a 1,024-value sample and selected among the
    values between them (about a tenth: one branch-free pass, then a small selection);
    where the bracket misses (rarely), or on a few values left, quickselect with three-way
    partitioning, so runs of equal values (common in sensor residuals) cost one pass;
    pivots come from a fixed pseudo-random sequence, and after 64 rounds the remaining
    range is sorted, which bounds the worst case at O(n log n). The result is exact.
    """
    n = a.size
    mn = a[0]
    mx = a[0]
    for i in range(1, n):
        mn = min(mn, a[i])
        mx = max(mx, a[i])
    span = mx - mn
    if span < np.uint64(max(4 * n, 1024)):
        return _select_counted(a, k, mn, span)
    if n <= SELECT_RADIX_MAX:
        return _select_radix(a, k, mn, span)
    found, value = _select_bracketed(a, k)
    if found:
        return value
    return _quickselect(a, k)


#: Bits of the offsets from the minimum that each round of :func:`_select_radix` counts.
RADIX_BITS = 8


@njit
def _select_radix(a, k, mn, span):
    """The ``k``-th smallest value of ``a`` (within ``mn .. mn + span``; ``a`` is
    overwritten): the top RADIX_BITS bits of each value's offset from the least are counted,
    the values in the bucket holding rank ``k`` kept (a pass without a branch on which),
    with their new least and greatest; until their range is narrow enough to count (a
    round of quickselect on a sample mispredicts a branch at about every other value)."""
    m = a.size
    radix = 1 << RADIX_BITS
    counts = np.empty(radix, dtype=np.int64)
    while m > 16 and span >= np.uint64(max(4 * m, 1024)):
        shift = np.uint64(max(bitlen(span) - RADIX_BITS, 0))
        counts[:] = 0
        for i in range(m):
            counts[np.int64((a[i] - mn) >> shift)] += 1
        b = 0
        while k >= counts[b]:
            k -= counts[b]
            b += 1
        keep = np.uint64(b)
        kept = 0
        lo = ALL
        hi = ZERO
        for i in range(m):
            v = a[i]
            a[kept] = v
            inside = ((v - mn) >> shift) == keep
            kept += np.int64(inside)
            lo = min(lo, v if inside else ALL)
            hi = max(hi, v if inside else ZERO)
        m = kept
        mn = lo
        span = hi - lo
    if span < np.uint64(max(4 * m, 1024)):
        return _select_counted(a[:m], k, mn, span)
    return _quickselect(a[:m], k)


@njit
def _select_counted(a, k, mn, span):
    """The ``k``-th smallest value of ``a`` (all within ``mn .. mn + span``, a narrow
    range) from the counts of each value: a pass with no data-dependent branch, in four
    interleaved counts (one per value of four in turn: a run of equal values does not wait
    on each increment) where the range is under a quarter of the values."""
    n = a.size
    seen = 0
    if span < np.uint64(n // 4):
        counts = np.zeros(4 * (np.int64(span) + 1), dtype=np.int64)
        full = n // 4 * 4
        for i in range(0, full, 4):
            counts[4 * np.int64(a[i] - mn)] += 1
            counts[4 * np.int64(a[i + 1] - mn) + 1] += 1
            counts[4 * np.int64(a[i + 2] - mn) + 2] += 1
            counts[4 * np.int64(a[i + 3] - mn) + 3] += 1
        for i in range(full, n):
            counts[4 * np.int64(a[i] - mn)] += 1
        for j in range(0, counts.size, 4):
            seen += counts[j] + counts[j + 1] + counts[j + 2] + counts[j + 3]
            if seen > k:
                return mn + np.uint64(j // 4)
        return mn + span
    counts = np.zeros(np.int64(span) + 1, dtype=np.int64)
    for i in range(n):
        counts[np.int64(a[i] - mn)] += 1
    for j in range(counts.size):
        seen += counts[j]
        if seen > k:
            return mn + np.uint64(j)
    return mn + span


@njit
def _select_bracketed(a, k):
    """``(True, k-th smallest)`` of ``a`` when it lies between the sample quantiles around
    rank ``k``, else ``(False, 0)``; ``a`` is not modified."""
    n = a.size
    m = SELECT_SAMPLE
    s = np.empty(m, dtype=np.uint64)
    q, r = divmod(n, m)
    at = rem = 0
    for i in range(m):  # (at i * n // m)
        s[i] = a[at]
        at, rem = even_next(at, rem, q, r, m)
    s.sort()
    c = k * m // n
    low = s[max(c - SELECT_MARGIN, 0)]
    high = s[min(c + SELECT_MARGIN, m - 1)]
    inside = np.empty(n + 1, dtype=np.uint64)
    below = 0
    count = 0
    for i in range(n):
        v = a[i]
        below += v < low
        inside[count] = v
        count += (v >= low) & (v <= high)
    if k < below or k >= below + count:
        return False, np.uint64(0)
    return True, _quickselect(inside[:count], k - below)


@njit
def _quickselect(a, k):
    """The ``k``-th smallest value of ``a`` by quickselect (``a`` is reordered)."""
    n = a.size
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


@njit(inline="always")
def _used_range(a):
    """First and last index of the non-zero entries of ``a`` (there is at least one)."""
    lo = 0
    while a[lo] == 0:
        lo += 1
    hi = a.size - 1
    while a[hi] == 0:
        hi -= 1
    return lo, hi


#: Windows of consecutive values, and their length, that :func:`order_bits` samples.
ORDER_WINDOWS, ORDER_WINDOW = 8, 128
#: A bit of :func:`order_bits`' ``skip``: order 3 only where order 2 may be the cheapest
#: (its bits at most orders 0 and 1's), the only case its bits are read then.
THIRD_IF_CHEAPEST = 16


@njit
def order_bits(u, top, skip):
    """:func:`order_sample`'s bits."""
    return order_sample(u, top, skip)[0]


@njit
def order_sample(u, top, skip):
    """Bits of the Huffman symbols (entropy around the median, plus extra bits) of the
    order-0 to order-``top`` (at most 3) residuals of a sample of ``u``: every value, or
    ORDER_WINDOWS evenly spaced windows of ORDER_WINDOW. One copy of the windows,
    differenced in place from one order to the next; inf for an order with no residual
    and for the orders of the bit mask ``skip`` (not measured; with THIRD_IF_CHEAPEST,
    order 3 too where order 2 takes more bits than order 0 or 1); and the medians they
    are measured around (uint64; 0 where not measured): ``(bits, centers)``."""
    n = u.size
    # (the window length as a constant where sampled: its loops then take 9 us, not 15)
    sampled = n > ORDER_WINDOWS * ORDER_WINDOW
    w = ORDER_WINDOW if sampled else n
    nwin = ORDER_WINDOWS if sampled else 1
    win = np.empty(nwin * w, dtype=np.uint64)
    for k in range(nwin):
        start = 0 if nwin == 1 else k * (n - w) // (nwin - 1)
        for i in range(w):
            win[k * w + i] = u[start + i]
    keys = np.empty(nwin * w, dtype=np.uint64)
    syms = np.empty(nwin * w, dtype=np.uint8)
    out = np.full(top + 1, np.inf)
    centers = np.zeros(top + 1, dtype=np.uint64)
    for order in range(top + 1):
        per = w - order
        if per <= 0:
            break
        m = nwin * per
        if order > 0:  # (window k's residuals of the last order, one fewer)
            for k in range(nwin):
                base = k * w
                for i in range(per):
                    win[base + i] = win[base + i + 1] - win[base + i]
        if (skip >> order) & 1:
            continue
        if order == 3 and skip & THIRD_IF_CHEAPEST and out[2] > min(out[0], out[1]):
            break
        for k in range(nwin):
            for i in range(per):
                keys[k * per + i] = win[k * w + i] ^ SIGN
        center = select_kth(keys[:m], m // 2) ^ SIGN
        centers[order] = center
        for k in range(nwin):
            for i in range(per):
                d = win[k * w + i] - center
                syms[k * per + i] = np.uint8(symbol_of((d << ONE) ^ (ZERO - (d >> np.uint64(63)))))
        out[order] = _entropy_bits(count_symbols(syms[:m]), m)
    return out, centers


@njit(inline="always")
def _entropy_bits(counts, m):
    """Bits of ``m`` values of symbol ``counts``: entropy plus the extra bits."""
    bits = 0.0
    for s in range(HUFF_NSYM):
        c = counts[s]
        if c:
            e, _top = sym_class(s)
            bits += c * (math.log2(m / c) + e)
    return bits


@njit
def symbol_bits(r):
    """Bits of the Huffman symbols of the residuals ``r`` (not empty): their entropy around
    the median, plus the extra bits (the Huffman stage's cost model, without its table)."""
    center = select_kth(r ^ SIGN, r.size // 2) ^ SIGN
    return _entropy_bits(symbol_counts(r, center), r.size)


@njit
def cheapest_order(bits, first):
    """The residual order (0, 1 or 2) of fewest ``bits`` (:func:`order_bits`); ``first``
    (the order of the narrowest residual range) wins ties.

    A range is set by its extremes: a few jumps (the boundaries of concatenated records,
    a glitch) make every order as wide, while the bulk of the deltas is several bits
    narrower than the values."""
    best = first
    for order in range(3):
        if order != first and bits[order] < bits[best]:
            best = order
    return best


@njit
def huff_order(u, first):
    """:func:`cheapest_order` of ``u``'s sampled orders 0 to 2."""
    return cheapest_order(order_bits(u, 2, 0), first)


@njit
def third_order_gain(bits, n):
    """Bits a value that third differences save over second ones in the Huffman stage's
    cost model (negative: they cost more), from :func:`order_bits` up to order 3 of ``n``
    values."""
    return (bits[2] - bits[3]) / min(n, ORDER_WINDOWS * ORDER_WINDOW)


@njit
def sampled_bytes(bits, order, n):
    """The bytes :func:`order_bits`' estimate ``bits`` of ``order`` gives ``n`` values
    (the sample's bits a residual times the block's residuals)."""
    w = min(n, ORDER_WINDOW) if n > ORDER_WINDOWS * ORDER_WINDOW else n
    nwin = 1 if w == n else ORDER_WINDOWS
    per = nwin * (w - order)
    if per <= 0:
        return 0.0
    return bits[order] / per * (n - order) / 8


@njit
def huff_candidate(u, order, limit):
    """The whole huffman-scheme payload of ``u`` with residual ``order``, in one call.

    Residuals, their signed median (the center), zigzag symbols and counts, code lengths
    (at most HUFF_MAXLEN bits), the packed length table and the four streams. Returns an
    empty array when the payload would be ``limit`` bytes or more (checked before encoding).
    """
    r = u if order == 0 else residuals(u, order)  # (read only: no copy of order 0)
    return huff_centered(u, r, order, residual_center(r), limit)


@njit
def huff_sampled(u, order, limit, center):
    """As :func:`huff_candidate` around a ``center`` known from a sample
    (:func:`order_sample`'s)."""
    r = u if order == 0 else residuals(u, order)
    return huff_centered(u, r, order, center, limit)


@njit
def huff_third(u, limit, center=None):
    """``huff_candidate(lag_residuals(u, 1), 2, limit)`` (third differences as the second
    ones of a lag of 1) without building the lag's residuals; around ``center`` where
    given."""
    heads = np.empty(2, dtype=np.uint64)  # the lag residuals' first two
    heads[0] = u[0]
    heads[1] = u[1] - u[0]
    r = third_residuals(u)
    return huff_centered(heads, r, 2, residual_center(r) if center is None else center, limit)


#: Residuals from which :func:`residual_center` takes the median of an evenly spaced
#: sample of CENTER_SAMPLE (within a percent of the median in rank: the same or a
#: neighbouring value, and code, on sensor residuals), not of them all.
CENTER_SAMPLE_MIN = 8192
CENTER_SAMPLE = 4096


@njit
def residual_center(r):
    """The signed median of the residuals ``r`` (not empty), the Huffman stage's center;
    of a sample of them on blocks of CENTER_SAMPLE_MIN or more."""
    m = r.size
    if m < CENTER_SAMPLE_MIN:
        return select_kth(r ^ SIGN, m // 2) ^ SIGN
    sample = np.empty(CENTER_SAMPLE, dtype=np.uint64)
    q, rest = divmod(m, CENTER_SAMPLE)
    at = rem = 0
    for j in range(CENTER_SAMPLE):  # (at j * m // CENTER_SAMPLE)
        sample[j] = r[at] ^ SIGN
        at, rem = even_next(at, rem, q, rest, CENTER_SAMPLE)
    return select_kth(sample, CENTER_SAMPLE // 2) ^ SIGN


@njit
def huff_centered(u, r, order, center, limit):
    """As :func:`huff_candidate` for the order-``order`` residuals ``r`` of ``u`` around a
    given ``center``. (The symbols themselves are computed only where the table encoder
    does not take the values.)"""
    counts = _small_counts(r, center)
    if counts.size:
        return huff_counted(u, r, order, center, np.zeros(0, dtype=np.uint8), counts, limit)
    syms, counts = huff_symbols(r, center)
    return huff_counted(u, r, order, center, syms, counts, limit)


@njit
def huff_counted(u, r, order, center, syms, counts, limit):
    """As :func:`huff_centered` with the symbol ``counts`` known; ``syms`` are the symbols,
    or an empty array (then computed only where the table encoder does not apply)."""
    lens, head = huff_fit(counts, r.size, order, limit)
    if lens.size == 0:
        return np.zeros(0, dtype=np.uint8)
    codes = huff_codes(lens, HUFF_MAXLEN)
    tbits = table_bits(counts, r.size)
    bits = coded_bits(counts, lens)
    if tbits >= 0:
        streams, nbits = huff_encode4_table(r, center, codes, lens, bits, tbits)
    else:
        if syms.size != r.size:
            syms, _counts = huff_symbols(r, center)
        streams, nbits = huff_encode4(r, center, syms, codes, lens, bits)
    out = np.zeros(head + streams.size, dtype=np.uint8)
    pos = put_huff_head(out, u, order, center, lens)
    for j in range(HUFF_STREAMS):
        v = nbits[j]
        for b in range(4):
            out[pos + b] = np.uint8((v >> (8 * b)) & 255)
        pos += 4
    copy_bytes(out, pos, streams, 0, streams.size)
    return out


@njit
def huff_fit(counts, m, order, limit):
    """The code lengths of :func:`huff_centered`'s payload for the symbol ``counts`` of
    ``m`` residuals of ``order`` and the bytes of its head (common fields and the four
    bit counts), or empty lengths where the payload would be ``limit`` bytes or more: by
    the entropy (no prefix code beats it: the code is not built), or by the code's bits
    with every stream's last byte padded."""
    none = np.zeros(0, dtype=np.int64)
    lo, hi = _used_range(counts)
    least = 0.0
    for s in range(HUFF_NSYM):
        c = counts[s]
        if c:
            e = 0 if s < 8 else (s - 8) // 2 + 2
            least += c * (math.log2(m / c) + e)
    head = 1 + 8 * order + 8 + 2 + (hi - lo + 2) // 2 + 4 * HUFF_STREAMS
    if head + (least * (1.0 - 1e-9) - 1.0) / 8 + HUFF_STREAMS >= limit:
        return none, 0
    lens = huff_lengths(counts, HUFF_MAXLEN)
    bits = coded_bits(counts, lens)
    head = huff_head_size(order, lens) + 4 * HUFF_STREAMS
    if head + (bits + 7) // 8 + HUFF_STREAMS >= limit:
        return none, 0
    return lens, head


@njit(inline="always")
def coded_bits(counts, lens):
    """Bits the values of symbol ``counts`` take with code ``lens`` and their extra bits."""
    bits = 0
    for s in range(HUFF_NSYM):
        if counts[s]:
            e = 0 if s < 8 else (s - 8) // 2 + 2
            bits += counts[s] * (lens[s] + e)
    return bits


@njit(inline="always")
def huff_head_size(order, lens):
    """Bytes of a huffman payload's common fields (:func:`put_huff_head`)."""
    lo, hi = _used_range(lens)
    return 1 + 8 * order + 8 + 2 + (hi - lo + 2) // 2


@njit(inline="always")
def put_huff_head(out, u, order, center, lens):
    """Write the fields every huffman payload starts with into ``out`` (zeroed): ``order``,
    the heads of the lanes ``u``, ``center``, ``lo``, ``hi`` and the 4-bit code lengths.
    Returns the position after them."""
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
    lo, hi = _used_range(lens)
    out[pos] = np.uint8(lo)
    out[pos + 1] = np.uint8(hi)
    pos += 2
    for sym in range(lo, hi + 1):
        k = sym - lo
        out[pos + k // 2] |= np.uint8(lens[sym] << (4 * (k % 2)))
    return pos + (hi - lo + 2) // 2


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


@njit(inline="always")
def _fill_entries(entry, code, ln, value):
    """``value`` at every index of the decode table ``entry`` whose low ``ln`` bits are the
    (bit-reversed) ``code``."""
    j = code
    step = 1 << ln
    while j < entry.size:
        entry[j] = value
        j += step


@njit
def huff_symbol_tables(lens, maxlen):
    """Decode tables: per ``maxlen``-bit pattern ``symbol | length << 8 | extra_bits << 16``
    (0 = invalid code), and per symbol the value base, so that ``z = base | extra``."""
    codes = huff_codes(lens, maxlen)
    size = 1 << maxlen
    entry = np.zeros(size, dtype=np.int32)
    base = np.zeros(HUFF_NSYM, dtype=np.uint64)
    for sym in range(HUFF_NSYM):
        e, top = sym_class(sym)
        base[sym] = np.uint64(top) << np.uint64(e)
        ln = lens[sym]
        if ln > 0:
            _fill_entries(entry, codes[sym], ln, np.int32(sym | (ln << 8) | (e << 16)))
    return entry, base


@njit(inline="always")
def _bits_at(words, w0, p):
    """The 64 bits from bit ``p`` of the stream whose words start at ``w0``.

    Positions are uint64 (numba then adds no negative-index fix-up to the loads);
    ``(hi << (63 - off)) << 1`` is 0 at ``off == 0``, so there is no branch.
    """
    k = w0 + (p >> SIX)
    off = p & SIXTY_THREE
    return (words[k] >> off) | ((words[k + ONE] << (SIXTY_THREE - off)) << ONE)


@njit(inline="always")
def _extra_bits(words, w0, p, bits, ln, e):
    """The ``e`` extra bits after the ``ln``-bit code at bit ``p`` (``bits``: the 64 bits at
    ``p``); read again from the stream only when code and extra bits exceed 64 bits."""
    if ln + e <= SIXTY_FOUR:
        return (bits >> ln) & ((ONE << e) - ONE)
    return _bits_at(words, w0, p + ln) & ((ONE << e) - ONE)


@njit(inline="always")
def _huff_one(words, w0, p, entry, tmask, base):
    """Decode one value of the stream whose words start at ``w0``: (z, new p, entry).

    An entry of 0 marks an unused code. The caller guarantees ``p`` is inside the stream.
    """
    bits = _bits_at(words, w0, p)
    ent = entry[bits & tmask]
    ln = np.uint64((ent >> 8) & 255)
    e = np.uint64(ent >> 16)
    return base[ent & 255] | _extra_bits(words, w0, p, bits, ln, e), p + ln + e, ent


@njit
def huff_decode4(words, starts, nbits, n, entry, base, out):
    """Decode ``n`` zigzag values from 4 interleaved Huffman streams into ``out``.

    Value ``i`` is in stream ``i % 4``; stream ``j`` occupies ``words`` from word
    ``starts[j]`` and holds ``nbits[j]`` bits followed by at least two zero words.
    ``entry`` is indexed by the next ``log2(entry.size)`` bits (at least the longest code).
    Returns 0, or -1 for a bad stream (an unused code, or a read past ``nbits``). A plain
    loop over the tables of :func:`huff_symbol_tables`; the huffman scheme decodes with
    :func:`huff_decode4_integrate`.
    """
    tmask = np.uint64(entry.size - 1)
    pos = np.zeros(HUFF_STREAMS, dtype=np.uint64)
    for i in range(n):
        j = i % HUFF_STREAMS
        if pos[j] > np.uint64(nbits[j]):
            return -1
        z, p, ent = _huff_one(words, np.uint64(starts[j]), pos[j], entry, tmask, base)
        if ent == 0:
            return -1
        out[i] = z
        pos[j] = p
    for j in range(HUFF_STREAMS):
        if pos[j] > np.uint64(nbits[j]):
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
            e, top = sym_class(sym)
            _fill_entries(entry, codes[sym], ln, np.int32(ln | (e << 4) | (top << 10)))
    return entry


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
    wb, starts, nbits, m, single, order, center, first, firstd, out, fout, alp, ff, fe
):
    """Decode ``m`` residuals of 4 interleaved streams one value per lookup and integrate
    them in the same pass into ``out`` (``m + order`` lanes, heads included), or with
    ``alp`` into ``fout`` as ALP values ``(lane * ff) / fe``.

    The streams are laid out as for :func:`huff_decode_multi`; ``single`` is a
    :func:`huff_value_table` of ``MULTI_BITS`` bits. For lanes of long codes (floats'
    ALP integers), where a lookup holds one value: their conversion overlaps the
    decoding. Returns 0, or -1 for a bad stream.
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
        z0, t0, e0 = _value(wb, s0, p0, single)
        z1, t1, e1 = _value(wb, s1, p1, single)
        z2, t2, e2 = _value(wb, s2, p2, single)
        z3, t3, e3 = _value(wb, s3, p3, single)
        p0 += t0
        p1 += t1
        p2 += t2
        p3 += t3
        bad = (e0 == ZERO) | (e1 == ZERO) | (e2 == ZERO) | (e3 == ZERO)
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
            z, t, ent = _value(wb, s0, p0, single)
            p0 += t
        elif j == 1:
            if p1 > n1:
                return -1
            z, t, ent = _value(wb, s1, p1, single)
            p1 += t
        else:
            if p2 > n2:
                return -1
            z, t, ent = _value(wb, s2, p2, single)
            p2 += t
        if ent == ZERO:
            return -1
        prev, prevd = _emit(out, np.uint64(i), z, center, order, prev, prevd, fout, alp, ff, fe)
    if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3):
        return -1
    return 0


@njit
def huff_multi_table(single):
    """Multi-value decode table from a :func:`huff_value_table` of ``MULTI_BITS`` bits.

    Per ``MULTI_BITS``-bit pattern: the bits its whole values take (code and extra bits,
    up to 3 values that fit in the pattern) in bits 0-3, their count in bits 4-5, and each
    value as ``unzigzag(z)`` (16-bit two's complement) in bits 16-31, 32-47, 48-63.
    Count 0 marks a pattern whose first value does not fit (a long code or extra field,
    or no code): the decoder reads that value alone. Built from the first value of every
    pattern (its bits and value, computed once): the pattern's later values are the first
    values of the pattern shifted past the earlier ones.
    """
    size = single.size
    taken = np.empty(size, dtype=np.uint64)
    value = np.empty(size, dtype=np.uint64)
    for w in range(size):
        s = np.int64(single[w])
        ln = s & 15
        e = (s >> 4) & 63
        if s == 0 or ln + e > MULTI_BITS:
            taken[w] = ZERO
            value[w] = ZERO
        else:
            z = ((s >> 10) << e) | ((w >> ln) & ((1 << e) - 1))
            taken[w] = np.uint64(ln + e)
            value[w] = np.uint64(((z >> 1) ^ -(z & 1)) & 0xFFFF)
    limit = np.uint64(MULTI_BITS)
    multi = np.zeros(size, dtype=np.uint64)
    for w in range(size):
        used = taken[w]
        if used == ZERO:
            continue
        ent = (value[w] << np.uint64(16)) | np.uint64(1 << 4)
        w2 = np.uint64(w) >> used
        t = taken[w2]
        if t != ZERO and used + t <= limit:
            used += t
            ent += (value[w2] << np.uint64(32)) | np.uint64(1 << 4)
            w3 = w2 >> t
            t = taken[w3]
            if t != ZERO and used + t <= limit:
                used += t
                ent += (value[w3] << np.uint64(48)) | np.uint64(1 << 4)
        multi[w] = ent | used
    return multi


@njit(inline="always")
def _read(wb, sj, p):
    """At least 57 bits of the stream at byte ``sj`` of ``wb``, from its bit ``p`` on."""
    return load_u64(wb, sj + (p >> np.uint64(3))) >> (p & np.uint64(7))  # type: ignore[call-arg]


@njit(inline="always")
def _value(wb, sj, p, single):
    """The value at bit ``p`` of the stream at byte ``sj`` of ``wb``, read alone with the
    :func:`huff_value_table` ``single``: ``(z, bits taken, table entry)`` (entry 0: no
    code). Extra bits are read again from the stream only past the first read's 57 bits."""
    b = _read(wb, sj, p)
    s = np.uint64(single[b & MULTI_MASK])
    ln = s & np.uint64(15)
    e = (s >> np.uint64(4)) & np.uint64(63)
    taken = ln + e
    if taken <= np.uint64(57):
        extra = b >> ln
    else:
        q = p + ln
        extra = (_read(wb, sj, q) & _LOW56) | (_read(wb, sj, q + np.uint64(56)) << np.uint64(56))
    return ((s >> np.uint64(10)) << e) | (extra & ((ONE << e) - ONE)), taken, s


@njit(inline="always")
def _one(wb, sj, p, single):
    """One value at bit ``p`` read alone: ``(unzigzag(z), bits taken)``; 0 bits for no code."""
    z, taken, _s = _value(wb, sj, p, single)
    return (z >> ONE) ^ (ZERO - (z & ONE)), taken


_LOW56 = np.uint64((1 << 56) - 1)


@njit
def _finish(wb, sj, nj, p, o, left, multi, single, center, out):
    """The rest of one stream (``left`` values from bit ``p``, written at ``out[o]``,
    ``out[o + 4]``, ...), checked at each step: the bit position after it, or 2**64-1."""
    while left > 0:
        if p > nj:
            return ALL
        e = multi[_read(wb, sj, p) & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO or left < 3:
            d, taken = _one(wb, sj, p, single)
            if taken == ZERO:
                return ALL
            out[o] = center + d
            p += taken
            o += FOUR
            left -= 1
        else:
            out[o] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            p += e & np.uint64(15)
            o += k << TWO
            left -= np.int64(k)
    return p


@njit
def huff_decode_multi(wb, starts, nbits, m, multi, single, center, out, at):
    """Decode ``m`` residuals from 4 interleaved Huffman streams into ``out[at:at + m]``.

    Stream ``j`` is at byte ``starts[j]`` of ``wb`` with ``nbits[j]`` bits and at least
    ``STREAM_PAD`` zero bytes after them. ``out`` gets ``center + unzigzag(z)`` (its
    dtype keeps the low bits: integration modulo 2**64 keeps them too). The four streams
    are decoded in one loop, two lookups of ``multi`` (:func:`huff_multi_table`, several
    values each) per read of each stream, the table's three slots written whatever the
    count (the loop runs while every stream has 6 values left); each stream's last values
    are read with checks. The loop body is written out per stream and lookup: as an
    inlined helper, numba kept its arrays' reference counting in the loop (3x slower).
    Returns 0, or -1 for a bad stream (no code, or more than ``nbits`` bits).
    """
    s0 = np.uint64(starts[0])
    s1 = np.uint64(starts[1])
    s2 = np.uint64(starts[2])
    s3 = np.uint64(starts[3])
    n0 = np.uint64(nbits[0])
    n1 = np.uint64(nbits[1])
    n2 = np.uint64(nbits[2])
    n3 = np.uint64(nbits[3])
    c0 = (m + 3) >> 2
    c1 = (m + 2) >> 2
    c2 = (m + 1) >> 2
    c3 = m >> 2
    u = np.uint64(at)
    o0 = u
    o1 = u + ONE
    o2 = u + TWO
    o3 = u + THREE
    p0 = ZERO
    p1 = ZERO
    p2 = ZERO
    p3 = ZERO
    while min(min(c0, c1), min(c2, c3)) >= 6:
        # Each stream's bits are read once for two lookups (a read holds at least 57 bits,
        # a lookup takes at most 12); a value read alone reads again after itself.
        if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3):
            return -1
        b0 = _read(wb, s0, p0)
        b1 = _read(wb, s1, p1)
        b2 = _read(wb, s2, p2)
        b3 = _read(wb, s3, p3)
        e = multi[b0 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p0 > n0:
                return -1
            d, taken = _one(wb, s0, p0, single)
            if taken == ZERO:
                return -1
            out[o0] = center + d
            p0 += taken
            o0 += FOUR
            c0 -= 1
            b0 = _read(wb, s0, p0)
        else:
            out[o0] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o0 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o0 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p0 += t
            b0 >>= t
            o0 += k << TWO
            c0 -= np.int64(k)
        e = multi[b1 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p1 > n1:
                return -1
            d, taken = _one(wb, s1, p1, single)
            if taken == ZERO:
                return -1
            out[o1] = center + d
            p1 += taken
            o1 += FOUR
            c1 -= 1
            b1 = _read(wb, s1, p1)
        else:
            out[o1] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o1 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o1 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p1 += t
            b1 >>= t
            o1 += k << TWO
            c1 -= np.int64(k)
        e = multi[b2 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p2 > n2:
                return -1
            d, taken = _one(wb, s2, p2, single)
            if taken == ZERO:
                return -1
            out[o2] = center + d
            p2 += taken
            o2 += FOUR
            c2 -= 1
            b2 = _read(wb, s2, p2)
        else:
            out[o2] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o2 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o2 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p2 += t
            b2 >>= t
            o2 += k << TWO
            c2 -= np.int64(k)
        e = multi[b3 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p3 > n3:
                return -1
            d, taken = _one(wb, s3, p3, single)
            if taken == ZERO:
                return -1
            out[o3] = center + d
            p3 += taken
            o3 += FOUR
            c3 -= 1
            b3 = _read(wb, s3, p3)
        else:
            out[o3] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o3 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o3 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p3 += t
            b3 >>= t
            o3 += k << TWO
            c3 -= np.int64(k)
        e = multi[b0 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p0 > n0:
                return -1
            d, taken = _one(wb, s0, p0, single)
            if taken == ZERO:
                return -1
            out[o0] = center + d
            p0 += taken
            o0 += FOUR
            c0 -= 1
            b0 = _read(wb, s0, p0)
        else:
            out[o0] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o0 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o0 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p0 += t
            b0 >>= t
            o0 += k << TWO
            c0 -= np.int64(k)
        e = multi[b1 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p1 > n1:
                return -1
            d, taken = _one(wb, s1, p1, single)
            if taken == ZERO:
                return -1
            out[o1] = center + d
            p1 += taken
            o1 += FOUR
            c1 -= 1
            b1 = _read(wb, s1, p1)
        else:
            out[o1] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o1 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o1 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p1 += t
            b1 >>= t
            o1 += k << TWO
            c1 -= np.int64(k)
        e = multi[b2 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p2 > n2:
                return -1
            d, taken = _one(wb, s2, p2, single)
            if taken == ZERO:
                return -1
            out[o2] = center + d
            p2 += taken
            o2 += FOUR
            c2 -= 1
            b2 = _read(wb, s2, p2)
        else:
            out[o2] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o2 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o2 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p2 += t
            b2 >>= t
            o2 += k << TWO
            c2 -= np.int64(k)
        e = multi[b3 & MULTI_MASK]
        k = (e >> FOUR) & THREE
        if k == ZERO:
            if p3 > n3:
                return -1
            d, taken = _one(wb, s3, p3, single)
            if taken == ZERO:
                return -1
            out[o3] = center + d
            p3 += taken
            o3 += FOUR
            c3 -= 1
            b3 = _read(wb, s3, p3)
        else:
            out[o3] = center + np.uint64(np.int64(e << np.uint64(32)) >> 48)
            out[o3 + FOUR] = center + np.uint64(np.int64(e << np.uint64(16)) >> 48)
            out[o3 + np.uint64(8)] = center + np.uint64(np.int64(e) >> 48)
            t = e & np.uint64(15)
            p3 += t
            b3 >>= t
            o3 += k << TWO
            c3 -= np.int64(k)
    p0 = _finish(wb, s0, n0, p0, o0, c0, multi, single, center, out)
    p1 = _finish(wb, s1, n1, p1, o1, c1, multi, single, center, out)
    p2 = _finish(wb, s2, n2, p2, o2, c2, multi, single, center, out)
    p3 = _finish(wb, s3, n3, p3, o3, c3, multi, single, center, out)
    if (p0 > n0) | (p1 > n1) | (p2 > n2) | (p3 > n3):
        return -1
    return 0


@njit(inline="always")
def _integrate_lanes(out, n, order, first, firstd):
    """Residuals ``out[order:n]`` integrated ``order`` times from the heads, in place."""
    if order == 0:
        return
    out[0] = first
    prev = first
    if order == 1:
        for i in range(ONE, np.uint64(n)):
            prev = prev + np.uint64(out[i])
            out[i] = prev
        return
    prevd = firstd
    prev = first + firstd
    out[1] = prev
    for i in range(TWO, np.uint64(n)):
        prevd = prevd + np.uint64(out[i])
        prev = prev + prevd
        out[i] = prev


@njit(inline="always")
def huff_head(buf, pos, end, n):
    """Parse the fields a huffman payload of ``n`` values at ``buf[pos:end]`` starts with
    (the single-stream one too): ``order u8`` (0..2, at most ``n``), its heads, ``center``,
    ``lo``, ``hi`` and the 4-bit code lengths, each checked against ``end`` before it is
    read, the lengths against Kraft's inequality. Returns ``(status, position after them,
    order, first, first delta, center, code lengths)``; status 0 or an ``ERR_*`` code."""
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    if pos + 1 > end:
        return ERR_SHORT, pos, 0, ZERO, ZERO, ZERO, lens
    order = np.int64(buf[pos])
    pos += 1
    if order > 2 or n < order:
        return ERR_ORDER, pos, 0, ZERO, ZERO, ZERO, lens
    if pos + 8 * order + 10 > end:
        return ERR_SHORT, pos, 0, ZERO, ZERO, ZERO, lens
    first, firstd, center, pos = _read_heads(buf, pos, order)
    lo = np.int64(buf[pos])
    hi = np.int64(buf[pos + 1])
    pos += 2
    if lo > hi or hi >= HUFF_NSYM:
        return ERR_SYMBOLS, pos, 0, ZERO, ZERO, ZERO, lens
    nb = (hi - lo + 2) // 2
    if pos + nb > end:
        return ERR_SHORT, pos, 0, ZERO, ZERO, ZERO, lens
    for sym in range(lo, hi + 1):
        b = np.int64(buf[pos + (sym - lo) // 2])
        lens[sym] = (b & 15) if (sym - lo) % 2 == 0 else (b >> 4)
    pos += nb
    if not huff_kraft_ok(lens, HUFF_MAXLEN):
        return ERR_KRAFT, pos, 0, ZERO, ZERO, ZERO, lens
    return 0, pos, order, first, firstd, center, lens


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
    status, pos, order, first, firstd, center, lens = huff_head(buf, pos, end, n)
    if status != 0:
        return status, pos
    if pos + 4 * HUFF_STREAMS > end:
        return ERR_SHORT, pos
    m = n - order
    nbits = np.empty(HUFF_STREAMS, dtype=np.int64)
    starts = np.empty(HUFF_STREAMS, dtype=np.int64)
    total = 0
    total_bytes = 0
    for j in range(HUFF_STREAMS):
        nbits[j] = _rd32(buf, pos)
        pos += 4
        count = (m - j + HUFF_STREAMS - 1) // HUFF_STREAMS
        if nbits[j] > 74 * max(count, 0):
            return ERR_STREAM_LENGTH, pos
        nbytes = (nbits[j] + 7) // 8
        starts[j] = total
        total += nbytes + STREAM_PAD
        total_bytes += nbytes
    if pos + total_bytes > end:
        return ERR_SHORT, pos
    wb = np.zeros(total, dtype=np.uint8)
    for j in range(HUFF_STREAMS):
        nbytes = (nbits[j] + 7) // 8
        copy_bytes(wb, starts[j], buf, pos, nbytes)
        pos += nbytes
    single = huff_value_table(lens, MULTI_BITS)
    if alp or 16 * total_bytes > 19 * m or m < MULTI_MIN_VALUES:
        # Long codes (more than 9.5 bits a value: mostly one value per lookup), ALP lanes
        # (whose int-to-float division then overlaps the decoding) and short blocks (the
        # multi-value table costs about as much to build as 8k values to decode): one
        # value per lookup, integrated in the same pass.
        status = huff_decode4_integrate(
            wb, starts, nbits, m, single, order, center, first, firstd, out, fout, alp, ff, fe
        )
    else:
        multi = huff_multi_table(single)
        status = huff_decode_multi(wb, starts, nbits, m, multi, single, center, out, order)
        if status == 0:
            _integrate_lanes(out, n, order, first, firstd)
    if status != 0:
        return ERR_STREAM, pos
    return 0, pos
