"""The single-stream huffman scheme (format version 9): the huffman payload of short
blocks with one stream and its bit count as a varint, where the four interleaved streams'
lengths (16 bytes) and their last bytes' padding are a tenth of a small block's payload.

Built by :func:`edgekit.codec._schemes.encode_int_lanes` from the huffman stage of
:mod:`edgekit.codec._kernels.huffman` (the same residual order, center and code
lengths), and decoded one value a lookup with its table.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import (
    ERR_SHORT,
    ERR_STREAM,
    ERR_STREAM_LENGTH,
    HUFF_MAXLEN,
)
from edgekit.codec._kernels.bitpack import (
    ZERO,
    copy_bytes,
    residuals,
)
from edgekit.codec._kernels.huffman import (
    MULTI_BITS,
    STREAM_PAD,
    _integrate_lanes,
    _one,
    _put_value,
    coded_bits,
    huff_codes,
    huff_head,
    huff_head_size,
    huff_lengths,
    huff_prepare,
    huff_value_table,
    put_huff_head,
    residual_center,
    symbol_entries,
)

#: Most bits a value takes (a 12-bit code and 62 extra bits).
_MAX_VALUE_BITS = 74


@njit
def _varint_len(v):
    size = 1
    while v >= 0x80:
        v >>= 7
        size += 1
    return size


@njit
def huff1_payload(u, order, limit):
    """The single-stream huffman payload of lanes ``u`` (at least 3 values) with residual
    ``order``: ``order u8``, its heads (u64 each), ``center u64``, ``lo u8, hi u8``, the
    code lengths of symbols ``lo..hi`` (4 bits each, low nibble first), the stream's bit
    count (a LEB128 varint), then the stream. Empty when it would be ``limit`` bytes or
    more."""
    empty = np.zeros(0, dtype=np.uint8)
    r = residuals(u, order)
    m = r.size
    if m == 0:
        return empty
    center = residual_center(r)
    z, syms, counts = huff_prepare(r, center)
    lens = huff_lengths(counts, HUFF_MAXLEN)
    bits = coded_bits(counts, lens)
    size = huff_head_size(order, lens) + _varint_len(bits) + (bits + 7) // 8
    if size >= limit:
        return empty
    codes = huff_codes(lens, HUFF_MAXLEN)
    ent = symbol_entries(codes, lens)
    words = np.zeros((bits + 31) // 32 + 1, dtype=np.uint32)
    w = ZERO
    acc = ZERO
    nacc = ZERO
    for i in range(m):
        w, acc, nacc = _put_value(words, w, acc, nacc, z[i], ent[syms[i]])
    words[w] = np.uint32(acc)
    out = np.zeros(size, dtype=np.uint8)
    pos = put_huff_head(out, u, order, center, lens)
    v = bits
    while v >= 0x80:
        out[pos] = np.uint8((v & 0x7F) | 0x80)
        v >>= 7
        pos += 1
    out[pos] = np.uint8(v)
    pos += 1
    copy_bytes(out, pos, words.view(np.uint8), 0, size - pos)
    return out


@njit
def decode_huff1_block(buf, pos, end, n, out):
    """Parse and decode a single-stream huffman payload at ``buf[pos:end]`` into
    ``out[:n]`` (uint64 lanes). Every field is checked against ``end`` before it is read,
    and the stream must take exactly its bit count.

    Returns ``(status, position after the payload)``; status 0 or an ``ERR_*`` code.
    """
    status, pos, order, first, firstd, center, lens = huff_head(buf, pos, end, n)
    if status != 0:
        return status, pos
    m = n - order
    nbits = np.int64(0)
    shift = 0
    while True:
        if pos >= end or shift > 28:
            return ERR_SHORT if pos >= end else ERR_STREAM_LENGTH, pos
        b = np.int64(buf[pos])
        pos += 1
        nbits |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    if nbits > _MAX_VALUE_BITS * m:
        return ERR_STREAM_LENGTH, pos
    nbytes = (nbits + 7) // 8
    if pos + nbytes > end:
        return ERR_SHORT, pos
    wb = np.zeros(nbytes + STREAM_PAD, dtype=np.uint8)
    copy_bytes(wb, 0, buf, pos, nbytes)
    pos += nbytes
    single = huff_value_table(lens, MULTI_BITS)
    limit = np.uint64(nbits)
    p = ZERO
    at = ZERO
    for i in range(order, n):
        if p > limit:
            return ERR_STREAM, pos
        d, taken = _one(wb, at, p, single)
        if taken == ZERO:
            return ERR_STREAM, pos
        out[i] = center + d
        p += taken
    if p != limit:
        return ERR_STREAM, pos
    _integrate_lanes(out, n, order, first, firstd)
    return 0, pos
