"""Kernels of the multivariate detectors (``edgekit.analytics.multivariate``).

Both detectors score a row ``x`` the same way, from a model fitted in NumPy:

- ``z = (x - mean) / scale`` (per feature);
- ``t = V.T @ z`` over the ``k`` kept directions (columns of ``V``, orthonormal);
- ``T2 = sum(t**2 * inv_var)``;
- ``Q = |z - V @ t|**2`` (the squared prediction error off the kept subspace), only when
  ``lim[1] > 0``; the raw score is then ``max(T2 / lim[0], Q / lim[1])``, else ``T2``;
- the score is the EWMA of the raw scores, ``s += alpha (raw - s)`` (the first raw
  score as is), ``alpha = lim[2]``.

``st`` = (smoothed score, 1.0 once there is one); ``t`` (k) and ``r`` (d) are scratch,
so a row allocates nothing. A row with NaN scores NaN and leaves ``st`` unchanged.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit


@njit
def parts1(x, mean, scale, V, inv_var, want_q, t, r):
    """(T2, Q) of one row ``x`` (Q is 0 unless ``want_q``); (NaN, NaN) for a row with NaN."""
    d = x.shape[0]
    k = inv_var.shape[0]
    for i in range(d):
        v = x[i]
        if v != v:
            return np.nan, np.nan
        r[i] = (v - mean[i]) / scale[i]
    t2 = 0.0
    for j in range(k):
        acc = 0.0
        for i in range(d):
            acc += V[i, j] * r[i]
        t[j] = acc
        t2 += acc * acc * inv_var[j]
    q = 0.0
    if want_q:
        for i in range(d):
            acc = r[i]
            for j in range(k):
                acc -= V[i, j] * t[j]
            q += acc * acc
    return t2, q


@njit
def t2q1(x, mean, scale, V, inv_var, lim, st, t, r):
    """Score of one row ``x`` (see the module doc); updates ``st``."""
    t2, q = parts1(x, mean, scale, V, inv_var, lim[1] > 0.0, t, r)
    if t2 != t2:
        return np.nan
    raw = t2
    if lim[1] > 0.0:
        raw = max(t2 / lim[0], q / lim[1])
    if st[1] == 0.0:
        st[0] = raw
        st[1] = 1.0
    else:
        st[0] += lim[2] * (raw - st[0])
    return st[0]


@njit
def t2q(X, mean, scale, V, inv_var, lim, st, t, r):
    """``t2q1`` over the rows of ``X``."""
    out = np.empty(X.shape[0])
    for n in range(X.shape[0]):
        out[n] = t2q1(X[n], mean, scale, V, inv_var, lim, st, t, r)
    return out


@njit
def parts(X, mean, scale, V, inv_var, t, r):
    """(T2, Q) of each row of ``X``, unsmoothed: the columns of an (n, 2) array."""
    out = np.empty((X.shape[0], 2))
    for n in range(X.shape[0]):
        out[n, 0], out[n, 1] = parts1(X[n], mean, scale, V, inv_var, True, t, r)
    return out
