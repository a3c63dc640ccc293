"""The repeat (format version 4), repeat-div (version 8) and float-div (version 6)
blocks decoded in one kernel call each: the lags, the literals (a nested float block of
alp, float-mult, float-quant, float-mult-adj, float-grid or raw; or the residuals and
adjustments of repeat-div's, nested integer blocks), then the fill; float-div's multiples
and adjustments; float-mult-adj's (version 5) and float-grid's (version 12) multiples and
adjustments. The block loop of float frames takes them from here; any block these
decoders do not take (a nested scheme they leave to Python, or any field out of place)
goes to the Python side, which decodes it or names the error, so they only answer yes or
no."""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import (
    ADJ_DENSE,
    ADJ_SPARSE,
    ALP,
    DOD,
    FGRID,
    FMULT,
    FMULT_ADJ,
    FOR,
    FQUANT,
    HUFF,
    HUFF1,
    MULT,
    RAW,
    SPARSE,
    WIDE_RANK,
)
from edgekit.codec._kernels.bitpack import _rd32, _rd64, copy_bytes, decode_packed_block
from edgekit.codec._kernels.floats import decode_alp_block
from edgekit.codec._kernels.fmadj import grid_values
from edgekit.codec._kernels.huff1 import decode_huff1_block
from edgekit.codec._kernels.huffdec import decode_huff_lanes
from edgekit.codec._kernels.lag import fdiv_join
from edgekit.codec._kernels.modes import (
    decode_fmult_block,
    decode_fquant_block,
    decode_mult_block,
    decode_wide_rank_block,
)
from edgekit.codec._kernels.repeat import repeat_div_fill, repeat_fill
from edgekit.codec._kernels.sparse import decode_sparse_block


@njit
def nested_lanes(buf, pos, end, scheme, n, out):
    """Decode ``n`` lanes (uint64) of the nested integer ``scheme`` whose payload is
    exactly ``buf[pos:end]`` into ``out``: True, or False for a scheme left to Python
    (lag, levels) or a payload that does not decode to exactly its end."""
    if scheme == RAW:
        # (the lanes' own bytes: a float-div block's few adjustments of a NaN payload or
        # an infinity)
        if end - pos != 8 * n:
            return False
        copy_bytes(out.view(np.uint8), 0, buf, pos, 8 * n)
        return True
    if scheme == HUFF:
        status, got = decode_huff_lanes(buf, pos, end, n, out)
    elif scheme == HUFF1:
        status, got = decode_huff1_block(buf, pos, end, n, out)
    elif FOR <= scheme <= DOD:
        status, got = decode_packed_block(buf, pos, end, scheme - FOR, n, out)
    elif scheme == MULT:
        status, got = decode_mult_block(buf, pos, end, n, out)
    elif scheme == WIDE_RANK:
        status, got = decode_wide_rank_block(buf, pos, end, n, out)
    elif scheme == SPARSE:
        status, got = decode_sparse_block(buf, pos, end, n, out)
    else:
        return False
    return status == 0 and got == end


@njit
def _sized_lanes(buf, pos, end, n, out):
    """A nested integer block with its length (``scheme u8``, ``length u32``, payload) at
    ``buf[pos:end]`` decoded into ``out[:n]``: the position after it, or -1."""
    if end - pos < 5:
        return -1
    length = _rd32(buf, pos + 1)
    stop = pos + 5 + length
    if stop > end or not nested_lanes(buf, pos + 5, stop, buf[pos], n, out):
        return -1
    return stop


@njit
def _adjustments(buf, pos, end, m, adj):
    """Add the ``m`` adjustments of a float-div or repeat-div block (its last field, up to
    ``end``) to ``adj`` (lanes of the values' unsigned type, modulo its width): True, or
    False for anything left to Python."""
    if pos >= end:
        return False
    form = buf[pos]
    pos += 1
    if form == ADJ_DENSE:
        if pos >= end:
            return False
        lanes = np.empty(m, dtype=np.uint64)
        if not nested_lanes(buf, pos + 1, end, buf[pos], m, lanes):
            return False
        for i in range(m):
            adj[i] += lanes[i]
        return True
    if form != ADJ_SPARSE or end - pos < 4:
        return False
    k = _rd32(buf, pos)
    pos += 4
    if k > m:
        return False
    if k == 0:
        return pos == end
    gaps = np.empty(k, dtype=np.uint64)
    pos = _sized_lanes(buf, pos, end, k, gaps)
    if pos < 0 or pos >= end:
        return False
    values = np.empty(k, dtype=np.uint64)
    if not nested_lanes(buf, pos + 1, end, buf[pos], k, values):
        return False
    at = np.int64(0)  # (each position is the gap from the one before, the first from 0)
    for t in range(k):
        gap = gaps[t]
        if gap >= np.uint64(m) or (t > 0 and gap == 0):
            return False
        at += np.int64(gap)
        if at >= m:
            return False
        adj[at] += values[t]
    return True


