"""Kernels of the multivariate detectors (``edgekit.analytics.multivariate``).

Both detectors score a row ``x`` of ``d`` features the same way, from a model fitted in
NumPy: ``k`` orthonormal directions, the columns of ``V`` (d, k), and one float64 array
``buf`` holding the rest (one array crosses into numba per call, which keeps ``update``
cheap), laid out by the offsets below:

- ``T2_LIM``, ``Q_LIM`` (0: no Q), ``ALPHA``: the limits and the EWMA factor;
- ``S``, ``HAS``: the smoothed score and 1.0 once there is one;
- then ``mean`` (d), ``scale`` (d), ``inv_var`` (k), and scratch ``t`` (k), ``r`` (d).

For a row: ``z = (x - mean) / scale``, ``t = V.T @ z``, ``T2 = sum(t**2 * inv_var)``,
``Q = |z - V @ t|**2`` (only with a Q limit); the raw score is
``max(T2 / T2_LIM, Q / Q_LIM)`` with a Q limit, else ``T2``; the score is its EWMA,
``s += ALPHA (raw - s)`` (the first raw score as is). A row with NaN scores NaN and
leaves the state unchanged; a row with infinity scores -1.0 (the caller raises).
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit

T2_LIM, Q_LIM, ALPHA, S, HAS = 0, 1, 2, 3, 4
HEAD = 5


def size(d: int, k: int) -> int:
    """Length of ``buf`` for ``d`` features and ``k`` directions."""
    return HEAD + 3 * d + 2 * k


@njit
def parts1(x, V, buf, want_q):
    """(T2, Q) of one row ``x`` (Q is 0 unless ``want_q``); NaN for a row with NaN, -1.0
    for a row with infinity."""
    d, k = V.shape
    mean, scale, inv_var = HEAD, HEAD + d, HEAD + 2 * d
    t, r = HEAD + 2 * d + k, HEAD + 2 * d + 2 * k
    for i in range(d):
        v = x[i]
        if v != v:
            return np.nan, np.nan
        if v - v != 0.0:
            return -1.0, -1.0
        buf[r + i] = (v - buf[mean + i]) / buf[scale + i]
    t2 = 0.0
    for j in range(k):
        acc = 0.0
        for i in range(d):
            acc += V[i, j] * buf[r + i]
        buf[t + j] = acc
        t2 += acc * acc * buf[inv_var + j]
    q = 0.0
    if want_q:
        for i in range(d):
            acc = buf[r + i]
            for j in range(k):
                acc -= V[i, j] * buf[t + j]
            q += acc * acc
    return t2, q


@njit
def t2q1(x, V, buf):
    """Score of one row ``x`` (see the module doc); updates the smoothed score."""
    q_lim = buf[Q_LIM]
    t2, q = parts1(x, V, buf, q_lim > 0.0)
    if not t2 >= 0.0:  # NaN or infinity
        return t2
    raw = t2
    if q_lim > 0.0:
        raw = max(t2 / buf[T2_LIM], q / q_lim)
    if buf[HAS] == 0.0:
        buf[S] = raw
        buf[HAS] = 1.0
    else:
        buf[S] += buf[ALPHA] * (raw - buf[S])
    return buf[S]


@njit
def t2q(X, V, buf):
    """``t2q1`` over the rows of ``X``."""
    out = np.empty(X.shape[0])
    for n in range(X.shape[0]):
        out[n] = t2q1(X[n], V, buf)
    return out


@njit
def parts(X, V, buf):
    """(T2, Q) of each row of ``X``, unsmoothed: the columns of an (n, 2) array."""
    out = np.empty((X.shape[0], 2))
    for n in range(X.shape[0]):
        out[n, 0], out[n, 1] = parts1(X[n], V, buf, True)
    return out
