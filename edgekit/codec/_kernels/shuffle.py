"""The byte shuffle of the shuffle-lz4 scheme (format version 1): byte ``j`` of every
value, then byte ``j + 1``, for 4- and 8-byte values, and its inverse. A loop a value with
its shifts unrolled: NumPy's strided transpose took 48 us for 21,608 float64 values, this
9 (unshuffle 86 and 10).
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit

_B = np.uint64(0xFF)
_8 = np.uint64(8)
_16 = np.uint64(16)
_24 = np.uint64(24)
_32 = np.uint64(32)
_40 = np.uint64(40)
_48 = np.uint64(48)
_56 = np.uint64(56)


@njit
def byte_shuffle(u):
    """The bytes of the lanes ``u`` (uint32 or uint64), plane by plane: byte ``j`` of
    value ``i`` at ``j * u.size + i`` (uint8)."""
    n = u.size
    out = np.empty(u.view(np.uint8).size, dtype=np.uint8)
    if out.size == 8 * n:
        for i in range(n):
            v = np.uint64(u[i])
            out[i] = np.uint8(v & _B)
            out[n + i] = np.uint8((v >> _8) & _B)
            out[2 * n + i] = np.uint8((v >> _16) & _B)
            out[3 * n + i] = np.uint8((v >> _24) & _B)
            out[4 * n + i] = np.uint8((v >> _32) & _B)
            out[5 * n + i] = np.uint8((v >> _40) & _B)
            out[6 * n + i] = np.uint8((v >> _48) & _B)
            out[7 * n + i] = np.uint8(v >> _56)
    else:
        for i in range(n):
            v = np.uint64(u[i])
            out[i] = np.uint8(v & _B)
            out[n + i] = np.uint8((v >> _8) & _B)
            out[2 * n + i] = np.uint8((v >> _16) & _B)
            out[3 * n + i] = np.uint8((v >> _24) & _B)
    return out


@njit
def byte_unshuffle(b, out):
    """Inverse of :func:`byte_shuffle`: the planes ``b`` (uint8, ``out.size`` times 4 or 8
    bytes, as ``out``'s lanes are uint32 or uint64) into the lanes ``out``."""
    n = out.size
    if b.size == 8 * n:
        for i in range(n):
            out[i] = (
                np.uint64(b[i])
                | (np.uint64(b[n + i]) << _8)
                | (np.uint64(b[2 * n + i]) << _16)
                | (np.uint64(b[3 * n + i]) << _24)
                | (np.uint64(b[4 * n + i]) << _32)
                | (np.uint64(b[5 * n + i]) << _40)
                | (np.uint64(b[6 * n + i]) << _48)
                | (np.uint64(b[7 * n + i]) << _56)
            )
    elif b.size == 4 * n:
        for i in range(n):
            out[i] = (
                np.uint64(b[i])
                | (np.uint64(b[n + i]) << _8)
                | (np.uint64(b[2 * n + i]) << _16)
                | (np.uint64(b[3 * n + i]) << _24)
            )


@njit
def window_planes(u, windows, window):
    """:func:`byte_shuffle` of ``windows`` runs of ``window`` consecutive lanes of ``u``
    (at least ``window``), evenly spread, first and last included, back to back: a
    block's shuffle-lz4 size estimate without gathering its windows first."""
    n = u.size
    w = np.empty(windows * window, dtype=u.dtype)
    for k in range(windows):
        start = k * (n - window) // (windows - 1)
        for i in range(window):
            w[k * window + i] = u[start + i]
    return byte_shuffle(w)
