"""Kernels of the streaming statistics (``edgekit.analytics.stats``).

Every kernel takes a block ``x`` of shape ``(n, channels)`` and the state arrays of the
stream (updated in place), and returns per-sample outputs of shape ``(n, channels)``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit


@njit
def welford(x, count, mean, m2, ddof):
    """Welford's running mean and variance (divisor ``count - ddof``)."""
    n, c = x.shape
    out_mean = np.empty((n, c))
    out_var = np.empty((n, c))
    for j in range(c):
        k = count[j]
        mu = mean[j]
        s = m2[j]
        for i in range(n):
            v = x[i, j]
            k += 1.0
            d = v - mu
            mu += d / k
            s += d * (v - mu)
            out_mean[i, j] = mu
            out_var[i, j] = s / (k - ddof) if k > ddof else np.nan
        count[j] = k
        mean[j] = mu
        m2[j] = s
    return out_mean, out_var


@njit
def ewm(x, state, alpha, bias):
    """pandas' ``ewm(alpha=alpha, adjust=False)`` ``mean()`` and ``var(bias=bias)``.

    ``state[:, j]`` = (samples seen, mean, cov, sum_wt, sum_wt2) of channel ``j``;
    the arithmetic is pandas' (``ewm`` and ``ewmcov`` of its window aggregations), so
    the outputs agree to the last bit.
    """
    n, c = x.shape
    out_mean = np.empty((n, c))
    out_var = np.empty((n, c))
    old_factor = 1.0 - alpha
    for j in range(c):
        nobs = state[0, j]
        mean = state[1, j]
        cov = state[2, j]
        sum_wt = state[3, j]
        sum_wt2 = state[4, j]
        for i in range(n):
            cur = x[i, j]
            if nobs == 0.0:
                mean = cur
                cov = 0.0
                sum_wt = 1.0
                sum_wt2 = 1.0
                nobs = 1.0
                out_mean[i, j] = cur
                out_var[i, j] = 0.0 if bias else np.nan
                continue
            nobs += 1.0
            sum_wt *= old_factor
            sum_wt2 *= old_factor * old_factor
            old_wt = old_factor
            old_mean = mean
            if mean != cur:
                mean = (old_wt * old_mean + alpha * cur) / (old_wt + alpha)
            cov = (
                old_wt * (cov + (old_mean - mean) * (old_mean - mean))
                + alpha * ((cur - mean) * (cur - mean))
            ) / (old_wt + alpha)
            sum_wt += alpha
            sum_wt2 += alpha * alpha
            old_wt += alpha
            sum_wt /= old_wt
            sum_wt2 /= old_wt * old_wt
            out_mean[i, j] = mean
            if bias:
                out_var[i, j] = cov
            else:
                num = sum_wt * sum_wt
                den = num - sum_wt2
                out_var[i, j] = (num / den) * cov if den > 0.0 else np.nan
        state[0, j] = nobs
        state[1, j] = mean
        state[2, j] = cov
        state[3, j] = sum_wt
        state[4, j] = sum_wt2
    return out_mean, out_var


