"""Floats: ALP (decimal floats as integers), its (e, f) search, ALP_RD and the dictionary.

The ALP integers go through the integer schemes (``bitpack``, ``huffman``); an ALP block
decodes straight into floats, with no intermediate integer array.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import (
    ALP_MAX_EXPONENT,
    DOD,
    ERR_INDEX,
    ERR_LEFT,
    ERR_PARAMS,
    ERR_POSITION,
    ERR_SCHEME,
    ERR_SHORT,
    FOR,
    HUFF,
    RAW,
)
from edgekit.codec._kernels.bitpack import (
    ONE,
    RADIX_MIN_KEYS,
    ZERO,
    _decode_packed,
    _mask,
    _rd32,
    _rd64,
    bitlen,
    even_next,
    radix_order,
)
from edgekit.codec._kernels.huffman import _decode_huff

#: Exponents and factors 0..ALP_MAX_EXPONENT.
NEXP = ALP_MAX_EXPONENT + 1
#: 10**k (exact for k <= 22) and the doubles nearest to 10**-k, for ALP.
F10 = np.array([float(10**k) for k in range(NEXP)], dtype=np.float64)
IF10 = np.array([float(f"1e-{k}") for k in range(NEXP)], dtype=np.float64)
#: ALP rounds with this constant: (y + M) - M is y rounded half-to-even for |y| < 2**51.
ALP_MAGIC = float(2**52 + 2**51)
ALP_LIMIT = float(2**51)
#: How many (e, f) pairs the frame-level ALP sampling keeps for the per-block search.
ALP_KEEP = 5
#: Estimated cost of a pair that fails on every sampled value.
NEVER = np.int64(1) << 62


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
    """Estimated cost of every (e, f) with f <= e <= emax on a sample, as a table indexed ``[e, f]``.

    Costs are those of :func:`alp_search`, except that a pair is abandoned (cost 2**62)
    as soon as its cost is certain to exceed the ``ALP_KEEP``-th best cost seen so far:
    such a pair can never be among the ``ALP_KEEP`` cheapest, so the choice is unchanged.
    Pairs whose cost is at most the final ``ALP_KEEP``-th best are never abandoned, so
    the order of visits does not change the cheapest pairs: the pairs that keep the
    first value's digits (``e - f`` equal to its smallest exact exponent) go first, which
    makes the bound tight early and abandons most other pairs after a value or two.
    """
    never = np.int64(1) << 62
    costs = np.full((NEXP, NEXP), never, dtype=np.int64)
    seen = np.zeros((NEXP, NEXP), dtype=np.bool_)
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


#: :func:`alp_exceptions` works through a block in chunks of this many values.
EXC_CHUNK = 256


@njit
def alp_exceptions(x, e, f, probe):
    """How many values of ``x`` are ALP exceptions with exponent ``e`` and factor ``f``
    (as :func:`_alp_ok`, without a branch: two vectorised passes over each chunk of
    EXC_CHUNK values, the decoded values stored in ``probe``'s dtype and then compared:
    1.8x as fast as a branch a value where a quarter are exceptions, NAB's CPU load)."""
    fe = F10[e]
    ff = F10[f]
    iff = IF10[f]
    n = x.size
    back = np.empty(min(n, EXC_CHUNK), dtype=probe.dtype)
    count = 0
    for start in range(0, n, EXC_CHUNK):
        m = min(EXC_CHUNK, n - start)
        for j in range(m):
            y = np.float64(x[start + j]) * fe * iff
            r = (y + ALP_MAGIC) - ALP_MAGIC
            # (out of range, NaN or inf: a NaN, equal to no value)
            back[j] = ((r if abs(y) < ALP_LIMIT else np.nan) * ff) / fe
        for j in range(m):
            v = x[start + j]
            ok = (back[j] == v) & ((v != 0) | (math.copysign(1.0, v) > 0))
            count += np.int64(not ok)
    return count


@njit
def alp_decode(ints, e, f, out):
    """Floats from ALP integers (exceptions are patched by the caller)."""
    ff = F10[f]
    fe = F10[e]
    for i in range(ints.size):
        out[i] = (np.float64(np.int64(ints[i])) * ff) / fe
    return out


@njit
def even_sample(x, size):
    """``size`` evenly spaced values of ``x`` (first and last included); ``x`` when small.

    Position ``i`` is ``i * (n - 1) // (size - 1)``, as in ``_schemes._sample``.
    """
    n = x.size
    if n <= size:
        return x
    out = np.empty(size, dtype=x.dtype)
    q, r = divmod(n - 1, size - 1)
    at = rem = 0
    for i in range(size):
        out[i] = x[at]
        at, rem = even_next(at, rem, q, r, size - 1)
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
    for idx in range(NEXP * NEXP):
        c = costs[idx // NEXP, idx % NEXP]
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
        pairs[0, j] = keep_idx[j] // NEXP
        pairs[1, j] = keep_idx[j] % NEXP
    return pairs


@njit
def alp_choose(x, pairs, probe):
    """(e, f, cost) of :func:`alp_search` over the plan's pairs on 128 values of ``x``."""
    return alp_search(even_sample(x, 128), pairs[0], pairs[1], probe)


@njit
def decode_alp_block(buf, pos, end, n, out, out_bits):
    """Parse and decode an ALP payload at ``buf[pos:end]`` into ``out`` (float32/64).

    ``out_bits`` is ``out`` viewed as unsigned integers of the same width, used to patch
    exceptions bit for bit. Returns ``(status, position after the payload)``.
    """
    if pos + 6 > end:
        return ERR_SHORT, pos
    e = np.int64(buf[pos])
    f = np.int64(buf[pos + 1])
    if e > ALP_MAX_EXPONENT or f > ALP_MAX_EXPONENT:
        return ERR_PARAMS, pos
    return _scaled_tail(buf, pos + 2, end, n, out, out_bits, F10[f], F10[e])


@njit
def _scaled_tail(buf, pos, end, n, out, out_bits, ff, fe):
    """The part of an ALP (or float-mult) payload after its parameters: exceptions, then
    nested integer lanes ``k`` decoded straight into ``out`` as ``(k * ff) / fe``."""
    isz = out_bits.itemsize
    if pos + 4 > end:
        return ERR_SHORT, pos
    nexc = _rd32(buf, pos)
    pos += 4
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
    if inner == RAW:
        if pos + 8 * n > end:
            return ERR_SHORT, pos
        for i in range(n):
            out[i] = (np.float64(np.int64(_rd64(buf, pos + 8 * i))) * ff) / fe
        pos += 8 * n
        status = 0
    elif inner <= DOD:
        status, pos = _decode_packed(
            buf, pos, end, inner - FOR, n, np.empty(0, dtype=np.uint64), out, True, ff, fe
        )
    elif inner == HUFF:
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


#: ALP_RD's dictionary holds the most common left parts, up to this many.
RD_DICT = 8


@njit
def alp_rd_cut(bits, total):
    """ALP_RD's cut for the sample ``bits`` (uint64 lanes of ``total``-bit floats): the
    number of right-part bits, ``total - 16`` to ``total - 1``, whose estimated size
    (:func:`_rd_cost`) is least (the first on ties)."""
    s = np.sort(bits)
    best_cost = NEVER
    best = total - 16
    for right in range(total - 16, total):
        cost = _rd_cost(s, right)
        if cost < best_cost:
            best_cost = cost
            best = right
    return best


@njit
def alp_rd_bits(bits, total, right):
    """ALP_RD's estimated bits for the sample ``bits`` (as :func:`alp_rd_cut`) cut at
    ``right``: within 1 % of the payload's size scaled from 256 values on every float
    block of the corpus and the held-out series, so that it need not be built to lose."""
    return _rd_cost(np.sort(bits), right)


@njit
def _rd_cost(s, right):
    """Estimated bits of ALP_RD on the sorted sample ``s`` cut at ``right``: ``right``
    plus the dictionary index bits for every value, plus 32 bits an exception (a left
    part outside the RD_DICT most common ones)."""
    n = s.size
    shift = np.uint64(right)
    top = np.zeros(RD_DICT, dtype=np.int64)
    distinct = 0
    i = 0
    while i < n:
        left = s[i] >> shift
        j = i + 1
        while j < n and (s[j] >> shift) == left:
            j += 1
        distinct += 1
        run = j - i
        # (insert into the descending top counts)
        m = RD_DICT - 1
        if run > top[m]:
            while m > 0 and top[m - 1] < run:
                top[m] = top[m - 1]
                m -= 1
            top[m] = run
        i = j
    covered = 0
    for m in range(RD_DICT):
        covered += top[m]
    kept = min(distinct, RD_DICT)
    return n * (right + bitlen(max(kept - 1, 0))) + (n - covered) * 32


@njit
def alp_rd_decode(
    idx_words, right_words, n, dict_bits, right, dictionary, positions, lefts, total, out
):
    """ALP_RD bits: ``dictionary[index] << right | right part``, exceptions patched.

    Returns 0, ``ERR_INDEX`` for an index outside the dictionary, ``ERR_LEFT`` for a left
    part wider than ``total - right`` bits. The caller checked the word counts and exception positions.
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
            return ERR_INDEX
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
            return ERR_LEFT
        p = positions[t]
        out[p] = (left << ur) | (np.uint64(out[p]) & rmask)
    for j in range(dsize):
        if dictionary[j] >> np.uint64(limit):
            return ERR_LEFT
    return 0


@njit
def order_keys(bits, total):
    """Float bit patterns mapped to uint64 keys whose unsigned order is numeric order:
    negative ones inverted, the sign bit set on the others (without a branch: on a
    gyroscope's signs at random it mispredicted every other value, 2 ns a value)."""
    top = np.uint64(total - 1)
    allm = _mask(total)
    out = np.empty(bits.size, dtype=np.uint64)
    for i in range(bits.size):
        out[i] = order_key(np.uint64(bits[i]), top, allm)
    return out


@njit(inline="always")
def order_key(b, top, allm):
    """:func:`order_keys` of one bit pattern ``b`` (uint64) of ``top + 1``-bit floats whose
    bits are all set in ``allm``."""
    return b ^ ((ONE << top) | ((ZERO - (b >> top)) & allm))


@njit
def keys_to_bits(keys, total):
    """The float bit patterns of :func:`order_keys`' ``keys`` (uint64): keys with the sign
    bit set are the non-negative floats, the others inverted."""
    out = np.empty(keys.size, dtype=np.uint64)
    keys_to_bits_into(keys, total, out)
    return out


@njit
def keys_to_bits_into(keys, total, out):
    """:func:`keys_to_bits` into ``out`` (uint64)."""
    top = np.uint64(total - 1)
    sign = ONE << top
    allm = _mask(total)
    for i in range(keys.size):
        k = keys[i]
        out[i] = k ^ (sign | ((ZERO - (ONE - (k >> top))) & allm))


#: :func:`key_order` buckets the values where the sum of its buckets' squared counts
#: (the insertion sort's work) stays under this many times the key count; beyond it,
#: values crowded in a few buckets (a level with far outliers), it sorts by radix.
BUCKET_WORK = 8


@njit
def key_order(keys, total):
    """The stable argsort of :func:`order_keys`' ``keys`` of ``total``-bit floats.

    A sensor's distinct values spread over their range: each goes to one of as many
    buckets by its value (linear in it: a key's bucket never precedes a smaller key's),
    then an insertion sort orders the keys within buckets (a few each), 4-6x faster than
    :func:`~edgekit.codec._kernels.bitpack.radix_order`'s 8 passes (BROAD's gyroscope,
    10,109 keys: 350 -> 60 us). Where the values are not all finite or crowd a few buckets
    (over BUCKET_WORK key-squared per key), or are fewer than RADIX_MIN_KEYS: that order.
    """
    n = keys.size
    if n < RADIX_MIN_KEYS:
        return radix_order(keys)
    values = np.empty(n, dtype=np.float64)
    if total == 64:
        keys_to_bits_into(keys, total, values.view(np.uint64))
    else:
        bits = keys_to_bits(keys, total).astype(np.uint32).view(np.float32)
        for i in range(n):
            values[i] = bits[i]
    lo = values[0]
    hi = values[0]
    finite = True
    for i in range(n):
        v = values[i]
        finite &= np.isfinite(v)
        lo = min(lo, v)
        hi = max(hi, v)
    if not (finite and np.isfinite(hi - lo)):
        return radix_order(keys)
    scale = (n - 1) / (hi - lo) if hi > lo else 0.0
    bucket = np.empty(n, dtype=np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        # (0 <= (v - lo) * scale <= n - 1 up to rounding: clamped, never out of the table)
        b = max(min(np.int64((values[i] - lo) * scale), n - 1), 0)
        bucket[i] = b
        starts[b + 1] += 1
    work = 0
    for b in range(n):
        work += starts[b + 1] * starts[b + 1]
        starts[b + 1] += starts[b]
    if work > BUCKET_WORK * n:
        return radix_order(keys)
    order = np.empty(n, dtype=np.int64)
    ordered = np.empty(n, dtype=np.uint64)
    for i in range(n):
        at = starts[bucket[i]]
        order[at] = i
        ordered[at] = keys[i]
        starts[bucket[i]] = at + 1
    # (keys out of order only within a bucket: a key moves past a few, equal ones stay)
    for i in range(1, n):
        k = ordered[i]
        if k >= ordered[i - 1]:
            continue
        o = order[i]
        j = i - 1
        while j >= 0 and ordered[j] > k:
            ordered[j + 1] = ordered[j]
            order[j + 1] = order[j]
            j -= 1
        ordered[j + 1] = k
        order[j + 1] = o
    return order


@njit
def dict_encode(keys, max_distinct, total):
    """Sorted distinct keys and each key's index in them (hash table, then a small sort):
    ``keys`` are :func:`order_keys` of ``total``-bit floats.

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
    ordered = distinct[:nd][key_order(distinct[:nd], total)]
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
def count_distinct(v, most):
    """Number of distinct values in ``v`` (integers), with an open-addressing hash set,
    counted up to ``most + 1`` (where it stops reading)."""
    n = v.size
    if n == 0:
        return 0
    bits = 1
    while (1 << bits) < 2 * min(n, most + 1):
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
            if found > most:
                break
    return found


@njit
def dict_gather(values, idx, out):
    """``out[i] = values[idx[i]]``; returns ``ERR_INDEX`` (and stops) at the first index out
    of range, else 0."""
    nd = np.uint64(values.size)
    for i in range(np.uint64(idx.size)):
        # (unsigned: numba compares int64 with uint64 through float64, 2.5x slower)
        j = np.uint64(idx[i])
        if j >= nd:
            return ERR_INDEX
        out[i] = values[j]
    return 0


@njit
def dictionary_may_pay(v):
    """Few enough distinct bit patterns (``v``: the values as unsigned ints) in samples of
    1024 and 4096 values for a dictionary of at most a quarter of the block."""
    n = v.size
    first = count_distinct(even_sample(v, 1024), 1024)
    if first / max(min(n, 1024), 1) >= 0.95:
        return False
    if n <= 4096 and first > n // 4:
        return False  # the second sample is all of ``v``: it has at least as many
    count = count_distinct(even_sample(v, 4096), 4096)
    return count / min(n, 4096) < 0.6 and count <= n // 4
