"""The sparse scheme (format version 5): integer residuals of one order that are one
constant except at a few positions (a logger's clock with rare gaps and duplicates).

The exceptions are coded as varint gaps between their positions and varint multiples of
their common step, so a gap costs 2 to 4 bytes where int-mult's exception costs 10 and a
Huffman code at least one bit per value. Layout: ``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_PARAMS, ERR_POSITION, ERR_SHORT
from edgekit.codec._kernels.bitpack import ONE, SIGN, ZERO, _put64, _put_varint
from edgekit.codec._kernels.modes import (
    _integrate,
    _magnitude,
    _order_head,
    _rd_varint,
    gcd_u64,
    int_mult_plan,
    residual_at,
)

#: Blocks shorter than this are not tried (the plan needs its sample).
SPARSE_MIN_VALUES = 64


@njit(inline="always")
def _zigzag(v):
    """zigzag of a uint64 read as int64."""
    return (v << ONE) ^ (ZERO - (v >> np.uint64(63)))


@njit(inline="always")
def _unzigzag(z):
    return (z >> ONE) ^ (ZERO - (z & ONE))


@njit
def sparse_payload(u, limit):
    """The sparse payload of lanes ``u`` when the plan (:func:`int_mult_plan`) finds an
    order (1 or 2) whose residuals are one constant but at 1 or more (and few) positions
    and the payload is smaller than ``limit`` bytes, else an empty array.

    Payload: ``order u8``, the heads (``u64`` each), then varints: ``zigzag(constant)``,
    ``step``, ``nexc``, and per exception the gap to the previous one and
    ``zigzag((residual - constant) / step)``.
    """
    none = np.zeros(0, dtype=np.uint8)
    n = u.size
    if n < SPARSE_MIN_VALUES:
        return none
    _factor, _offset, order, constant = int_mult_plan(u)
    if order == 0:
        return none
    m = n - order
    nexc = 0
    step = ZERO
    for i in range(m):
        d = residual_at(u, i, order) - constant
        if d != ZERO:
            nexc += 1
            step = gcd_u64(step, _magnitude(d))
    if nexc == 0:
        return none  # a perfect grid stays a delta block (readable by every version)
    if step & SIGN:  # only 2**63 itself: use step 1 (its multiple still fits an int64)
        step = ONE
    # 1 + 16 head bytes, three varints of at most 10 bytes, two varints an exception.
    if 1 + 8 * order + 3 + 3 * nexc >= limit:
        return none  # even at the fewest bytes it cannot pay
    out = np.empty(1 + 8 * order + 30 + 20 * nexc, dtype=np.uint8)
    out[0] = np.uint8(order)
    at = 1
    if order >= 1:
        _put64(out, at, u[0])
        at += 8
    if order == 2:
        _put64(out, at, u[1] - u[0])
        at += 8
    at = _put_varint(out, at, _zigzag(constant))
    at = _put_varint(out, at, step)
    at = _put_varint(out, at, np.uint64(nexc))
    sstep = np.int64(step) if step != ZERO else np.int64(1)
    prev = -1
    for i in range(m):
        d = residual_at(u, i, order) - constant
        if d != ZERO:
            at = _put_varint(out, at, np.uint64(i - prev - 1))
            at = _put_varint(out, at, _zigzag(np.uint64(np.int64(d) // sstep)))
            prev = i
            if at >= limit:
                return none
    return out[:at].copy()


@njit
def decode_sparse_block(buf, pos, end, n, out):
    """Parse and decode a sparse payload at ``buf[pos:end]`` into ``out[:n]`` (uint64).

    Returns ``(status, position after the payload)``.
    """
    status, order, first, firstd, pos = _order_head(buf, pos, end, n, 3)
    if status != 0:
        return status, pos
    ok, z, pos = _rd_varint(buf, pos, end)
    if not ok:
        return ERR_SHORT, pos
    constant = _unzigzag(z)
    ok, step, pos = _rd_varint(buf, pos, end)
    if not ok:
        return ERR_SHORT, pos
    ok, nexc, pos = _rd_varint(buf, pos, end)
    if not ok:
        return ERR_SHORT, pos
    m = n - order  # >= 0: _order_head checked n >= order
    um = np.uint64(m)
    if nexc > um:  # (uint64 both: never the float compare numba makes of a mix)
        return ERR_PARAMS, pos
    for i in range(order, n):
        out[i] = constant
    prev = np.int64(-1)
    for _t in range(np.int64(nexc)):
        ok, gap, pos = _rd_varint(buf, pos, end)
        if not ok:
            return ERR_SHORT, pos
        if gap >= um:
            return ERR_POSITION, pos
        p = prev + 1 + np.int64(gap)
        if p >= m:
            return ERR_POSITION, pos
        ok, z, pos = _rd_varint(buf, pos, end)
        if not ok:
            return ERR_SHORT, pos
        out[order + p] = constant + step * _unzigzag(z)
        prev = p
    _integrate(out, n, order, first, firstd)
    return 0, pos
