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
def ewma_z1(v, st):
    """One sample of the EWMA z-score: ``|v - m| / sqrt(s2)`` with the EW mean ``m`` and
    variance ``s2`` before ``v``, then both updated with ``v``.

    ``st`` = (samples seen, m, s2, alpha, warm-up samples). NaN while fewer than the
    warm-up samples came, when ``v`` is NaN (the state is left unchanged), and 0/0;
    ``inf`` for a change after a constant stretch.
    """
    if v != v:
        return np.nan
    k = st[0]
    m = st[1]
    s2 = st[2]
    alpha = st[3]
    if k == 0.0:
        st[0] = 1.0
        st[1] = v
        return np.nan
    d = v - m
    score = np.nan
    if k >= st[4]:
        score = abs(d) / math.sqrt(s2)
    st[0] = k + 1.0
    st[1] = m + alpha * d
    st[2] = (1.0 - alpha) * (s2 + alpha * d * d)
    return score


@njit
def ewma_z(x, st):
    """``ewma_z1`` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = ewma_z1(x[i], st)
    return out


# ---- Half-Space Trees ----------------------------------------------------------------


# buf (float64) of HalfSpaceTrees: 0 rows in the current window, 1 still in the first
# window (1.0) or not (0.0), 2 height, 3 window size, 4 size limit, 5 largest score,
# 6.. the row being scored (univariate update)
HST_ROW = 6


@njit
def hst_row(x, tree, buf):
    """Score then learn one row ``x`` (river's ``score_one`` then ``learn_one``).

    Trees are complete binary trees in heap order (children of node ``i``: ``2i+1``,
    ``2i+2``); ``tree[0]`` holds each node's split feature, ``tree[1]`` its split
    value, ``tree[2]`` its mass in the current window (river's ``l_mass``),
    ``tree[3]`` its mass in the last complete window (``r_mass``); masses are whole
    numbers in float64 (exact). ``tree[4, t, :2]`` is scratch: the node tree ``t``'s
    walk is at and whether it still scores. One walk per tree scores (stopping where
    the reference mass falls below the size limit, as river does) and counts the row;
    the walks go level by level through all trees, so that the trees' independent
    loads overlap (2x faster than tree by tree). Returns NaN during the first window
    (river gives 0 there) and for a row with NaN (then nothing is learnt). Few
    arguments: a numba call costs per argument.
    """
    for f in range(x.shape[0]):
        if x[f] != x[f]:
            return np.nan
    feature = tree[0]
    threshold = tree[1]
    l_mass = tree[2]
    r_mass = tree[3]
    walk = tree[4]
    n_trees = feature.shape[0]
    height = int(buf[2])
    size_limit = buf[4]
    scoring = buf[1] == 0.0
    one = x.shape[0] == 1
    x0 = x[0]
    for t in range(n_trees):
        walk[t, 0] = 0.0
        walk[t, 1] = 1.0 if scoring else 0.0
    total = 0.0
    depth_pow = 1.0
    for _ in range(height):
        for t in range(n_trees):
            node = int(walk[t, 0])
            l_mass[t, node] += 1.0
            if walk[t, 1] != 0.0:
                r = r_mass[t, node]
                total += r * depth_pow
                if r < size_limit:
                    walk[t, 1] = 0.0
            v = x0 if one else x[int(feature[t, node])]
            walk[t, 0] = 2 * node + (1 if v < threshold[t, node] else 2)
        depth_pow *= 2.0
    for t in range(n_trees):
        node = int(walk[t, 0])
        l_mass[t, node] += 1.0
        if walk[t, 1] != 0.0:
            total += r_mass[t, node] * depth_pow
    buf[0] += 1.0
    if buf[0] == buf[3]:
        for t in range(n_trees):
            for j in range(feature.shape[1]):
                r_mass[t, j] = l_mass[t, j]
                l_mass[t, j] = 0.0
        buf[1] = 0.0
        buf[0] = 0.0
    return 1.0 - total / buf[5] if scoring else np.nan


@njit
def hst(X, tree, buf):
    """``hst_row`` over the rows of ``X`` (n, d)."""
    out = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = hst_row(X[i], tree, buf)
    return out


@njit
def hst1(v, tree, buf):
    """``hst_row`` of a univariate sample given as a float (written into ``buf``)."""
    buf[HST_ROW] = v
    return hst_row(buf[HST_ROW:], tree, buf)


# ---- left matrix profile -------------------------------------------------------------

# st (int64): 0 end of the stored samples (n), 1 the oldest kept sample (start),
# 2 QT holds the dot products with the newest subsequence (1) or must be computed
# afresh (0), 3 samples seen in all (QT is recomputed exactly every `history` samples,
# which bounds the drift of the recurrence); the parameters: 4 window m, 5 history,
# 6 exclusion zone, 7 warm-up samples (no score before)
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
def mp1(v, T, mu, sig, const, QT, st):
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
    m = st[4]
    history = st[5]
    excl = st[6]
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
    if last < start or st[3] <= st[7]:
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
def mp(x, T, mu, sig, const, QT, st):
    """``mp1`` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = mp1(x[i], T, mu, sig, const, QT, st)
    return out