@njit
def rolling(x, ring, t, kahan, counts, dq_min, dq_max, heads, min_periods):
    """pandas' ``rolling(window, min_periods)`` ``min()``, ``max()`` and ``mean()``.

    ``ring[(w, c)]`` holds the last ``w`` samples, ``t`` samples came before this
    block. The mean keeps pandas' Kahan sums (one compensation for adds, one for
    removes) and its sign rule; min and max are monotonic deques of sample indices
    (``dq_min``/``dq_max``, rings of ``w`` with ``heads[0:4, j]`` = min head, min
    size, max head, max size). ``kahan[:, j]`` = (sum, add comp., remove comp.),
    ``counts[:, j]`` = (samples in the window, negatives in the window).
    """
    n, c = x.shape
    w = ring.shape[0]
    out_min = np.empty((n, c))
    out_max = np.empty((n, c))
    out_mean = np.empty((n, c))
    for j in range(c):
        s = kahan[0, j]
        comp_add = kahan[1, j]
        comp_rem = kahan[2, j]
        nobs = counts[0, j]
        neg = counts[1, j]
        hmin = heads[0, j]
        nmin = heads[1, j]
        hmax = heads[2, j]
        nmax = heads[3, j]
        for i in range(n):
            k = t + i
            v = x[i, j]
            if k >= w:  # the sample leaving the window
                old = ring[k % w, j]
                nobs -= 1
                y = -old - comp_rem
                tt = s + y
                comp_rem = tt - s - y
                s = tt
                if np.signbit(old):
                    neg -= 1
                if nmin > 0 and dq_min[hmin, j] <= k - w:
                    hmin = (hmin + 1) % w
                    nmin -= 1
                if nmax > 0 and dq_max[hmax, j] <= k - w:
                    hmax = (hmax + 1) % w
                    nmax -= 1
            ring[k % w, j] = v
            nobs += 1
            y = v - comp_add
            tt = s + y
            comp_add = tt - s - y
            s = tt
            if np.signbit(v):
                neg += 1
            while nmin > 0 and ring[dq_min[(hmin + nmin - 1) % w, j] % w, j] >= v:
                nmin -= 1
            dq_min[(hmin + nmin) % w, j] = k
            nmin += 1
            while nmax > 0 and ring[dq_max[(hmax + nmax - 1) % w, j] % w, j] <= v:
                nmax -= 1
            dq_max[(hmax + nmax) % w, j] = k
            nmax += 1
            if nobs >= min_periods and nobs > 0:
                out_min[i, j] = ring[dq_min[hmin, j] % w, j]
                out_max[i, j] = ring[dq_max[hmax, j] % w, j]
                m = s / nobs
                if (neg == 0 and m < 0.0) or (neg == nobs and m > 0.0):
                    m = 0.0  # pandas' sign rule
                out_mean[i, j] = m
            else:
                out_min[i, j] = np.nan
                out_max[i, j] = np.nan
                out_mean[i, j] = np.nan
        kahan[0, j] = s
        kahan[1, j] = comp_add
        kahan[2, j] = comp_rem
        counts[0, j] = nobs
        counts[1, j] = neg
        heads[0, j] = hmin
        heads[1, j] = nmin
        heads[2, j] = hmax
        heads[3, j] = nmax
    return out_min, out_max, out_mean


@njit
def _p2_parabolic(qp1, q, qm1, d, np1, n, nm1):
    outer = d / (np1 - nm1)
    left = (n - nm1 + d) * (qp1 - q) / (np1 - n)
    right = (np1 - n - d) * (q - qm1) / (n - nm1)
    return q + outer * (left + right)


@njit
def p2(x, q, count, heights, pos, desired, step):
    """P-square quantile estimates (Jain & Chlamtac 1985), as river's ``stats.Quantile``.

    Per channel ``j``: ``heights[:, j]`` the five marker heights, ``pos[:, j]`` their
    positions, ``desired[:, j]`` the desired positions, ``step`` their increments.
    Before five samples the estimate is the sorted samples at index
    ``int(min(n - 1, n * q))``, as river gives it.
    """
    n, c = x.shape
    out = np.empty((n, c))
    for j in range(c):
        k0 = count[j]
        for i in range(n):
            v = x[i, j]
            k = k0 + i
            if k < 5:
                heights[k, j] = v
                m = k + 1
                h = np.sort(heights[:m, j])
                if m == 5:
                    heights[:, j] = h
                out[i, j] = h[int(min(m - 1.0, m * q))]
                continue
            if v < heights[0, j]:
                heights[0, j] = v
                cell = 1
            else:
                cell = 4
                for b in range(1, 5):
                    if heights[b - 1, j] <= v < heights[b, j]:
                        cell = b
                        break
                if cell == 4 and heights[4, j] < v:
                    heights[4, j] = v
            for b in range(cell, 5):
                pos[b, j] += 1.0
            for b in range(5):
                desired[b, j] += step[b]
            for b in range(1, 4):
                nb = pos[b, j]
                hb = heights[b, j]
                d = desired[b, j] - nb
                if (d >= 1.0 and pos[b + 1, j] - nb > 1.0) or (
                    d <= -1.0 and pos[b - 1, j] - nb < -1.0
                ):
                    d = 1.0 if d > 0.0 else -1.0
                    qn = _p2_parabolic(
                        heights[b + 1, j],
                        hb,
                        heights[b - 1, j],
                        d,
                        pos[b + 1, j],
                        nb,
                        pos[b - 1, j],
                    )
                    if heights[b - 1, j] < qn < heights[b + 1, j]:
                        heights[b, j] = qn
                    else:
                        e = b + int(d)
                        heights[b, j] = hb + d * (heights[e, j] - hb) / (pos[e, j] - nb)
                    pos[b, j] = nb + d
            out[i, j] = heights[2, j]
        count[j] = k0 + n
    return out


@njit
def diff(x, ring, t, span):
    """``(x[k] - x[k - period]) / span`` with ``ring[(period, c)]`` the last samples."""
    n, c = x.shape
    p = ring.shape[0]
    out = np.empty((n, c))
    for j in range(c):
        for i in range(n):
            k = t + i
            v = x[i, j]
            out[i, j] = (v - ring[k % p, j]) / span if k >= p else np.nan
            ring[k % p, j] = v
    return out
