"""Slow, obviously-correct reference versions of edgekit's kernels, for equivalence tests.

One section per layer; each function states what it mirrors.
"""

from __future__ import annotations

import itertools

# --- dsp -----------------------------------------------------------------------


def upfirdn(h, x, up, down):
    """Upsample by ``up``, filter with FIR ``h``, keep every ``down``-th sample (full length).

    Mirrors the polyphase loop of ``edgekit.dsp.Resampler`` and ``scipy.signal.upfirdn``.
    """
    import numpy as np

    h = np.asarray(h, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    stuffed = np.zeros(len(x) * up)
    stuffed[::up] = x
    full = np.convolve(stuffed, h)
    n_out = (len(stuffed) + len(h) - 1 + down - 1) // down
    return full[::down][:n_out]


def sosfilt_df2t(sos, x):
    """Second-order sections in direct form II transposed, one sample at a time.

    Mirrors ``edgekit.dsp.sosfilt`` (and ``scipy.signal.sosfilt``).
    """
    y = [float(v) for v in x]
    for b0, b1, b2, _a0, a1, a2 in sos:
        z0 = z1 = 0.0
        for i, xi in enumerate(y):
            yi = b0 * xi + z0
            z0 = b1 * xi - a1 * yi + z1
            z1 = b2 * xi - a2 * yi
            y[i] = yi
    return y


# --- codec ---------------------------------------------------------------------


def codec_pack_bits(values: list[int], width: int) -> bytes:
    """Mirrors ``edgekit.codec._kernels.pack_plain``: LSB-first ``width``-bit lanes in u64 words."""
    acc = 0
    for i, v in enumerate(values):
        assert 0 <= v < (1 << width) or width == 0
        acc |= v << (i * width)
    nwords = (len(values) * width + 63) // 64
    return acc.to_bytes(nwords * 8, "little")


def codec_zigzag(v: int) -> int:
    """Mirrors the zigzag map of the Huffman stage for a signed 64-bit value."""
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def codec_symbol(z: int) -> tuple[int, int]:
    """Mirrors ``_kernels._symbol``: (symbol, number of extra bits) of a zigzag value."""
    if z < 8:
        return z, 0
    length = z.bit_length()
    return 8 + (length - 4) * 2 + ((z >> (length - 2)) & 1), length - 2


def codec_residuals(values: list[int], order: int) -> list[int]:
    """Mirrors ``_kernels.residuals``: wrapping order-``order`` differences modulo 2**64."""
    out = [v % (1 << 64) for v in values]
    for _ in range(order):
        out = [(b - a) % (1 << 64) for a, b in itertools.pairwise(out)]
    return out


def codec_alp_decode(k: int, e: int, f: int) -> float:
    """Mirrors ALP decoding of one value: (k * 10**f) / 10**e in IEEE double arithmetic."""
    return (float(k) * float(10**f)) / float(10**e)


def codec_huffman_lengths(counts: list[int]) -> list[int]:
    """Plain Huffman code lengths with a heap (mirrors ``_kernels.huff_lengths`` unlimited)."""
    import heapq

    used = [s for s, c in enumerate(counts) if c > 0]
    lens = [0] * len(counts)
    if len(used) == 1:
        lens[used[0]] = 1
        return lens
    heap = [(counts[s], i, [s]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tiebreak = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lens[s] += 1
        heapq.heappush(heap, (c1 + c2, tiebreak, s1 + s2))
        tiebreak += 1
    return lens


def codec_decode_table(lens: list[int], maxlen: int = 12) -> dict[int, tuple[int, int]]:
    """Mirrors ``_kernels.huff_symbol_tables``: next-``maxlen``-bit pattern -> (symbol, length).

    Canonical codes (by length, then symbol) written MSB-first into an LSB-first stream.
    """
    table: dict[int, tuple[int, int]] = {}
    code = 0
    for length in range(1, maxlen + 1):
        code <<= 1
        for sym, ln in enumerate(lens):
            if ln == length:
                rev = int(format(code, f"0{length}b")[::-1], 2)
                for high in range(1 << (maxlen - length)):
                    table[rev | (high << length)] = (sym, length)
                code += 1
    return table


def codec_gear_chunks(data: bytes, min_size: int, avg_size: int, max_size: int) -> list[int]:
    """Mirrors ``_kernels.cdc_cut_points`` (FastCDC, normalized chunking), byte by byte."""
    from edgekit.codec import _kernels
    from edgekit.codec.blob import _masks

    gear = [int(g) for g in _kernels.gear_table()]
    mask_s, mask_l = _masks(avg_size)
    cuts, start, n = [], 0, len(data)
    while start < n:
        if n - start <= min_size:
            cuts.append(n)
            break
        end = start + min(n - start, max_size)
        normal = start + min(n - start, avg_size)
        h, cut = 0, end
        for i in range(start + min_size, end):
            h = ((h << 1) + gear[data[i]]) % (1 << 64)
            if (h & (mask_s if i < normal else mask_l)) == 0:
                cut = i + 1
                break
        cuts.append(cut)
        start = cut
    return cuts


# --- infer ---------------------------------------------------------------------


# --- scan ----------------------------------------------------------------------


# --- sync ----------------------------------------------------------------------
