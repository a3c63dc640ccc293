"""Kernels of the change detectors (``edgekit.analytics.change``).

Each takes a 1-D block and the detector's state array (updated in place) and returns
(statistic, change) per sample.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit._jit import njit


@njit
def cusum(x, st, k, h, target, sigma, warmup):
    """Two-sided CUSUM (Page 1954) of ``z = (x - target) / sigma``.

    ``st`` = (g+, g-, samples in the run, warm-up sum, warm-up sum of squares,
    learnt target, learnt sigma). When ``warmup > 0`` the target and sigma are the
    mean and standard deviation of the first ``warmup`` samples of each run (no test
    meanwhile); after a change both sums restart at 0 and, when learnt, so does the
    warm-up.
    """
    n = x.shape[0]
    stat = np.empty(n)
    change = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        v = x[i]
        if warmup > 0 and st[2] < warmup:
            st[2] += 1.0
            st[3] += v
            st[4] += v * v
            stat[i] = 0.0
            if st[2] == warmup:
                mu = st[3] / warmup
                var = st[4] / warmup - mu * mu
                st[5] = mu
                st[6] = math.sqrt(var) if var > 0.0 else 1.0
            continue
        mu = st[5] if warmup > 0 else target
        sd = st[6] if warmup > 0 else sigma
        z = (v - mu) / sd
        st[0] = max(0.0, st[0] + z - k)
        st[1] = max(0.0, st[1] - z - k)
        st[2] += 1.0
        stat[i] = max(st[0], st[1])
        if stat[i] > h:
            change[i] = True
            st[0] = 0.0
            st[1] = 0.0
            st[2] = 0.0
            st[3] = 0.0
            st[4] = 0.0
    return stat, change


@njit
def page_hinkley(x, st, min_instances, delta, threshold, alpha, mode):
    """Page-Hinkley with river's ``drift.PageHinkley`` arithmetic.

    ``st`` = (n, mean, sum_inc, sum_dec, min_inc, max_dec, detected). ``mode`` 0:
    both, 1: up, 2: down. A detection resets the state before the next sample.
    """
    n = x.shape[0]
    stat = np.zeros(n)
    change = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if st[6] != 0.0:
            st[0] = 0.0
            st[1] = 0.0
            st[2] = 0.0
            st[3] = 0.0
            st[4] = np.inf
            st[5] = -1.0
            st[6] = 0.0
        v = x[i]
        st[0] += 1.0
        st[1] += (1.0 / st[0]) * (v - st[1])
        dev = v - st[1]
        st[2] = alpha * st[2] + dev - delta
        st[3] = alpha * st[3] + dev + delta
        if st[2] < st[4]:
            st[4] = st[2]
        if st[3] > st[5]:
            st[5] = st[3]
        if st[0] >= min_instances:
            inc = st[2] - st[4]
            dec = st[5] - st[3]
            if mode == 1:
                s = inc
            elif mode == 2:
                s = dec
            else:
                s = max(inc, dec)
            stat[i] = s
            if s > threshold:
                change[i] = True
                st[6] = 1.0
    return stat, change


@njit
def bocpd(
    x, logp, mu, kappa, beta, nrun, prev_map, log_h, log_1mh, kappa0, mu0, beta0, t_const, a_r
):
    """Bayesian online change-point detection (Adams & MacKay 2007), Gaussian data with
    unknown mean and variance (Normal-Gamma prior, Student-t predictive), constant
    hazard, run lengths truncated at ``R = logp.shape[0]`` (mass beyond is dropped and
    the rest renormalised).

    ``logp[r]``: log P(run length r | data) for ``r < nrun[0]``; ``mu, kappa, beta``:
    the posterior parameters of each run length (``alpha`` depends on ``r`` only:
    ``a_r[r]``); ``t_const[r]``: lgamma(a + 1/2) - lgamma(a) - log(pi)/2 at ``a_r[r]``.
    Returns (MAP run length, change: the MAP run length fell) per sample.
    """
    n = x.shape[0]
    R = logp.shape[0]
    run = np.empty(n)
    change = np.zeros(n, dtype=np.bool_)
    pred = np.empty(R)
    for i in range(n):
        v = x[i]
        m = nrun[0]
        # predictive log-density of v under each run length (Student-t, 2a dof)
        for r in range(m):
            a = a_r[r]
            scale2 = beta[r] * (kappa[r] + 1.0) / (a * kappa[r])
            dz = v - mu[r]
            pred[r] = (
                t_const[r]
                - 0.5 * math.log(2.0 * a * scale2)
                - (a + 0.5) * math.log1p(dz * dz / (2.0 * a * scale2))
            )
        # change-point mass (into r = 0) and growth (r -> r + 1), newest first
        top = -np.inf
        for r in range(m):
            s = logp[r] + pred[r]
            pred[r] = s
            if s > top:
                top = s
        cp = 0.0
        for r in range(m):
            cp += math.exp(pred[r] - top)
        cp = top + math.log(cp) + log_h
        new_m = min(m + 1, R)
        for r in range(new_m - 1, 0, -1):
            logp[r] = pred[r - 1] + log_1mh
            dz = v - mu[r - 1]
            beta[r] = beta[r - 1] + kappa[r - 1] * dz * dz / (2.0 * (kappa[r - 1] + 1.0))
            mu[r] = (kappa[r - 1] * mu[r - 1] + v) / (kappa[r - 1] + 1.0)
            kappa[r] = kappa[r - 1] + 1.0
        # index r holds the posterior after the last r samples: index 0 is the prior
        logp[0] = cp
        mu[0] = mu0
        kappa[0] = kappa0
        beta[0] = beta0
        top = -np.inf
        best = 0
        for r in range(new_m):
            if logp[r] > top:
                top = logp[r]
                best = r
        tot = 0.0
        for r in range(new_m):
            tot += math.exp(logp[r] - top)
        tot = top + math.log(tot)
        for r in range(new_m):
            logp[r] -= tot
        nrun[0] = new_m
        run[i] = best
        if best < prev_map[0]:
            change[i] = True
        prev_map[0] = best
    return run, change
