"""Kernels of the anomaly detectors (``edgekit.analytics.detectors`` and ``_detector``)."""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit


@njit
def hysteresis(scores, on, off, alarm):
    """Alarms of ``scores``: on above ``on``, off below ``off``, else the previous value.

    ``alarm`` is the alarm before the first score; NaN scores keep the previous value.
    Returns (alarms, last alarm).
    """
    out = np.empty(scores.shape[0], dtype=np.bool_)
    for i in range(scores.shape[0]):
        s = scores[i]
        if s > on:
            alarm = True
        elif s < off:
            alarm = False
        out[i] = alarm
    return out, alarm


# ---- EWMA z-score --------------------------------------------------------------------


@njit
def ewma_z1(v, st, alpha, warmup):
    """One sample of the EWMA z-score: ``|v - m| / sqrt(s2)`` with the EW mean ``m`` and
    variance ``s2`` before ``v``, then both updated with ``v``.

    ``st`` = (samples seen, m, s2). NaN while fewer than ``warmup`` samples came, when
    ``v`` is NaN (the state is left unchanged), and 0/0; ``inf`` for a change after a
    constant stretch.
    """
    if v != v:
        return np.nan
    k = st[0]
    m = st[1]
    s2 = st[2]
    if k == 0.0:
        st[0] = 1.0
        st[1] = v
        return np.nan
    d = v - m
    score = np.nan
    if k >= warmup:
        score = abs(d) / math.sqrt(s2)
    st[0] = k + 1.0
    st[1] = m + alpha * d
    st[2] = (1.0 - alpha) * (s2 + alpha * d * d)
    return score