@njit
def decode_repeat_div_block(buf, pos, end, n, out, out_bits):
    """Decode the repeat-div payload at ``buf[pos:end]`` (exactly) into ``out[:n]`` (its
    unsigned view ``out_bits``): ``divisor f64, period u16``, the literal count ``u32``,
    the lags and the literals' residuals as nested integer blocks with their lengths, then
    the adjustments. True, or False (``out`` partly written) for any block left to Python,
    valid or not."""
    if end - pos < 14:
        return False
    divisor = np.array([_rd64(buf, pos)]).view(np.float64)[0]
    period = np.int64(buf[pos + 8]) | np.int64(buf[pos + 9]) << 8
    if not (divisor > 0.0 and divisor < np.inf) or period == 0:
        return False
    m = _rd32(buf, pos + 10)
    if m < 1 or m > n:
        return False
    lags = np.empty(n, dtype=np.uint64)
    pos = _sized_lanes(buf, pos + 14, end, n, lags)
    if pos < 0:
        return False
    residuals = np.empty(m, dtype=np.uint64)
    pos = _sized_lanes(buf, pos, end, m, residuals)
    if pos < 0:
        return False
    adj = np.zeros(m, dtype=out_bits.dtype)
    if not _adjustments(buf, pos, end, m, adj):
        return False
    return repeat_div_fill(lags.view(np.int64), residuals, adj, period, divisor, out, out_bits) == 0


@njit
def decode_repeat_block(buf, pos, end, n, out, out_bits):
    """Decode the repeat payload at ``buf[pos:end]`` (exactly) into ``out[:n]`` (its
    unsigned view ``out_bits``): the literal count ``u32``, the lags as a nested integer
    block with its length, then the literals' float scheme ``u8`` and payload (alp,
    float-mult, float-quant, float-mult-adj, float-grid or raw here). True, or False
    (``out`` partly written) for any block left to Python, valid or not."""
    if end - pos < 4:
        return False
    m = _rd32(buf, pos)
    if m < 1 or m > n:
        return False
    lags = np.empty(n, dtype=np.uint64)
    pos = _sized_lanes(buf, pos + 4, end, n, lags)
    if pos < 0 or pos >= end:
        return False
    scheme = buf[pos]
    pos += 1
    literals = np.empty(m, dtype=out.dtype)
    bits = literals.view(out_bits.dtype)
    if scheme == ALP:
        status, got = decode_alp_block(buf, pos, end, m, literals, bits)
    elif scheme == FMULT:
        status, got = decode_fmult_block(buf, pos, end, m, literals, bits)
    elif scheme == FQUANT:
        status, got = decode_fquant_block(buf, pos, end, m, bits)
    elif scheme in (FMULT_ADJ, FGRID):
        if not decode_multiples_block(buf, pos, end, m, scheme == FGRID, literals, bits):
            return False
        status, got = 0, end
    elif scheme == RAW and end - pos == m * bits.itemsize:
        copy_bytes(bits.view(np.uint8), 0, buf, pos, end - pos)
        status, got = 0, end
    else:
        return False
    if status != 0 or got != end:
        return False
    return repeat_fill(lags.view(np.int64), bits, out_bits) == 0


@njit
def decode_fdiv_block(buf, pos, end, n, out, out_bits):
    """Decode the float-div payload at ``buf[pos:end]`` (exactly) into ``out[:n]`` (its
    unsigned view ``out_bits``): ``divisor f64, lag u16``, the multiples (or their
    residuals across ``lag``) as a nested integer block with its length, then the
    adjustments. True, or False (``out`` partly written) for any block left to Python,
    valid or not."""
    if end - pos < 10:
        return False
    divisor = np.array([_rd64(buf, pos)]).view(np.float64)[0]
    lag = np.int64(buf[pos + 8]) | np.int64(buf[pos + 9]) << 8
    if not (divisor > 0.0 and divisor < np.inf):
        return False
    lanes = np.empty(n, dtype=np.uint64)
    pos = _sized_lanes(buf, pos + 10, end, n, lanes)
    if pos < 0:
        return False
    fdiv_join(lanes, lag, divisor, out)
    return _adjustments(buf, pos, end, n, out_bits)


@njit
def decode_multiples_block(buf, pos, end, n, grid, out, out_bits):
    """Decode the float-mult-adj payload (``grid`` False: ``base f64``) or the float-grid
    payload (``grid``: ``base f64, offset f64``) at ``buf[pos:end]`` (exactly) into
    ``out[:n]`` (its unsigned view ``out_bits``): the multiples ``k`` as a nested integer
    block with its length, then the adjustments' nested scheme ``u8`` and payload; each
    value is ``k * base`` (``+ offset``) in double, rounded to ``out``'s type, plus its
    adjustment on the bits. True, or False (``out`` partly written) for any block left to
    Python, valid or not."""
    head = 16 if grid else 8
    if end - pos < head:
        return False
    base = np.array([_rd64(buf, pos)]).view(np.float64)[0]
    offset = 0.0
    if grid:
        offset = np.array([_rd64(buf, pos + 8)]).view(np.float64)[0]
        if not (base > 0.0 and base < np.inf and abs(offset) < np.inf):
            return False  # (Python names the bad grid)
    k = np.empty(n, dtype=np.uint64)
    pos = _sized_lanes(buf, pos + head, end, n, k)
    if pos < 0 or pos >= end:
        return False
    adj = np.empty(n, dtype=np.uint64)
    if not nested_lanes(buf, pos + 1, end, buf[pos], n, adj):
        return False
    if grid:
        grid_values(k.view(np.int64), base, offset, out[:n])
    else:
        multiples = k.view(np.int64)
        for i in range(n):
            out[i] = np.float64(multiples[i]) * base
    for i in range(n):
        out_bits[i] += adj[i]
    return True
