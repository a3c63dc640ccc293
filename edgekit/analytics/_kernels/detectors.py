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


@njit
def _subseq_stats(T, i, m, mu, isig, kind):
    """Mean, 1 / standard deviation and kind (1: constant, max == min as in stumpy; else
    0) of the subsequence starting at ``i``."""
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
    sd = math.sqrt(ss / m)
    mu[i] = mean
    kind[i] = hi == lo
    isig[i] = 0.0 if hi == lo else 1.0 / sd


@njit
def _dot(T, a, b, m):
    s = 0.0
    for k in range(m):
        s += T[a + k] * T[b + k]
    return s


@njit
def _qt_step(QT, T, i, start, m):
    """``QT[j] = QT[j - 1] - T[j - 1] T[i - 1] + T[j + m - 1] T[i + m - 1]`` for
    ``start < j <= i``, in place from the top: the dot products with subsequence
    ``i - 1`` become those with ``i`` (STOMP). Unsigned indices: numba then adds no
    negative-index fix-up to each load (7x faster)."""
    t_drop = T[i - 1]
    t_add = T[i + m - 1]
    one = np.uint64(1)
    tail = np.uint64(m - 1)
    stop = np.uint64(start)
    j = np.uint64(i)
    while j > stop:
        QT[j] = QT[j - one] - T[j - one] * t_drop + T[j + tail] * t_add
        j -= one


@njit
def _best_correlation(QT, mu, isig, kind, start, last, mqm):
    """The largest ``(QT[j] - mqm mu[j]) isig[j]`` over ``start <= j <= last`` and the OR
    of their kinds; four running maxima, so that the comparisons overlap."""
    q = QT[start : last + 1]
    u = mu[start : last + 1]
    s = isig[start : last + 1]
    kd = kind[start : last + 1]
    n = q.shape[0]
    b0 = b1 = b2 = b3 = -np.inf
    flags = 0
    k = 0
    while k + 4 <= n:
        r0 = (q[k] - mqm * u[k]) * s[k]
        r1 = (q[k + 1] - mqm * u[k + 1]) * s[k + 1]
        r2 = (q[k + 2] - mqm * u[k + 2]) * s[k + 2]
        r3 = (q[k + 3] - mqm * u[k + 3]) * s[k + 3]
        b0 = r0 if r0 > b0 else b0
        b1 = r1 if r1 > b1 else b1
        b2 = r2 if r2 > b2 else b2
        b3 = r3 if r3 > b3 else b3
        flags |= kd[k] | kd[k + 1] | kd[k + 2] | kd[k + 3]
        k += 4
    while k < n:
        r0 = (q[k] - mqm * u[k]) * s[k]
        b0 = r0 if r0 > b0 else b0
        flags |= kd[k]
        k += 1
    return max(max(b0, b1), max(b2, b3)), flags


@njit
def mp1(v, T, mu, isig, kind, QT, st):
    """Append ``v`` and return the left matrix profile value of the subsequence it ends.

    ``T`` is a linear buffer (capacity ``2 * history``, moved to the front when full)
    holding the last ``history`` samples in ``T[start:n]``; ``mu``, ``isig``, ``kind``
    describe the subsequence starting at each index, ``QT[j]`` is its dot product with
    the newest one. The distance is stumpy's z-normalised Euclidean distance (constant subsequences:
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
            isig[k] = isig[start + k]
            kind[k] = kind[start + k]
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
    _subseq_stats(T, i, m, mu, isig, kind)
    if st[2] == 0 or i - 1 < old_start:
        for j in range(start, i + 1):
            QT[j] = _dot(T, j, i, m)
        st[2] = 1
    else:
        _qt_step(QT, T, i, start, m)
        QT[start] = _dot(T, start, i, m)
    last = i - excl - 1
    if last < start or st[3] <= st[7]:
        return np.nan
    mqm = mu[i] * m
    # the nearest neighbour has the largest correlation; a constant subsequence has isig
    # 0, so it scores 0 here and shows in `flags`
    best, flags = _best_correlation(QT, mu, isig, kind, start, last, mqm)
    if kind[i]:  # constant: 0 from another constant one, sqrt(m) from any other
        return 0.0 if flags else math.sqrt(m)
    rho = best * (isig[i] / m)
    if flags:  # a constant neighbour is at sqrt(m): correlation 1/2
        rho = max(rho, 0.5)
    return math.sqrt(2.0 * m * (1.0 - min(rho, 1.0)))


@njit
def mp(x, T, mu, isig, kind, QT, st):
    """``mp1`` over a block."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = mp1(x[i], T, mu, isig, kind, QT, st)
    return out