@njit
def ewma_z(x, st, alpha, warmup):
    """``ewma_z1`` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = ewma_z1(x[i], st, alpha, warmup)
    return out


# ---- Half-Space Trees ----------------------------------------------------------------


@njit
def hst_row(x, feature, threshold, l_mass, r_mass, st, height, window, size_limit, max_score):
    """Score then learn one row ``x`` (river's ``score_one`` then ``learn_one``).

    Trees are complete binary trees in heap order (children of node ``i``: ``2i+1``,
    ``2i+2``); ``st`` = (samples in the current window, still in the first window).
    Returns NaN during the first window (river gives 0 there) and for a row with NaN
    (then nothing is learnt).
    """
    for f in range(x.shape[0]):
        if x[f] != x[f]:
            return np.nan
    n_trees = feature.shape[0]
    score = np.nan
    if st[1] == 0:
        total = 0.0
        for t in range(n_trees):
            node = 0
            depth_pow = 1.0
            s = 0.0
            stopped = False
            for _ in range(height):
                r = r_mass[t, node]
                s += r * depth_pow
                if r < size_limit:
                    stopped = True
                    break
                node = 2 * node + (1 if x[feature[t, node]] < threshold[t, node] else 2)
                depth_pow *= 2.0
            if not stopped:
                s += r_mass[t, node] * depth_pow
            total += s
        score = 1.0 - total / max_score
    for t in range(n_trees):
        node = 0
        for _ in range(height):
            l_mass[t, node] += 1
            node = 2 * node + (1 if x[feature[t, node]] < threshold[t, node] else 2)
        l_mass[t, node] += 1
    st[0] += 1
    if st[0] == window:
        for t in range(n_trees):
            for j in range(l_mass.shape[1]):
                r_mass[t, j] = l_mass[t, j]
                l_mass[t, j] = 0
        st[1] = 0
        st[0] = 0
    return score


@njit
def hst(X, feature, threshold, l_mass, r_mass, st, height, window, size_limit, max_score):
    """``hst_row`` over the rows of ``X`` (n, d)."""
    out = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = hst_row(
            X[i], feature, threshold, l_mass, r_mass, st, height, window, size_limit, max_score
        )
    return out


@njit
def hst1(v, row, feature, threshold, l_mass, r_mass, st, height, window, size_limit, max_score):
    """``hst_row`` of a univariate sample given as a float, through the 1-element ``row``."""
    row[0] = v
    return hst_row(
        row, feature, threshold, l_mass, r_mass, st, height, window, size_limit, max_score
    )


# ---- left matrix profile -------------------------------------------------------------

# st (int64): 0 end of the stored samples (n), 1 the oldest kept sample (start),
# 2 QT holds the dot products with the newest subsequence (1) or must be computed
# afresh (0), 3 samples seen in all (QT is recomputed exactly every `history` samples,
# which bounds the drift of the recurrence)
_DENOM_MIN = 1e-14  # stumpy's STUMPY_DENOM_THRESHOLD


@njit
def _subseq_stats(T, i, m, mu, sig, const):
    s = 0.0
    lo = T[i]
    hi = T[i]
    for k in range(i, i + m):
        v = T[k]
        s += v
        lo = min(lo, v)
        hi = max(hi, v)
    mean = s / m
    ss = 0.0
    for k in range(i, i + m):
        d = T[k] - mean
        ss += d * d
    mu[i] = mean
    sig[i] = math.sqrt(ss / m)
    const[i] = hi == lo


@njit
def _dot(T, a, b, m):
    s = 0.0
    for k in range(m):
        s += T[a + k] * T[b + k]
    return s


@njit
def mp1(v, T, mu, sig, const, QT, st, m, history, excl):
    """Append ``v`` and return the left matrix profile value of the subsequence it ends.

    ``T`` is a linear buffer (capacity ``2 * history``, moved to the front when full)
    holding the last ``history`` samples in ``T[start:n]``; ``mu``, ``sig``, ``const`` describe the subsequence
    starting at each index, ``QT[j]`` is its dot product with the newest one. The
    distance is stumpy's z-normalised Euclidean distance (constant subsequences:
    0 to each other, sqrt(m) to any other); neighbours closer than ``excl`` samples
    are excluded. NaN for a NaN sample (skipped) and until a neighbour exists.
    """
    if v != v:
        return np.nan
    cap = T.shape[0]
    n = st[0]
    start = st[1]
    if n == cap:  # compact: move the kept samples to the front
        keep = n - start
        for k in range(keep):
            T[k] = T[start + k]
            mu[k] = mu[start + k]
            sig[k] = sig[start + k]
            const[k] = const[start + k]
            QT[k] = QT[start + k]
        n = keep
        start = 0
    st[3] += 1
    if st[3] % history == 0:
        st[2] = 0
    T[n] = v
    n += 1
    old_start = start
    if n - start > history:
        start = n - history
    st[0] = n
    st[1] = start
    i = n - m  # the newest subsequence
    if i < start:
        return np.nan
    _subseq_stats(T, i, m, mu, sig, const)
    if st[2] == 0 or i - 1 < old_start:
        for j in range(start, i + 1):
            QT[j] = _dot(T, j, i, m)
        st[2] = 1
    else:
        t_drop = T[i - 1]
        t_add = T[i + m - 1]
        for j in range(i, start, -1):
            QT[j] = QT[j - 1] - T[j - 1] * t_drop + T[j + m - 1] * t_add
        QT[start] = _dot(T, start, i, m)
    last = i - excl - 1
    if last < start:
        return np.nan
    best = np.inf
    mq = mu[i]
    sq = sig[i]
    cq = const[i]
    for j in range(start, last + 1):
        if cq and const[j]:
            d2 = 0.0
        elif cq or const[j]:
            d2 = float(m)
        else:
            denom = max(sq * sig[j] * m, _DENOM_MIN)
            rho = min((QT[j] - mq * mu[j] * m) / denom, 1.0)
            d2 = abs(2.0 * m * (1.0 - rho))
        if d2 < best:
            best = d2
    return math.sqrt(best)


@njit
def mp(x, T, mu, sig, const, QT, st, m, history, excl):
    """``mp1`` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = mp1(x[i], T, mu, sig, const, QT, st, m, history, excl)
    return out
