"""One kernel call per block or frame from the Python side: the integer scheme chooser and
encoder, the ALP block encoder, and the loops that decode a frame's blocks.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import (
    ALP,
    BLOCK_HEADER,
    BLOCK_NOT_HERE,
    CHECKSUM_SIZE,
    COMPACT_FLAG,
    COPY,
    ERR_BLOCK_HEADER,
    ERR_BLOCK_PAYLOAD,
    ERR_TRAILING,
    FDIV,
    FGRID,
    FMULT,
    FMULT_ADJ,
    FOR,
    FQUANT,
    HEAD_1D,
    HUFF,
    HUFF1,
    HUFF_NSYM,
    HUFF_STREAMS,
    LAG,
    MULT,
    RANK,
    RANK_MAX,
    RANK_WIDE_MAX,
    RAW,
    REPEAT,
    REPEAT_DIV,
    SHORT_CHECKSUM_SIZE,
)
from edgekit.codec._kernels.bitpack import (
    BITMAP_SPAN,
    BYTEMAP_SPAN,
    ONE,
    SIGN,
    ZERO,
    _nwords,
    _put64,
    _put_varint,
    _rd32,
    _varint_size,
    bitlen,
    copy_bytes,
    decode_packed_block,
    even_next,
    int_stats,
    pack_residuals,
    residuals,
    sample_distinct_adjacent,
    sample_span,
)
from edgekit.codec._kernels.floats import (
    NEVER,
    alp_choose,
    alp_encode,
    alp_exceptions,
    alp_plan,
    count_distinct,
    decode_alp_block,
    dictionary_may_pay,
    even_sample,
)
from edgekit.codec._kernels.huff1 import decode_huff1_block
from edgekit.codec._kernels.huffdec import decode_huff_lanes, decode_huff_summed
from edgekit.codec._kernels.huffman import (
    CENTER_SAMPLE_MIN,
    THIRD_IF_CHEAPEST,
    _symbol,
    byte_rows,
    cheapest_order,
    huff_candidate,
    huff_centered,
    huff_counted,
    huff_fit,
    huff_sampled,
    huff_third,
    order_bits,
    order_sample,
    sampled_bytes,
    third_order_gain,
)
from edgekit.codec._kernels.lag import fdiv_pays, unlag
from edgekit.codec._kernels.modes import (
    KMAX,
    decode_fmult_block,
    decode_fquant_block,
    decode_mult_block,
    fmult_ok,
    fquant_lanes,
    int_mult_plan,
    mult_lanes,
    residual_at,
)
from edgekit.codec._kernels.repeatdec import (
    decode_fdiv_block,
    decode_multiples_block,
    decode_repeat_block,
    decode_repeat_div_block,
)
from edgekit.codec._kernels.spans import fill_spans, read_span_table

#: Third differences (a lag block of lag 1 over huffman of order 2) are tried on blocks of
#: at least this many values where they cost at least THIRD_ORDER_GAIN bits a value less
#: than second differences on the order sampler's windows (PPG, PCM audio: 0.2-0.5).
THIRD_ORDER_MIN_VALUES = 256
THIRD_ORDER_GAIN = 0.1

#: A residual order whose range is this many bits wider than the narrowest order's is not
#: measured on the sample (``order_bits``' skip mask).
ORDER_SKIP_BITS = 2

#: No Huffman candidate is built where the order sampler's estimate of its size is above
#: this many times the size to beat.
HUFF_SAMPLE_SLACK = 1.25


@njit
def int_payload(u, entropy, raw_size, third, stats=None):
    """The cheapest integer scheme for lanes ``u`` and its payload, in one call.

    Sizes of for/delta/delta-of-delta come from :func:`int_stats` (``stats`` where the
    caller has them: :func:`narrow_lanes`'); the huffman candidate
    is built when ``entropy`` and ``u.size >= 64`` and the narrowest order is at least 2
    bits wide, on the order :func:`order_bits` finds cheapest on a sample. With ``third``
    (a block's own scheme, not nested lanes), where that order is 2 and third differences
    cost at least THIRD_ORDER_GAIN bits a value less on the sample, it is built on them
    instead: a lag block of lag 1 with nested huffman of order 2 (format version 6).
    ``raw_size`` is the size to beat: the raw payload's, or a mode's (scheme 0 with an
    empty payload: nothing beat it; the caller writes its own). Below a bit a value, only
    a constant residual is tried. Returns ``(scheme id, payload bytes)``.
    """
    n = u.size
    if n >= 64 and raw_size <= _least_packed(n) and not constant_order(u):
        # Every bit-packed payload takes a bit a value or more, and so does the Huffman
        # stage (a code of at least a bit a residual, or of one symbol with 2 extra bits
        # or more where no residual order is constant) behind a longer head (27 bytes or
        # more): only a constant residual (width 0) could beat ``raw_size``. (A clock's
        # ranked pairs take less: the rank scheme, not this one.)
        return RAW, np.zeros(0, dtype=np.uint8)
    st = int_stats(u) if stats is None else stats
    best_scheme = RAW
    best_size = raw_size
    best_order = -1
    widths = np.full(3, -1, dtype=np.int64)
    for order in range(3):
        if n < order or (order > 0 and n == 0):
            continue
        width = bitlen(st[2 * order + 1] - st[2 * order]) if n > order else 0
        widths[order] = width
        size = 8 * order + 9 + 8 * _nwords(n - order, width)
        if size < best_size:
            best_scheme = FOR + order
            best_size = size
            best_order = order
    if entropy and n >= 64:
        order = 0
        for o in range(1, 3):
            if widths[o] >= 0 and widths[o] < widths[order]:
                order = o
        if widths[order] >= 2:
            narrowest = widths[order]
            limit = min(9 + 8 * _nwords(n, narrowest), best_size)
            # (where another order is about as narrow, or a few jumps made them all as
            # wide, the narrowest range need not be the cheapest code: sample)
            third = third and n >= THIRD_ORDER_MIN_VALUES
            bits = np.zeros(0)
            centers = np.zeros(0, dtype=np.uint64)
            sampled = False
            far = False
            if widths[(order + 1) % 3] <= narrowest + 2 or widths[(order + 2) % 3] <= narrowest + 2:
                # (an order ORDER_SKIP_BITS wider or more is not measured: each costs a
                # median and the symbols of the sample)
                skip = 0
                for o in range(3):
                    if widths[o] >= narrowest + ORDER_SKIP_BITS:
                        skip |= 1 << o
                # (order 3 only where order 2 may win: its gain is read only then)
                bits, centers = order_sample(u, 3 if third else 2, skip | THIRD_IF_CHEAPEST)
                sampled = n >= CENTER_SAMPLE_MIN
                order = cheapest_order(bits, order)
                # (far above the size to beat on the sample: a clock's deltas against its
                # ranked pairs; no Huffman stage)
                far = sampled_bytes(bits, order, n) > HUFF_SAMPLE_SLACK * limit
            if third and order == 2 and not far:
                if bits.size < 4:
                    bits = order_bits(u, 3, 0)
                if third_order_gain(bits, n) >= THIRD_ORDER_GAIN:
                    huff = (
                        huff_third(u, limit - 3, centers[3])
                        if sampled
                        else huff_third(u, limit - 3)
                    )
                    if huff.size > 0:
                        out = np.empty(3 + huff.size, dtype=np.uint8)
                        out[0], out[1], out[2] = 1, 0, HUFF  # lag u16 = 1, nested scheme id
                        out[3:] = huff
                        return LAG, out
            if far:
                huff = np.zeros(0, dtype=np.uint8)
            elif sampled:
                huff = huff_sampled(u, order, limit, centers[order])
            else:
                huff = huff_candidate(u, order, limit)
            if huff.size > 0 and huff.size < best_size:
                return HUFF, huff
    if best_scheme == RAW:
        return RAW, np.zeros(0, dtype=np.uint8)
    order = best_order
    lo = st[2 * order] ^ SIGN
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
def _least_packed(n):
    """The least bit-packed payload of ``n`` lanes with residuals of a bit or wider."""
    least = 9 + 8 * _nwords(n, 1)
    for order in range(1, 3):
        least = min(least, 8 * order + 9 + 8 * _nwords(n - order, 1))
    return least


#: :func:`constant_order` compares this many residuals between checks (a loop of a fixed
#: count without an exit vectorises: a whole clock block is read in a few microseconds).
_CONSTANT_CHUNK = 256


@njit
def constant_order(u):
    """Whether the values, the deltas or the deltas of deltas of ``u`` (3 or more values)
    are all equal; each order read until it has changed, _CONSTANT_CHUNK at a time."""
    return _constant_residual(u, 0) or _constant_residual(u, 1) or _constant_residual(u, 2)


@njit
def _constant_residual(u, order):
    """Whether the order-``order`` residuals of ``u`` (more than ``order`` values) are all
    equal."""
    first = residual_at(u, 0, order)
    m = u.size - order
    full = m // _CONSTANT_CHUNK * _CONSTANT_CHUNK
    for s in range(0, full, _CONSTANT_CHUNK):
        if _chunk_differs(u[s : s + _CONSTANT_CHUNK + order], order, first):
            return False
    for i in range(full, m):  # noqa: SIM110 (a loop numba compiles)
        if residual_at(u, i, order) != first:
            return False
    return True


@njit(inline="always")
def _chunk_differs(a, order, first):
    """Whether some of the first _CONSTANT_CHUNK order-``order`` residuals of ``a`` is not
    ``first`` (no exit in the loops)."""
    differ = ZERO_U64
    if order == 0:
        for i in range(_CONSTANT_CHUNK):
            differ |= a[i] ^ first
    elif order == 1:
        for i in range(_CONSTANT_CHUNK):
            differ |= (a[i + 1] - a[i]) ^ first
    else:
        for i in range(_CONSTANT_CHUNK):
            differ |= ((a[i + 2] - a[i + 1]) - (a[i + 1] - a[i])) ^ first
    return differ != ZERO_U64


#: Slots of the hash table that counts distinct residuals (a power of two >= 2 x 255),
#: and of the direct table of the residuals -128 to 127.
_RANK_SLOTS = 512
_RANK_DIRECT = 256
#: A row of :func:`_rank_counts`' counts (an index is a uint8).
_RANK_ROW = 256


#: The nested rank scheme gives up on an order whose estimate (the single ranks' entropy)
#: is this many times its size limit: its pairs code at most a few percent below the
#: estimate on clocks (the PPG logger's lag residuals: 7,140 bytes against 7,427).
RANK_PAIR_SLACK = 1.25

#: Residuals of each order the wide-rank pre-check sorts.
_RANK_SAMPLE = 512


@njit
def _rank_counts(u, order, kmax):
    """Distinct order-``order`` residuals of ``u`` (at most ``kmax`` <= 255, in order of
    appearance), their counts, each residual's index and the counts by stream (row ``s``:
    residuals ``i`` with ``i % 4 == s``, the Huffman stage's streams); empty arrays when
    there are more (found early on busy signals). Two passes: each residual's index
    (residuals from -128 to 127 looked up in a direct table, others in an open-addressing
    hash table), then the indexes counted in four rows, so a run of one residual does not
    wait on each increment (counted in the first pass, the increment waited on the
    lookup: 232 -> 125-160 us on a clock's 65,536 values)."""
    values, index = _rank_index(u, order, kmax)
    if index.size == 0:  # (more than kmax, or no residual)
        none = np.zeros((HUFF_STREAMS, 0), dtype=np.int64)
        return values, none[0], index, none
    k = values.size
    table = byte_rows(index, _RANK_ROW)  # (HUFF_STREAMS rows: the streams' counts)
    rows = np.empty((HUFF_STREAMS, k), dtype=np.int64)
    for s in range(HUFF_STREAMS):
        for j in range(k):
            rows[s, j] = table[s * _RANK_ROW + j]
    counts = rows[0] + rows[1] + rows[2] + rows[3]
    return values, counts, index, rows


@njit
def _rank_index(u, order, kmax):
    """:func:`_rank_counts`' first pass: the distinct order-``order`` residuals of ``u`` (at
    most ``kmax``, in order of appearance) and each residual's index in them; empty arrays
    where there are more."""
    m = u.size - order
    values = np.empty(kmax, dtype=np.uint64)
    index = np.empty(m, dtype=np.uint8)
    direct = np.full(_RANK_DIRECT, -1, dtype=np.int64)
    slots = np.full(_RANK_SLOTS, -1, dtype=np.int64)
    mask = np.uint64(_RANK_SLOTS - 1)
    half = np.uint64(_RANK_DIRECT // 2)
    k = 0
    for i in range(m):
        v = residual_at(u, i, order)
        key = v + half
        small = key < np.uint64(_RANK_DIRECT)
        h = ZERO
        if small:
            j = direct[key]
        else:
            h = ((v * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
            j = slots[h]
            while j >= 0 and values[j] != v:
                h = (h + ONE) & mask
                j = slots[h]
        if j < 0:  # a new residual
            if k == kmax:
                return values[:0], index[:0]
            values[k] = v
            if small:
                direct[key] = k
            else:
                slots[h] = k
            j = k
            k += 1
        index[i] = j
    return values[:k], index


@njit
def _rank_symbols(rank_counts):
    """Symbol counts of the Huffman stage for ranks of counts ``rank_counts`` (rank ``j``
    is the zigzag value ``j`` around the center 0: see :func:`_rank_lane`)."""
    counts = np.zeros(HUFF_NSYM, dtype=np.int64)
    for j in range(rank_counts.size):
        s, _e = _symbol(np.uint64(j))
        counts[s] += rank_counts[j]
    return counts


@njit
def _ranks_fit(rank_counts, m, limit):
    """Whether ``huff_centered`` codes ``m`` ranks of counts ``rank_counts`` in a payload
    (one under ``limit`` bytes), from the counts alone."""
    lens, _head = huff_fit(_rank_symbols(rank_counts), m, 0, limit)
    return lens.size > 0


@njit
def _rank_costs(rank_counts, m, limit):
    """Bits of each rank (its code plus extra bits) in ``huff_centered``'s payload of ``m``
    ranks of counts ``rank_counts`` for ``limit``, and that payload's head bytes; an empty
    array where it writes none."""
    lens, head = huff_fit(_rank_symbols(rank_counts), m, 0, limit)
    cost = np.zeros(rank_counts.size if lens.size else 0, dtype=np.int64)
    for j in range(cost.size):
        s, e = _symbol(np.uint64(j))
        cost[j] = lens[s] + e
    return cost, head


@njit(inline="always")
def _rank_lane(j):
    """The lane whose zigzag value is the rank ``j`` (0, -1, 1, -2, ...): coded around a
    center 0, ranks 0..7 are the huffman symbols without extra bits."""
    return (j >> ONE) ^ (ZERO - (j & ONE))


@njit
def _rank_lanes(index, rank_of):
    """The lanes (:func:`_rank_lane`) of the ranks ``rank_of[index]``."""
    out = np.empty(index.size, dtype=np.uint64)
    for i in range(index.size):
        out[i] = _rank_lane(rank_of[index[i]])
    return out


@njit
def _zigzag(v):
    """zigzag of a uint64 read as int64: small magnitudes become small."""
    return (v << ONE) ^ (ZERO - (v >> np.uint64(63)))


@njit
def _by_count(counts):
    """``rank[j]`` of each index ``j``, most frequent first (ties by index), and the indexes
    in rank order."""
    order = np.argsort(-counts, kind="mergesort")
    rank = np.empty(counts.size, dtype=np.uint64)
    for j in range(counts.size):
        rank[order[j]] = np.uint64(j)
    return rank, order


@njit
def rank_payload(u, limit):
    """The rank-scheme payload (nested) of lanes ``u``: see :func:`_rank_payload`."""
    return _rank_payload(u, limit, 2, RANK_MAX)


@njit
def wide_rank_payload(u, limit, stats):
    """The wide-rank payload of lanes ``u`` (a block's own scheme, format version 3), or
    an empty array: as the rank scheme, for residual orders of 2 .. RANK_WIDE_MAX distinct
    values, kept only when it saves at least 1/64 of ``limit`` (where it saves less, the
    ranks code about as the residuals do, and building their Huffman code doubled the
    block's compress time). Few distinct residuals far from 0 (dates as ``YYYYMMDD``:
    steps of 7, 76 to 79 and 8,876) are where the Huffman stage's extra bits cost most.
    ``stats``: the lanes' :func:`int_stats` where the caller has them, else empty."""
    target = limit - limit // 64
    if u.size < 64 or 16 * target <= u.size - 2:
        return np.zeros(0, dtype=np.uint8)  # (as _rank_payload: before the pre-check)
    if u.size >= 16 * _RANK_SAMPLE and not _rank_may_pay(u, RANK_WIDE_MAX, limit, stats):
        return np.zeros(0, dtype=np.uint8)
    return _rank_payload(u, target, 2, RANK_WIDE_MAX)


#: The wide-rank pre-check builds the ranks of dense residuals where their estimate on the
#: sample (:func:`_dense_rank_bytes`) is under this share of the size they must beat.
RANK_DENSE_GAIN = 0.92


@njit
def _rank_may_pay(u, kmax, limit, stats):
    """The wide-rank pre-check of lanes ``u`` whose other payload takes ``limit`` bytes.

    Whether some residual order's first 512 values hold at most ``kmax`` distinct values
    (else the block holds more: exact) of which under a quarter lie next to another (a
    dense run of integers is what the huffman classes code near its entropy; ADC counts of
    a non-integer scale are 9 or 10 apart); or, of the orders with at most ``kmax``, the
    one with fewest spans at most ``kmax`` integers over the block (``stats``: its
    :func:`int_stats`, or empty) and its ranks, estimated on 512 evenly spread residuals,
    take under RANK_DENSE_GAIN of ``limit`` (heavy-tailed counts: visits to a doctor, 0 to
    70, whose huffman classes of 8 to 11, 12 to 15, ... spread their extra bits evenly over
    ever rarer values). Counted on 3 x 512 values (:func:`sample_distinct_adjacent`)
    instead of the whole block (PPG, PCM audio); done on blocks of 8,192 values or more,
    where it costs less than the counting it may save."""
    fewest = kmax + 1
    dense_order = -1
    for order in range(3):
        s = min(u.size - order, _RANK_SAMPLE)
        if s < 2:
            return False
        sample = np.empty(s, dtype=np.int64)
        for i in range(s):
            sample[i] = np.int64(residual_at(u, i, order))
        if _wide_span(sample) and count_distinct(sample, kmax) > kmax:
            continue  # (wide noise: no sort of the sample)
        distinct, adjacent = sample_distinct_adjacent(sample)
        if distinct <= kmax and 4 * adjacent < distinct:
            return True
        if distinct < fewest:
            fewest, dense_order = distinct, order
    if dense_order < 0:
        return False
    st = stats if stats.size else int_stats(u)
    if st[2 * dense_order + 1] - st[2 * dense_order] >= np.uint64(kmax):
        return False  # (a quiet stretch of audio in the sample, loud elsewhere)
    # (the first values of a table's column may be one group's: an even spread for this)
    m = u.size - dense_order
    spread = np.empty(_RANK_SAMPLE, dtype=np.int64)
    q, r = divmod(m - 1, _RANK_SAMPLE - 1)
    at = rem = 0
    for j in range(_RANK_SAMPLE):  # (at j * (m - 1) // (_RANK_SAMPLE - 1))
        spread[j] = np.int64(residual_at(u, at, dense_order))
        at, rem = even_next(at, rem, q, r, _RANK_SAMPLE - 1)
    return _dense_rank_bytes(spread, m) < RANK_DENSE_GAIN * limit


@njit
def _dense_rank_bytes(s, m):
    """Estimated bytes of the ranks of ``m`` residuals from a sample ``s`` of them (int64,
    in any order), as the rank scheme codes them one by one: each distinct value's rank by
    falling count, the ranks' huffman symbols (their entropy on the sample) and extra bits,
    and a varint a distinct value for the dictionary; inf where they span BYTEMAP_SPAN
    integers or more (counted in a table of the span)."""
    lo, span = sample_span(s)
    if span >= np.uint64(BYTEMAP_SPAN):
        return math.inf
    counts = np.zeros(np.int64(span) + 1, dtype=np.int64)
    for i in range(s.size):
        counts[np.int64(np.uint64(s[i]) - np.uint64(lo))] += 1
    dictionary = 0
    for j in range(counts.size):
        if counts[j]:
            dictionary += _varint_size(_zigzag(np.uint64(lo + j)))
    symbols = _rank_symbols(-np.sort(-counts[counts > 0]))
    bits = 0.0
    for sym in range(HUFF_NSYM):
        c = symbols[sym]
        if c:
            bits += c * (math.log2(s.size / c) + (0 if sym < 8 else (sym - 8) // 2 + 2))
    return bits / s.size * m / 8 + dictionary


@njit
def _wide_span(s):
    """Whether the int64 values ``s`` span BITMAP_SPAN or more (sorted, not marked in a
    bitmap, by :func:`sample_distinct_adjacent`)."""
    lo = s[0]
    hi = s[0]
    for i in range(s.size):
        lo = min(lo, s[i])
        hi = max(hi, s[i])
    return np.uint64(hi) - np.uint64(lo) >= np.uint64(BITMAP_SPAN)


#: Blocks of at least RANK_ORDER_MIN_VALUES values choose the rank scheme's residual order
#: on RANK_ORDER_WINDOWS evenly spaced windows of RANK_ORDER_WINDOW values, and count only
#: that order in full (each full count takes a clock's block of 65,536 values ~90 us).
RANK_ORDER_MIN_VALUES = 32768
RANK_ORDER_WINDOWS, RANK_ORDER_WINDOW = 8, 512


@njit
def _rank_estimate(values, counts, m, scale, order):
    """Estimated bytes of the rank payload of order ``order`` for ``m`` residuals of
    distinct ``values`` seen ``counts`` times among ``scale`` (the entropy of the ranks,
    scaled to ``m``, plus the dictionary)."""
    bits = 0.0
    for j in range(values.size):
        c = counts[j]
        bits += c * math.log2(scale / c) * (m / scale) + 8 * _varint_size(_zigzag(values[j]))
    return 1 + 8 * order + 1 + bits / 8


@njit(inline="always")
def _rank_window_start(n, k):
    """Where the ``k``-th of the RANK_ORDER_WINDOWS sampled windows of ``n`` lanes starts."""
    return k * (n - RANK_ORDER_WINDOW) // (RANK_ORDER_WINDOWS - 1)


@njit
def _sampled_rank_order(u, kmin, kmax):
    """The residual order of least :func:`_rank_estimate` on the sampled windows of ``u``
    among those with ``kmin`` to ``kmax`` distinct residuals there, or -1; and that
    estimate (scaled to the block; inf for -1)."""
    w = RANK_ORDER_WINDOW
    windows = np.empty(RANK_ORDER_WINDOWS * w, dtype=np.uint64)
    for k in range(RANK_ORDER_WINDOWS):
        start = _rank_window_start(u.size, k)
        for i in range(w):
            windows[k * w + i] = u[start + i]
    return _windows_rank_order(windows, u.size, kmin, kmax)


@njit
def _windows_rank_order(windows, n, kmin, kmax):
    """:func:`_sampled_rank_order` of ``n`` lanes from their sampled ``windows`` (back to
    back)."""
    w = RANK_ORDER_WINDOW
    best_order = -1
    best_est = math.inf
    for order in range(3):
        if order == 2 and best_order == 1:
            break
        per = w - order
        r = np.empty(RANK_ORDER_WINDOWS * per, dtype=np.uint64)
        for k in range(RANK_ORDER_WINDOWS):
            for i in range(per):
                r[k * per + i] = residual_at(windows, k * w + i, order)
        vals, cnts, _idx, _rows = _rank_counts(r, 0, kmax)
        if vals.size < kmin:
            continue
        est = _rank_estimate(vals, cnts, n - order, r.size, order)
        if est < best_est:
            best_est = est
            best_order = order
    return best_order, best_est


@njit
def _pair_counts(index, m, k):
    """The ranks of ``m`` residuals of appearance ``index`` (``k`` distinct) two by two, the
    full pairs only: each pair's appearance code ``a * k + b`` (``(m + 1) // 2`` slots; an
    odd last one's is set by :func:`_pairs_in_use`), the codes in use (in no set order),
    and each one's count among the pairs at even and at odd positions (values
    ``i % 4`` 0, 1 and 2, 3: the Huffman stage's streams). The codes in use are found on
    the pairs where the k * k table has more entries than there are pairs (a wide
    dictionary of 192 values: 36,864 codes, a few thousand in use; three passes over the
    table took 150 us)."""
    half = m // 2
    codes = np.empty((m + 1) // 2, dtype=np.uint16)
    # (rows for even and odd pairs, two each where the table is small: a run of one pair
    # does not wait on each increment; a clock's 32,768 pairs, 12 us less)
    small = k * k <= half
    tables = np.zeros((4 if small else 2, k * k), dtype=np.int32)
    if small:
        for t in range(half):
            c = index[2 * t] * k + index[2 * t + 1]
            codes[t] = c
            tables[t & 3, c] += 1
        for c in range(k * k):
            tables[0, c] += tables[2, c]
            tables[1, c] += tables[3, c]
    else:
        for t in range(half):
            c = index[2 * t] * k + index[2 * t + 1]
            codes[t] = c
            tables[t & 1, c] += 1
    cap = min(half, k * k)
    appear = np.empty(cap, dtype=np.int64)
    even = np.empty(cap, dtype=np.int64)
    odd = np.empty(cap, dtype=np.int64)
    used = 0
    if small:  # (a clock's 32,768 pairs: the 961 codes of the table are fewer)
        for c in range(k * k):
            if tables[0, c] + tables[1, c] > 0:
                appear[used] = c
                even[used] = tables[0, c]
                odd[used] = tables[1, c]
                used += 1
        return codes, appear[:used], even[:used], odd[:used]
    for t in range(half):
        c = codes[t]
        if tables[0, c] + tables[1, c] > 0:  # (a code's first pair: its counts, cleared)
            appear[used] = c
            even[used] = tables[0, c]
            odd[used] = tables[1, c]
            tables[0, c] = 0
            tables[1, c] = 0
            used += 1
    return codes, appear[:used], even[:used], odd[:used]


@njit
def _paired_rows(index, m, k, appear, even, odd):
    """The counts by stream (:func:`_rank_counts`' rows) of ``m`` residuals of appearance
    ``index`` from their full pairs' counts (:func:`_pair_counts`), and an odd last one:
    no pass of their own over the residuals (29 of a clock block's 210 us)."""
    rows = np.zeros((HUFF_STREAMS, k), dtype=np.int64)
    for j in range(appear.size):
        a = appear[j] // k
        b = appear[j] % k
        rows[0, a] += even[j]
        rows[1, b] += even[j]
        rows[2, a] += odd[j]
        rows[3, b] += odd[j]
    if m & 1:
        rows[(m - 1) % HUFF_STREAMS, index[m - 1]] += 1
    return rows


@njit
def _pairs_in_use(codes, appear, even, odd, index, m, k, fill, rank_of):
    """The pair codes by rank ``rank_of[a] * k + rank_of[b]`` in use (ascending, as the
    format orders them), their counts and their appearance codes, from
    :func:`_pair_counts`' (an odd last residual paired with ``fill``, its code set)."""
    used = appear.size
    counts = even + odd
    if m & 1:
        c = index[m - 1] * k + fill
        codes[codes.size - 1] = c
        at = -1
        for j in range(used):
            if appear[j] == c:
                at = j
        if at >= 0:
            counts[at] += 1
        else:
            appear = np.append(appear, np.int64(c))
            counts = np.append(counts, np.int64(1))
            used += 1
    ranked = np.empty(used, dtype=np.int64)
    for j in range(used):
        c = appear[j]
        ranked[j] = np.int64(rank_of[c // k]) * k + np.int64(rank_of[c % k])
    order = np.argsort(ranked)
    return ranked[order], counts[order], appear[order]


@njit
def _rank_payload(u, limit, kmin, kmax):
    """The rank-scheme payload of lanes ``u``, or an empty array when no residual order has
    ``kmin`` to ``kmax`` distinct values or the payload is not below ``limit`` bytes.

    The order is the one of least estimated size (entropy of the ranks plus the
    dictionary). The ranks are then huffman-coded one by one, or two by two (a pair
    dictionary, most frequent pair first) when that is smaller: a prefix code spends at
    least a bit per symbol; pairs bring a clock's deltas of 0, 15 and 16 ms from 1.9 to
    1.5 bits each (a PPG logger's clock).
    """
    n = u.size
    empty = np.zeros(0, dtype=np.uint8)
    # Pairs spend at least half a bit per rank.
    if n < 64 or 16 * limit <= n - 2:
        return empty
    best_order = -1
    # (ranked pairs can code below the single ranks' entropy: the nested scheme, whose
    # pairs are tried, drops an order only above RANK_PAIR_SLACK times the limit)
    best_est = float(limit) * (RANK_PAIR_SLACK if kmax <= RANK_MAX else 1.0)
    values = np.zeros(0, dtype=np.uint64)
    counts = np.zeros(0, dtype=np.int64)
    index = np.zeros(0, dtype=np.uint8)
    rows = np.zeros((HUFF_STREAMS, 0), dtype=np.int64)
    # (the pairs counted once: where the order counted in full has at most RANK_MAX
    # distinct residuals, before its estimate, and its rows from them)
    paired = False
    codes = np.zeros(0, dtype=np.uint16)
    appear = np.zeros(0, dtype=np.int64)
    even = odd = appear
    if n >= RANK_ORDER_MIN_VALUES:
        # Only the order of least estimated size on a sample is counted in full (where
        # its full count does not hold kmin to kmax values: every order, as below).
        order, sampled = _sampled_rank_order(u, kmin, kmax)
        if order >= 0 and sampled >= best_est:
            return empty  # (on the sample already: no order is counted in full)
        if order >= 0:
            if kmax <= RANK_MAX:
                vals, idx = _rank_index(u, order, kmax)
                cnts = np.zeros(0, dtype=np.int64)
                rws = rows
                if vals.size >= kmin:
                    codes, appear, even, odd = _pair_counts(idx, n - order, vals.size)
                    rws = _paired_rows(idx, n - order, vals.size, appear, even, odd)
                    cnts = rws[0] + rws[1] + rws[2] + rws[3]
                    paired = True
            else:
                vals, cnts, idx, rws = _rank_counts(u, order, kmax)
            if vals.size >= kmin:
                est = _rank_estimate(vals, cnts, n - order, n - order, order)
                if est >= best_est:
                    return empty
                best_est, best_order = est, order
                values, counts, index, rows = vals, cnts, idx, rws
    for order in range(3 if best_order < 0 else 0):
        if order == 2 and best_order == 1:
            break  # few distinct deltas: their differences are rarely fewer (and cost time)
        vals, cnts, idx, rws = _rank_counts(u, order, kmax)
        if vals.size < kmin:
            continue
        est = _rank_estimate(vals, cnts, n - order, n - order, order)
        if est < best_est:
            best_est = est
            best_order = order
            values, counts, index, rows = vals, cnts, idx, rws
    if best_order < 0:
        return empty
    order = best_order
    m = n - order
    k = values.size
    rank_of, by_count = _by_count(counts)
    head = 1 + 8 * order + 1 + 2
    for j in range(k):
        head += _varint_size(_zigzag(values[j]))
    npairs = 0
    pair_of = by_count[:0]
    if k > RANK_MAX and best_est - head > m / 4:
        # A wide dictionary whose ranks take over 2 bits each: pairs would not pay.
        lanes = _rank_lanes(index, rank_of)
        best = huff_centered(lanes, lanes, 0, ZERO, limit - head)
        if best.size == 0:
            return empty
        return _rank_out(u, order, values, by_count, npairs, pair_of, head, best)
    # The bits of each stream of the ranks coded one by one (from their counts: only the
    # code that wins is written), then one pass over the residuals two by two: the pairs
    # (a, b) of appearance indexes as a * k + b, an odd last one paired with rank 0.
    cost, single = _rank_costs(counts[by_count], m, limit - head)
    if cost.size:
        for r in range(HUFF_STREAMS):
            bits = 0
            for j in range(k):
                bits += rows[r, j] * cost[rank_of[j]]
            single += (bits + 7) // 8
    else:
        single = 0
    np2 = (m + 1) // 2
    if not paired:
        codes, appear, even, odd = _pair_counts(index, m, k)
    in_use, pcounts, appear = _pairs_in_use(
        codes, appear, even, odd, index, m, k, by_count[0], rank_of
    )
    used = in_use.size
    pbytes = 0
    for j in range(used):
        pbytes += _varint_size(np.uint64(in_use[j]))
    plimit = (single if single > 0 else limit - head) - pbytes
    best = empty
    if plimit > 0:
        # (ranked by falling count, ties by code)
        urank, uorder = _by_count(pcounts)
        pair_counts = pcounts[uorder]
        if _ranks_fit(pair_counts, np2, plimit):
            lane_of = np.empty(k * k, dtype=np.uint64)  # (only the codes in use are read)
            for j in range(used):
                lane_of[appear[j]] = _rank_lane(urank[j])
            lanes = np.empty(np2, dtype=np.uint64)
            for t in range(np2):
                lanes[t] = lane_of[codes[t]]
            nosyms = np.zeros(0, dtype=np.uint8)
            symbols = _rank_symbols(pair_counts)
            best = huff_counted(lanes, lanes, 0, ZERO, nosyms, symbols, plimit)
            npairs = used
            pair_of = in_use[uorder]
    if npairs == 0 and single > 0:
        lanes = _rank_lanes(index, rank_of)
        best = huff_centered(lanes, lanes, 0, ZERO, limit - head)
    if best.size == 0:
        return empty
    if npairs > 0:
        head += pbytes
    return _rank_out(u, order, values, by_count, npairs, pair_of, head, best)


@njit
def _rank_out(u, order, values, by_count, npairs, pair_of, head, best):
    """The rank payload: order, heads, dictionary, pair codes, then the huffman payload
    ``best`` (``head`` bytes precede it)."""
    k = values.size
    out = np.empty(head + best.size, dtype=np.uint8)
    out[0] = np.uint8(order)
    at = 1
    if order >= 1:
        _put64(out, 1, u[0])
        at = 9
    if order == 2:
        _put64(out, 9, u[1] - u[0])
        at = 17
    out[at] = np.uint8(k)
    at += 1
    for j in range(k):
        at = _put_varint(out, at, _zigzag(values[by_count[j]]))
    out[at] = np.uint8(npairs & 255)
    out[at + 1] = np.uint8(npairs >> 8)
    at += 2
    for t in range(npairs):
        at = _put_varint(out, at, np.uint64(pair_of[t]))
    copy_bytes(out, head, best, 0, best.size)
    return out


#: Factor of the constant mode: every residual is the offset (the rest are exceptions).
ZERO_U64 = np.uint64(0)

#: A size limit that never binds (:func:`_with_lanes` for a caller without one).
NO_LIMIT = 1 << 62


@njit
def _rank_pairs(payload):
    """The pair count of a rank payload (see :func:`_rank_out`)."""
    at = 1 + 8 * np.int64(payload[0])
    k = np.int64(payload[at])
    at += 1
    for _ in range(k):
        while payload[at] & 0x80:
            at += 1
        at += 1
    return np.int64(payload[at]) | np.int64(payload[at + 1]) << 8


@njit
def _with_lanes(head, nexc, positions, values, isz, lanes, entropy, rank, limit):
    """``head`` + exceptions (``nexc u32``, positions ``u16``, values of ``isz`` bytes from
    ``values`` at the positions) + a nested integer scheme coding ``lanes`` (with
    ``entropy`` and ``rank``, the rank scheme when it is smaller). Where the whole would
    not be under ``limit`` bytes, the lanes may be left raw (the caller discards it)."""
    m = lanes.size
    budget = min(8 * m, limit - (head.size + 4 + nexc * (2 + isz) + 1))
    if budget <= 0:
        budget = 1
    # (a constant residual order codes in 9 to 25 bytes bit-packed: no ranks beat it)
    ranked = lanes.view(np.uint8)[:0]
    if entropy and rank and not (m >= 3 and constant_order(lanes)):
        ranked = rank_payload(lanes, budget)
    if ranked.size > 0 and _rank_pairs(ranked) > 0:
        # Ranks coded two by two beat their one-by-one prefix code, which no code of the
        # Huffman stage's classes (a prefix code of the same values) beats: only the
        # bit-packed schemes are tried against them (a clock's deltas: half its time).
        scheme, inner = int_payload(lanes, False, ranked.size, False)
        if scheme == RAW:
            scheme, inner = RANK, ranked
    else:
        scheme, inner = int_payload(lanes, entropy, budget, False)
        if scheme == RAW:
            inner = lanes.view(np.uint8)
        if ranked.size > 0 and ranked.size < inner.size:
            scheme, inner = RANK, ranked
    at = head.size
    out = np.empty(at + 4 + nexc * (2 + isz) + 1 + inner.size, dtype=np.uint8)
    copy_bytes(out, 0, head, 0, at)
    for b in range(4):
        out[at + b] = np.uint8((nexc >> (8 * b)) & 255)
    at += 4
    for t in range(nexc):
        out[at + 2 * t] = np.uint8(positions[t] & 255)
        out[at + 2 * t + 1] = np.uint8((positions[t] >> 8) & 255)
    at += 2 * nexc
    for t in range(nexc):
        v = np.uint64(values[positions[t]])
        for b in range(isz):
            out[at + isz * t + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(255))
    at += isz * nexc
    out[at] = np.uint8(scheme)
    copy_bytes(out, at + 1, inner, 0, inner.size)
    return out


@njit
def _mult_candidate(u, order, factor, offset, entropy, limit):
    """The int-mult payload of ``u`` for one (order, factor, offset), or an empty array
    when it has too many exceptions or is not below ``limit`` bytes; and whether its lanes
    were built (few enough exceptions), or taken as built where :func:`_mult_gives_up`
    saw on its windows that they would not code under the limit (the caller then tries
    what it weighs a built mode against, as when one misses the limit)."""
    n = u.size
    m = n - order
    if factor != ZERO_U64 and entropy and _mult_gives_up(u, order, factor, offset, limit):
        return np.zeros(0, dtype=np.uint8), True
    # An exception costs 10 bytes: more than one in 16 values never pays.
    q, positions = mult_lanes(u, order, factor, offset, min(m // 16, limit // 10))
    if q.size != m:
        return np.zeros(0, dtype=np.uint8), False
    head = np.empty(1 + 8 * order + 16, dtype=np.uint8)
    head[0] = np.uint8(order)
    at = 1
    if order >= 1:
        _put64(head, 1, u[0])
        at = 9
    if order == 2:
        _put64(head, 9, u[1] - u[0])
        at = 17
    _put64(head, at, offset)
    _put64(head, at + 8, factor)
    r = residuals(u, order) if positions.size else u  # (the exceptions' values)
    out = _with_lanes(head, positions.size, positions, r, 8, q, entropy, True, limit)
    if out.size >= limit:
        return np.zeros(0, dtype=np.uint8), True
    return out, True


@njit
def _mult_gives_up(u, order, factor, offset, limit):
    """Whether the factor mode's lanes of ``u`` (order, factor, offset) surely code to
    ``limit`` bytes or more, seen on the rank scheme's sampled windows of them alone (a
    clock's plain lanes against its period: the block is not divided). Where the limit
    leaves the lanes at most a bit a value, only a constant residual or the rank scheme
    could fit (:func:`int_payload`); the windows show no constant order and ranks whose
    estimate the nested rank scheme gives up on (:func:`_rank_payload`, the same windows).
    Not where a window holds an exception (its quotients would differ)."""
    m = u.size - order
    budget = min(8 * m, limit - (1 + 8 * order + 16 + 4 + 1))  # (as :func:`_with_lanes`)
    if m < RANK_ORDER_MIN_VALUES or budget <= 0 or budget > _least_packed(m):
        return False
    w = RANK_ORDER_WINDOW
    windows = np.empty(RANK_ORDER_WINDOWS * w, dtype=np.uint64)
    sf = np.int64(factor)
    if sf <= 0:
        return False
    for k in range(RANK_ORDER_WINDOWS):
        start = _rank_window_start(m, k)
        for i in range(w):
            r = residual_at(u, start + i, order)
            q = np.uint64(np.int64(r - offset) // sf)
            if offset + factor * q != r:
                return False
            windows[k * w + i] = q
    for o in range(3):
        constant = True
        for k in range(RANK_ORDER_WINDOWS):
            constant = constant and _constant_residual(windows[k * w : (k + 1) * w], o)
        if constant:
            return False
    best, est = _windows_rank_order(windows, m, 2, RANK_MAX)
    return best >= 0 and est >= budget * RANK_PAIR_SLACK


@njit
def mult_payload(u, entropy, limit):
    """The int-mult payload of lanes ``u`` when a common factor (order 0) or a nearly
    constant residual (order 1 or 2) makes it smaller than ``limit`` bytes, else an empty
    array. The plan (:func:`int_mult_plan`) runs on a sample; payloads are built only for
    the modes it finds (:func:`mult_planned`)."""
    if u.size < 64:
        return np.zeros(0, dtype=np.uint8)
    factor, offset, order, constant = int_mult_plan(u)
    return mult_planned(u, factor, offset, order, constant, entropy, limit)[0]


@njit
def mult_planned(u, factor, offset, order, constant, entropy, limit):
    """:func:`mult_payload` for the plan ``(factor, offset, order, constant)`` of
    :func:`int_mult_plan`; and whether a candidate's lanes were built (few enough
    exceptions), under ``limit`` or not."""
    best = np.zeros(0, dtype=np.uint8)
    built = False
    if u.size < 64:
        return best, built
    # The nearly constant residual first (a clock's few gaps: tens of bytes), then the
    # factor under its size (the clock's counter of periods gives up on estimates); the
    # smaller wins, the factor on a tie (as when the factor came first).
    if order > 0:
        got, ok = _mult_candidate(u, order, ZERO_U64, constant, entropy, limit)
        built = built or ok
        if got.size > 0:
            best = got
            limit = got.size + 1
    if factor >= np.uint64(2):
        got, ok = _mult_candidate(u, 0, factor, offset, entropy, limit)
        built = built or ok
        if got.size > 0:
            best = got
    return best, built


@njit
def fmult_payload(x, x_bits, base, probe, entropy):
    """The float-mult payload of ``x``: ``base f64``, exceptions, lanes ``k`` with
    ``x == k * base`` to the bit (an exception keeps the previous ``k``)."""
    n = x.size
    ks = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    nexc = 0
    last = np.int64(0)
    for i in range(n):
        ok, k = fmult_ok(x[i], base, probe)
        if ok:
            last = k
        else:
            pos[nexc] = i
            nexc += 1
        ks[i] = last
    head = np.empty(8, dtype=np.uint8)
    _put64(head, 0, np.array([base]).view(np.uint64)[0])
    return _with_lanes(
        head,
        nexc,
        pos[:nexc],
        x_bits,
        x_bits.itemsize,
        ks.view(np.uint64),
        entropy,
        False,
        NO_LIMIT,
    )


@njit
def fquant_payload(x_bits, shift, entropy):
    """The float-quant payload of float bit patterns ``x_bits``: ``shift u8``, exceptions,
    sign-folded lanes of the bits above ``shift``."""
    total = 8 * x_bits.itemsize
    lanes, positions = fquant_lanes(x_bits, shift, total)
    head = np.empty(1, dtype=np.uint8)
    head[0] = np.uint8(shift)
    return _with_lanes(
        head, positions.size, positions, x_bits, x_bits.itemsize, lanes, entropy, True, NO_LIMIT
    )


@njit
def alp_payload(x, x_bits, e, f, probe, entropy):
    """The whole ALP block payload of ``x`` with exponent ``e`` and factor ``f``.

    ``x_bits`` is ``x`` viewed as unsigned integers (for the raw exception values).
    """
    n = x.size
    ints, positions = alp_encode(x, e, f, probe)
    u = ints.view(np.uint64)
    scheme, inner = int_payload(u, entropy, 8 * n, False)
    if scheme == RAW:
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


@njit
def alp_single_block(x, x_bits, emax, probe, probe_bits, entropy):
    """The whole-frame fast path for a frame of one float block: plan, choice, payload.

    Does what ``FloatPlan`` + ``encode_float_block`` do when ALP wins outright: ranks the
    (e, f) pairs, picks one on 128 values, and, unless a dictionary may pay (256 values
    or more with few distinct ones), builds the ALP payload. Returns ``(code, pairs,
    payload, floor)``: code 0 when the payload is at most 0.6x the raw bytes (done), 2
    where ALP's exceptions are decimals float-div takes as small adjustments
    (:func:`fdiv_pays` on ALP's estimate, no payload; or on the payload, under 0.6x the
    raw bytes and smaller than the estimate), 3 (no payload) where at least 1 / EXC_HEAVY of
    128 sampled values are exceptions (the caller may try float-div with a lag before
    building ALP: the exceptions alone take ``floor`` bytes of it; 0 for the other codes),
    else 1 (the caller runs the general chooser, reusing ``pairs``). ``probe_bits``:
    ``probe``'s unsigned view.
    """
    empty = np.zeros(0, dtype=np.uint8)
    pairs = alp_plan(x, emax, probe)
    if pairs.shape[1] == 0:
        return 1, pairs, empty, 0
    e, f, cost = alp_choose(x, pairs, probe)
    n = x.size
    nbytes = n * x_bits.itemsize
    estimate = cost * n / max(min(n, 128), 1) / 8
    # (ALP unlikely first: the dictionary's check costs more, 13 us on 36,100 values)
    if cost >= NEVER or not estimate < 0.9 * nbytes:
        return 1, pairs, empty, 0
    if n >= 256 and dictionary_may_pay(x_bits):
        return 1, pairs, empty, 0
    if fdiv_pays(x, x_bits, e, f, probe, probe_bits, KMAX, estimate):
        return 2, pairs, empty, 0
    if alp_exceptions(even_sample(x, 128), e, f, probe) * EXC_HEAVY >= min(n, 128):
        return 3, pairs, empty, alp_floor(alp_exceptions(x, e, f, probe), x_bits.itemsize)
    payload = alp_payload(x, x_bits, e, f, probe, entropy)
    if payload.size > 0.6 * nbytes:
        return 1, pairs, empty, 0
    # (the chooser weighs float-div against ALP's payload: smaller than the estimate, the
    # same gain may pay)
    if payload.size < estimate and fdiv_pays(
        x, x_bits, e, f, probe, probe_bits, KMAX, float(payload.size)
    ):
        return 2, pairs, payload, 0
    return 0, pairs, payload, 0


#: :func:`alp_single_block` counts a block's exceptions where at least 1 / EXC_HEAVY of
#: its 128 sampled values are exceptions (a CPU load in percent, a quarter of it not
#: decimal: its ALP payload took 75 KB, of which the exceptions 48 KB, and float-div with a
#: lag 33 KB).
EXC_HEAVY = 8


@njit
def alp_floor(nexc, isz):
    """The least ALP payload (bytes) with ``nexc`` exceptions of ``isz`` bytes: its head,
    their positions and values, and a nested scheme id (its integer lanes take 0 bytes or
    more)."""
    return 6 + nexc * (2 + isz) + 1


@njit
def _block_head(buf, pos, end):
    """(status, scheme, payload end) of the block header at ``pos``."""
    if end - pos < BLOCK_HEADER:
        return ERR_BLOCK_HEADER, 0, pos
    scheme = np.int64(buf[pos])
    length = _rd32(buf, pos + 1)
    if length > end - pos - BLOCK_HEADER:
        return ERR_BLOCK_PAYLOAD, scheme, pos
    return 0, scheme, pos + BLOCK_HEADER + length


@njit
def _float_blocks(buf, pos, end, start, n, block_size, out, out_bits):
    while start < n:
        count = min(block_size, n - start)
        status, scheme, stop = _block_head(buf, pos, end)
        if status != 0:
            return status, pos, start, pos
        isz = out_bits.itemsize
        if scheme == RAW and stop - pos - BLOCK_HEADER == count * isz:
            # The values' own bytes (a raw block of another length is left to Python,
            # which names the error).
            copy_bytes(out_bits.view(np.uint8), start * isz, buf, pos + BLOCK_HEADER, count * isz)
            pos = stop
            start += count
            continue
        dest = out[start : start + count]
        dest_bits = out_bits[start : start + count]
        if scheme == ALP:
            status, got = decode_alp_block(buf, pos + BLOCK_HEADER, stop, count, dest, dest_bits)
        elif scheme == FMULT:
            status, got = decode_fmult_block(buf, pos + BLOCK_HEADER, stop, count, dest, dest_bits)
        elif scheme == FQUANT:
            status, got = decode_fquant_block(buf, pos + BLOCK_HEADER, stop, count, dest_bits)
        elif scheme == REPEAT:
            if not decode_repeat_block(buf, pos + BLOCK_HEADER, stop, count, dest, dest_bits):
                return BLOCK_NOT_HERE, pos, start, pos
            status, got = 0, stop
        elif scheme == REPEAT_DIV:
            if not decode_repeat_div_block(buf, pos + BLOCK_HEADER, stop, count, dest, dest_bits):
                return BLOCK_NOT_HERE, pos, start, pos
            status, got = 0, stop
        elif scheme == FDIV:
            if not decode_fdiv_block(buf, pos + BLOCK_HEADER, stop, count, dest, dest_bits):
                return BLOCK_NOT_HERE, pos, start, pos
            status, got = 0, stop
        elif scheme in (FMULT_ADJ, FGRID):
            if not decode_multiples_block(
                buf, pos + BLOCK_HEADER, stop, count, scheme == FGRID, dest, dest_bits
            ):
                return BLOCK_NOT_HERE, pos, start, pos
            status, got = 0, stop
        else:
            return BLOCK_NOT_HERE, pos, start, pos
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
    float64 result. ALP, float-mult, float-quant, raw, repeat, repeat-div and float-div
    blocks are decoded here (a block whose nested schemes :mod:`repeatdec` leaves to
    Python, valid or not, is left whole); the loop stops at the first block of another
    scheme.

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
def _lag_lanes(buf, at, stop, count, dest):
    """Decode a lag block whose residuals are for/delta/delta-of-delta/huffman (or
    int-mult, into 8-byte lanes) into ``dest`` (uint64 or int64 lanes, or the values of a
    narrower integer dtype: the sums are modulo 2**64, so their low bits are the
    values'); False (``dest`` partly written) for any other block, valid or not: the
    caller leaves it to the Python side, which decodes it or names the error."""
    if stop - at < 3:
        return False
    lag = np.int64(buf[at]) | np.int64(buf[at + 1]) << 8
    nested = np.int64(buf[at + 2])
    if lag == 0 or not (FOR <= nested <= HUFF or (nested == MULT and dest.itemsize == 8)):
        return False
    if nested == MULT:  # (a clock's deltas a multiple of its tick, less a season)
        lanes = dest.view(np.uint64)
        status, got = decode_mult_block(buf, at + 3, stop, count, lanes)
        if status != 0 or got != stop:
            return False
        unlag(lanes, lag)
        return True
    if nested == HUFF:
        # (into uint64 lanes for the 8-byte dtypes: one compiled decoder for both)
        if dest.itemsize == 8:
            return _huff_lag(buf, at + 3, stop, count, dest.view(np.uint64), lag)
        return _huff_lag(buf, at + 3, stop, count, dest, lag)
    status, got = decode_packed_block(buf, at + 3, stop, nested - FOR, count, dest)
    if status != 0 or got != stop:
        return False
    unlag(dest, lag)
    return True


@njit(inline="always")
def _huff_lag(buf, at, stop, count, dest, lag):
    """:func:`_lag_lanes` for a lag block whose residuals are huffman-coded."""
    if lag == 1:  # (the lag's running sum fused with the huffman residuals' integration)
        status, got = decode_huff_summed(buf, at, stop, count, dest)
        return status == 0 and got == stop
    status, got = decode_huff_lanes(buf, at, stop, count, dest)
    if status != 0 or got != stop:
        return False
    unlag(dest, lag)
    return True


@njit
def decode_int_blocks(buf, pos, end, start, n, block_size, out):
    """As :func:`decode_f64_blocks` for integer frames: for/delta/delta-of-delta/huffman/
    int-mult/single-stream huffman blocks, lag blocks of the first four, and copy blocks
    whose other values are any of these, are decoded into ``out``; the loop stops at any
    other scheme.

    ``out`` holds 64-bit lanes (uint64 or int64), or the values of a narrower integer
    dtype: the packed and huffman schemes then write them straight in (their arithmetic
    is modulo 2**64, so the low bits are the same), int-mult through 64-bit lanes.
    """
    scratch = np.empty(0, dtype=np.uint64)  # (int-mult's lanes for a narrower dtype)
    while start < n:
        count = min(block_size, n - start)
        status, scheme, stop = _block_head(buf, pos, end)
        if status != 0:
            return status, pos, start, pos
        at = pos + BLOCK_HEADER
        if scheme == COPY:
            if not _copy_block(buf, at, stop, count, out, start):
                return BLOCK_NOT_HERE, pos, start, pos
            pos = stop
            start += count
            continue
        if not _kernel_int_scheme(scheme):
            return BLOCK_NOT_HERE, pos, start, pos
        if scheme == MULT and out.itemsize < 8 and scratch.size < count:
            scratch = np.empty(count, dtype=np.uint64)
        status, got = _int_block(buf, at, stop, scheme, count, out[start : start + count], scratch)
        if status == BLOCK_NOT_HERE:
            return BLOCK_NOT_HERE, pos, start, pos
        if status != 0:
            return status, pos, start, got
        if got != stop:
            return ERR_TRAILING, pos, start, got
        pos = stop
        start += count
    return 0, pos, start, pos


@njit(inline="always")
def _kernel_int_scheme(scheme):
    """Whether :func:`_int_block` decodes integer blocks of ``scheme``."""
    return FOR <= scheme <= HUFF or scheme in (MULT, LAG, HUFF1)


@njit
def _int_block(buf, at, stop, scheme, count, dest, scratch):
    """Decode the integer block of a :func:`_kernel_int_scheme` at ``buf[at:stop]`` into
    ``dest`` (``count`` values of the frame's lane dtype; ``scratch``: uint64 lanes of at
    least ``count`` for int-mult into a narrower dtype). Returns ``(status, position
    reached)``: ``BLOCK_NOT_HERE`` for a lag block left to the Python side."""
    if scheme == LAG:
        if not _lag_lanes(buf, at, stop, count, dest):
            return BLOCK_NOT_HERE, at
        return 0, stop
    if scheme == HUFF1:
        return decode_huff1_block(buf, at, stop, count, dest)
    if dest.itemsize == 8:
        lanes = dest.view(np.uint64)
        if scheme == MULT:
            return decode_mult_block(buf, at, stop, count, lanes)
        if scheme == HUFF:
            return decode_huff_lanes(buf, at, stop, count, lanes)
        return decode_packed_block(buf, at, stop, scheme - FOR, count, lanes)
    if scheme == MULT:
        status, got = decode_mult_block(buf, at, stop, count, scratch[:count])
        for i in range(count):
            dest[i] = scratch[i]
        return status, got
    if scheme == HUFF:
        return decode_huff_lanes(buf, at, stop, count, dest)
    return decode_packed_block(buf, at, stop, scheme - FOR, count, dest)


@njit
def _copy_block(buf, at, stop, count, out, start):
    """Decode the copy block (format version 11) of ``count`` values from value ``start``
    of ``out`` (the frame's lane dtype) at ``buf[at:stop]``: its span table, the other
    values (a nested block of a :func:`_kernel_int_scheme`, to ``stop``) into the block's
    end, then the fill. False (``out`` partly written) for any block left to the Python
    side, valid or not."""
    status, pos, rel, dist, length, covered = read_span_table(buf, at, stop, count, start)
    if status != 0:
        return False
    m = count - covered
    if m:
        nested = np.int64(buf[pos]) if pos < stop else np.int64(-1)
        if not _kernel_int_scheme(nested):
            return False
        scratch = np.empty(m if nested == MULT and out.itemsize < 8 else 0, dtype=np.uint64)
        tail = out[start + count - m : start + count]
        status, pos = _int_block(buf, pos + 1, stop, nested, m, tail, scratch)
        if status != 0:
            return False
    if pos != stop:
        return False
    fill_spans(out, start, count, rel, dist, length, m)
    return True


@njit
def _frame_status(result, end):
    """0 when a block loop decoded every block and stopped exactly at ``end``."""
    status, pos, _start, _got = result
    if status == 0 and pos != end:
        return ERR_TRAILING
    return status


@njit(inline="always")
def _frame_span(frame, n):
    """(first block position, end of the blocks, block size) of a 1-D series frame, in the
    full layout or the compact one (whose value count varint the caller has checked)."""
    if frame[5] & COMPACT_FLAG:
        pos = 7
        while frame[pos - 1] & 0x80:
            pos += 1
        return pos, len(frame) - SHORT_CHECKSUM_SIZE, max(n, 1)
    return HEAD_1D, len(frame) - CHECKSUM_SIZE, _rd32(frame, HEAD_1D - 4)


@njit
def decode_f64_frame(frame, out):
    """Decode a whole 1-D float64 series frame into ``out`` (its ``n`` values) in one call.

    The caller has checked the header (``n``, block size, bounds) and the checksum; the
    block size is read from the header here. Returns 0 when every block was decoded (ALP
    or raw) and they end at the checksum, else non-zero: the caller then decodes the frame
    on the general path (which handles the other schemes and names any error).
    """
    return _float_frame(frame, out, out.view(np.uint64))


@njit
def decode_f32_frame(frame, out):
    """As :func:`decode_f64_frame` for float32 frames."""
    return _float_frame(frame, out, out.view(np.uint32))


@njit(inline="always")
def _float_frame(frame, out, out_bits):
    pos, end, block_size = _frame_span(frame, out.size)
    return _frame_status(
        _float_blocks(frame, pos, end, 0, out.size, block_size, out, out_bits), end
    )


@njit
def decode_int_frame(frame, out):
    """As :func:`decode_f64_frame` for integer frames, into uint64 or int64 lanes or the
    values of a narrower integer dtype."""
    pos, end, block_size = _frame_span(frame, out.size)
    return _frame_status(decode_int_blocks(frame, pos, end, 0, out.size, block_size, out), end)
