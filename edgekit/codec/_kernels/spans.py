"""The copy scheme (format version 11): spans of a frame's integer values that repeat
earlier values of the frame (a run of one value, a stretch of waveform that a speech
synthesiser reuses), found by hashing windows of WINDOW values; the span table's varints;
the decoder's fill.

The finders read the values' bits (an unsigned view of any integer dtype): a window's
hash mixes its WINDOW values. :func:`find_spans` indexes the windows at every STRIDE-th
position and looks up those at every LOOKUP-th (coprime: every STRIDE x LOOKUP values of a
span hold a looked-up window whose copy was indexed, found unless a later window took its
slot of the table), then grows each match both ways value by value.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_POSITION, ERR_SHORT
from edgekit.codec._kernels.bitpack import _put_varint, _varint_size
from edgekit.codec._kernels.modes import _rd_varint

#: Values a hashed window holds.
WINDOW = 8
#: Windows are indexed at every STRIDE-th position, looked up at every LOOKUP-th.
STRIDE = 16
LOOKUP = 15
#: :func:`span_share` indexes the windows at every PROBE_STRIDE-th position, probes the
#: values at every PROBE_EVERY-th ...
PROBE_STRIDE = 128
PROBE_EVERY = 4096
#: ... and counts a probe where PROBE_SPAN values from one of its PROBE_STRIDE positions on
#: repeat earlier ones.
PROBE_SPAN = 64


#: A window's hash is the polynomial ``sum(v[i + k] * BASE**(WINDOW - 1 - k))`` modulo
#: 2**64 (FNV's 64-bit prime: independent products, and rolled on one position with two
#: more), its table slot the top bits of its product with _MIX.
BASE = 0x100000001B3
_POW = tuple(np.uint64(pow(BASE, k, 1 << 64)) for k in range(WINDOW))
_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always")
def _hash(v, i):
    """The polynomial hash of the WINDOW values of ``v`` from position ``i``."""
    return (
        np.uint64(v[i]) * _POW[7]
        + np.uint64(v[i + 1]) * _POW[6]
        + np.uint64(v[i + 2]) * _POW[5]
        + np.uint64(v[i + 3]) * _POW[4]
        + np.uint64(v[i + 4]) * _POW[3]
        + np.uint64(v[i + 5]) * _POW[2]
        + np.uint64(v[i + 6]) * _POW[1]
        + np.uint64(v[i + 7])
    )


@njit(inline="always")
def _roll(h, v, i):
    """The hash of the window from ``i + 1``, from ``h``, that of the window from ``i``."""
    return (h - np.uint64(v[i]) * _POW[7]) * _POW[1] + np.uint64(v[i + WINDOW])


@njit(inline="always")
def _slot(h, shift):
    """The table slot of hash ``h`` (``shift``: 64 less the table's bits)."""
    return (h * _MIX) >> shift


@njit(inline="always")
def _table(windows):
    """An empty table of positions for ``windows`` windows (-1: none), and the shift of
    :func:`_slot` for it."""
    bits = 10
    while (1 << bits) < 2 * windows:
        bits += 1
    return np.full(1 << bits, -1, dtype=np.int64), np.uint64(64 - bits)


@njit(inline="always")
def _same(v, i, j, m):
    """Whether the ``m`` values of ``v`` from ``i`` equal those from ``j``."""
    for k in range(m):  # noqa: SIM110 (a loop numba compiles)
        if v[i + k] != v[j + k]:
            return False
    return True


#: :func:`_match_end` compares stretches of this many values at a time.
_STRETCH = 256


@njit
def _differ(a, b):
    """Whether the views ``a`` and ``b`` (one size) differ anywhere (a loop without an
    exit: it vectorises, 10x the speed of comparing value by value)."""
    diff = a[0] ^ a[0]
    for k in range(a.size):
        diff |= a[k] ^ b[k]
    return diff != 0


@njit(inline="always")
def _match_end(v, e, d):
    """The first position from ``e`` on (``e >= d``) where ``v`` differs from itself
    ``d`` values back, ``v.size`` where none does."""
    n = v.size
    while e + _STRETCH <= n and not _differ(v[e : e + _STRETCH], v[e - d : e - d + _STRETCH]):
        e += _STRETCH
    while e < n and v[e] == v[e - d]:
        e += 1
    return e


@njit
def span_share(v):
    """Estimated share of the values of ``v`` (unsigned integers) inside spans that repeat
    earlier values, from probes at every PROBE_EVERY-th position: the share of probes
    where, at one of the PROBE_STRIDE positions from it, PROBE_SPAN values repeat values of
    an earlier indexed window. About ``n / 25`` window hashes, a quarter of them at cache
    lines of their own (16-bit values)."""
    n = v.size
    if n < PROBE_EVERY + PROBE_SPAN + PROBE_STRIDE:
        return 0.0
    table, shift = _table(n // PROBE_STRIDE + 1)
    for p in range(0, n - WINDOW + 1, PROBE_STRIDE):
        h = _slot(_hash(v, p), shift)
        if table[h] < 0:  # (the earliest window of each hash: any later one may copy it)
            table[h] = p
    probes = 0
    hits = 0
    for p in range(PROBE_EVERY // 2, n - PROBE_SPAN - PROBE_STRIDE, PROBE_EVERY):
        probes += 1
        h = _hash(v, p)
        for i in range(p, p + PROBE_STRIDE):
            j = table[_slot(h, shift)]
            if 0 <= j < i and _same(v, i, j, PROBE_SPAN):
                hits += 1
                break
            h = _roll(h, v, i)
    return hits / probes


@njit
def find_spans(v, min_span):
    """The spans of ``v`` (unsigned integers) of ``min_span`` values or more that repeat
    earlier values (nearly every one of STRIDE x LOOKUP + WINDOW values or more), left to
    right, none overlapping: ``(starts, distances, lengths)``
    (int64), each span's values ``v[s:s + length]`` equal to ``v[s - distance:s -
    distance + length]`` (a distance under the length: a run, copied value by value)."""
    n = v.size
    cap = n // max(min_span, 1) + 1
    starts = np.empty(cap, dtype=np.int64)
    dists = np.empty(cap, dtype=np.int64)
    lengths = np.empty(cap, dtype=np.int64)
    ns = 0
    if n < max(min_span, WINDOW + 1):
        return starts[:0], dists[:0], lengths[:0]
    table, shift = _table(n // STRIDE + 1)
    indexed = 0  # the next window position to index
    done = 0  # the end of the last span
    # A run of one value shorter than ``min_span`` (values ``run_lo`` to ``run_hi``): a
    # window inside it that matches one inside it too grows to at most the run less the
    # distance, a span too short; such matches are not grown (a sensor's held readings
    # matched every LOOKUP values took most of the search).
    run_lo = run_hi = 0
    i = LOOKUP
    while i + WINDOW <= n:
        while indexed < i and indexed + WINDOW <= n:
            table[_slot(_hash(v, indexed), shift)] = indexed  # (the latest: the nearest copy)
            indexed += STRIDE
        j = table[_slot(_hash(v, i), shift)]
        if run_lo <= j < i and i + WINDOW <= run_hi:
            i += LOOKUP
            continue
        if 0 <= j < i and _same(v, i, j, WINDOW):
            d = i - j
            a = i
            while a > done and a - d > 0 and v[a - 1] == v[a - 1 - d]:
                a -= 1
            e = _match_end(v, i + WINDOW, d)
            if e - a >= min_span:
                starts[ns] = a
                dists[ns] = d
                lengths[ns] = e - a
                ns += 1
                done = e
                i = (e + LOOKUP - 1) // LOOKUP * LOOKUP
                continue
            if _same(v, i, i + 1, WINDOW - 1):  # (a window of one value: its run)
                lo, hi = i, i + WINDOW
                while lo > 0 and v[lo - 1] == v[i]:
                    lo -= 1
                while hi < n and v[hi] == v[i]:
                    hi += 1
                if hi - lo < min_span:
                    run_lo, run_hi = lo, hi
        i += LOOKUP
    return starts[:ns], dists[:ns], lengths[:ns]


@njit
def block_spans(starts, dists, lengths, start, stop):
    """The spans (of :func:`find_spans`) inside values ``start`` to ``stop``, cut at both
    ends, as ``(block-relative starts, distances, lengths)``."""
    m = starts.size
    a = np.searchsorted(starts + lengths, start, side="right")
    rel = np.empty(m - a, dtype=np.int64)
    dist = np.empty(m - a, dtype=np.int64)
    length = np.empty(m - a, dtype=np.int64)
    k = 0
    for t in range(a, m):
        s = max(starts[t], start)
        e = min(starts[t] + lengths[t], stop)
        if s >= stop:
            break
        if e > s:
            rel[k] = s - start
            dist[k] = dists[t]
            length[k] = e - s
            k += 1
    return rel[:k], dist[:k], length[:k]


@njit
def rest_of(values, rel, length):
    """The values of a block outside its spans (block-relative starts ``rel``), in order."""
    covered = 0
    for t in range(rel.size):
        covered += length[t]
    out = np.empty(values.size - covered, dtype=values.dtype)
    j = 0
    at = 0
    for t in range(rel.size + 1):
        stop = rel[t] if t < rel.size else values.size
        _copy(out[j : j + stop - at], values[at:stop])
        j += stop - at
        if t < rel.size:
            at = rel[t] + length[t]
    return out


@njit
def span_table(rel, dist, length):
    """The span table of a copy block: the span count, then per span the values since the
    last one's end, its length and its distance back, LEB128 varints all."""
    size = _varint_size(np.uint64(rel.size))
    at = 0
    for t in range(rel.size):
        size += _varint_size(np.uint64(rel[t] - at))
        size += _varint_size(np.uint64(length[t])) + _varint_size(np.uint64(dist[t]))
        at = rel[t] + length[t]
    out = np.empty(size, dtype=np.uint8)
    pos = _put_varint(out, 0, np.uint64(rel.size))
    at = 0
    for t in range(rel.size):
        pos = _put_varint(out, pos, np.uint64(rel[t] - at))
        pos = _put_varint(out, pos, np.uint64(length[t]))
        pos = _put_varint(out, pos, np.uint64(dist[t]))
        at = rel[t] + length[t]
    return out


@njit
def read_span_table(buf, pos, end, count, start):
    """Parse a copy block's span table at ``buf[pos:end]`` for a block of ``count`` values
    from value ``start`` of its frame. Returns ``(status, position after it, block-relative
    starts, distances, lengths, values the spans cover)``; status ``ERR_SHORT`` for a
    truncated or overlong varint, ``ERR_POSITION`` for a span out of the block or a
    distance before the frame's start (or 0)."""
    empty = np.empty(0, dtype=np.int64)
    ok, ns, pos = _rd_varint(buf, pos, end)
    if not ok:
        return ERR_SHORT, pos, empty, empty, empty, 0
    if ns > np.uint64(count):
        return ERR_POSITION, pos, empty, empty, empty, 0
    m = np.int64(ns)
    rel = np.empty(m, dtype=np.int64)
    dist = np.empty(m, dtype=np.int64)
    length = np.empty(m, dtype=np.int64)
    at = np.int64(0)
    for t in range(m):
        ok1, gap, pos = _rd_varint(buf, pos, end)
        ok2, ln, pos = _rd_varint(buf, pos, end)
        ok3, d, pos = _rd_varint(buf, pos, end)
        if not (ok1 and ok2 and ok3):
            return ERR_SHORT, pos, empty, empty, empty, 0
        left = np.uint64(count - at)
        if gap > left or ln == 0 or ln > left - gap or d == 0:
            return ERR_POSITION, pos, empty, empty, empty, 0
        s = at + np.int64(gap)
        if d > np.uint64(start + s):
            return ERR_POSITION, pos, empty, empty, empty, 0
        rel[t] = s
        dist[t] = np.int64(d)
        length[t] = np.int64(ln)
        at = s + np.int64(ln)
    covered = np.int64(0)
    for t in range(m):
        covered += length[t]
    return 0, pos, rel, dist, length, covered


@njit
def fill_spans(out, start, count, rel, dist, length, m):
    """Write the block of ``count`` values from value ``start`` of ``out`` (the frame's
    values so far), whose ``m`` values outside the spans are in order at its end
    (``out[start + count - m:start + count]``): each of those moves forward to its place
    (never over one not yet moved) and each span copies ``dist`` values back (spans checked
    by :func:`read_span_table`)."""
    src = start + count - m
    at = start
    for t in range(rel.size + 1):
        stop = start + (rel[t] if t < rel.size else count)
        if src != at:
            _copy_ahead(out, at, src, stop - at)
        src += stop - at
        if t < rel.size:
            _copy_back(out, stop, stop + length[t], dist[t])
            at = stop + length[t]


@njit(inline="always")
def _copy(dst, src):
    """``dst[:] = src`` for two views that do not overlap (a loop LLVM vectorises)."""
    for k in range(dst.size):
        dst[k] = src[k]


@njit(inline="always")
def _copy_ahead(out, i, src, n):
    """``out[i:i + n]`` from ``out[src:src + n]`` (``src`` after ``i``), in copies that
    do not overlap their own source."""
    while n > 0:
        c = min(n, src - i)
        _copy(out[i : i + c], out[src : src + c])
        i += c
        src += c
        n -= c


@njit(inline="always")
def _copy_back(out, i, end, d):
    """``out[i:end]`` copied value by value from ``d`` values back, in copies that do not
    overlap their own source: where ``d`` is under the length, the period written so far
    is copied from twice as far back each time (a run of one value: 1, 2, 4, ... values a
    copy)."""
    while i < end:
        c = min(d, end - i)
        _copy(out[i : i + c], out[i - d : i - d + c])
        i += c
        d += c
