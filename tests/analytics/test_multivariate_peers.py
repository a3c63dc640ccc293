"""The MSET peers of ``benchmarks/analytics/multivariate.py`` against plain re-statements.

SKAB's MSET recipe (``core/MSET.py`` and ``notebooks/MSET.ipynb`` of SKAB, read, not
copied) is a peer row of the multivariate benchmark; these tests check that the
benchmark computes its equations: the estimate ``D' (D (x) D)^-1 (D (x) x)`` with the
similarity ``s(x, y) = 1 - |x - y| / (|x| + |y|)`` (a loop over rows and a plain
``np.linalg.solve`` here), and its centred moving mean of 60 (rows ``i - 30`` to
``i + 29``, as the notebook's roll-and-nanmean gives).
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.analytics.multivariate import (
    DATA_DIR,
    _window_mean,
    evaluate,
    load,
    mset_causal,
    mset_estimate,
    pca_mset_q,
    skab_mset,
)


def _similarity(x: np.ndarray, y: np.ndarray) -> float:
    if np.array_equal(x, y):
        return 1.0
    return 1.0 - float(np.linalg.norm(x - y)) / (np.linalg.norm(x) + np.linalg.norm(y))


def _estimate(D: np.ndarray, x: np.ndarray) -> np.ndarray:
    m = len(D)
    G = np.array([[_similarity(D[i], D[j]) for j in range(m)] for i in range(m)])
    k = np.array([_similarity(D[i], x) for i in range(m)])
    out: np.ndarray = D.T @ np.linalg.solve(G, k)
    return out


def test_mset_estimate_matches_the_equations():
    gen = np.random.default_rng(3)
    D = gen.normal(size=(40, 5))
    X = np.vstack([gen.normal(size=(6, 5)), D[7], np.zeros(5)])
    got = mset_estimate(D, X)
    for x, g in zip(X, got, strict=True):
        np.testing.assert_allclose(g, _estimate(D, x), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got[6], D[7], atol=1e-9)  # a memory row estimates itself


def test_centred_moving_mean_is_skabs():
    v = np.random.default_rng(4).normal(size=200)
    n, w = len(v), 60
    # The notebook: the mean over r < w of the series shifted r rows right (NaN where
    # shifted in), read from row ceil(w / 2) - 1 on.
    padded = np.concatenate([v, np.full(w, np.nan)])
    start = math.ceil(w / 2) - 1
    centred = np.nanmean([np.roll(padded, r)[start : start + n] for r in range(w)], axis=0)
    np.testing.assert_allclose(_window_mean(v, 30, 29), centred, rtol=1e-12)
    np.testing.assert_allclose(
        _window_mean(v, 59, 0)[w - 1 :], np.convolve(v, np.ones(w) / w, "valid")
    )


def test_mset_peers_run_the_protocol():
    """The MSET peers on 6 recordings of the real extract (``multi_real.npz``): alarms of
    the test rows' shape, and F1, false and missed alarm rates that are fractions."""
    recordings = load(DATA_DIR / "multi_real.npz")[:6]
    for peer in (skab_mset, mset_causal, pca_mset_q):
        got = evaluate(peer, recordings)
        assert all(0.0 <= got[k] <= 1.0 for k in ("f1", "far", "mar"))
    _, X, _ = recordings[0]
    assert mset_causal(X[:400], X[400:]).shape == (len(X) - 400,)
