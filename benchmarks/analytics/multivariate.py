"""Multivariate rows of the analytics benchmark: HotellingT2 and PcaT2Q on two recording sets.

Row function (``benchmarks/analytics/__main__.py`` calls it with its report): :func:`rows`.

- Detection, the protocol of the issue's held-out benchmark and of SKAB's outlier
  leaderboard: on each recording, each detector is fitted at its defaults on the first
  400 (normal) rows and predicts the rest; the confusion counts of all recordings are
  added up, then F1 = 2TP / (2TP + FP + FN), false alarm rate FP / (FP + TN) and missed
  alarm rate FN / (FN + TP). Peers on the same rows: the textbook T-squared in NumPy (no
  smoothing, the Phase II F limit at alpha 0.01); SKAB's two control-chart baselines as
  its notebooks set them (:func:`skab_t2`, :func:`skab_t2q`); SKAB's MSET recipe
  (:func:`skab_mset`: its kernel, relative error, a centred, hence not causal, 60-row
  mean; and the same with a trailing mean); the causal MSET detector, PCA plus MSET of
  the residual and the PCA Q-only variant tried in session 8 and not shipped
  (:func:`mset_causal`, :func:`pca_mset_q`, :func:`pca_spe`);
  scikit-learn's ``IsolationForest`` (defaults, ``random_state=0``) when installed.
- Speed: one-row ``update()`` from Python against the NumPy T-squared of one row
  (``d @ P @ d``), and batch ``score()`` throughput; CPU time of this process, medians of
  interleaved runs, threads pinned.

Data, both in ``tests/analytics/data`` (see the generators' docstrings):

- ``multi_real.npz``: 33 recordings of 8 real sensors of one plant (the anonymised plant
  data shipped in the PyPI package ``bibmon`` 1.2.0, Petrobras, Apache-2.0), 1100 rows at
  5-minute intervals, one injected step or ramp fault each (``make_multi_real.py``): the
  false alarm rate is real, the missed alarm rate follows from the injected sizes.
- ``multi_tep.npz``: 20 simulated recordings of the revised Tennessee Eastman process (one
  per disturbance IDV(1)..IDV(20), 1100 rows of 22 measurements, the disturbance on
  from row 700), made by ``make_multi_tep.py`` with the PyPI package ``tep-studio``
  (BSD-3-Clause).

``python -m benchmarks.analytics.multivariate [--quick]`` runs these rows alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import Report, interleaved_medians

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "analytics" / "data"
DATA = DATA_DIR / "multi_tep.npz"
SETS = {
    "real plant sensors + injected faults": DATA_DIR / "multi_real.npz",
    "simulated Tennessee Eastman": DATA,
}
TRAIN = 400


def load(path: Path = DATA) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, rows (n, d) float64, labels (n,) bool) of each recording."""
    data = np.load(path)
    names = sorted({k[:-2] for k in data.files})
    return [(n, data[f"{n}_x"].astype(np.float64), data[f"{n}_y"].astype(bool)) for n in names]


def counts(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """F1, false alarm rate and missed alarm rate (fractions) of bool alarms."""
    tp = int(np.sum(pred & label))
    fp = int(np.sum(pred & ~label))
    fn = int(np.sum(~pred & label))
    tn = int(np.sum(~pred & ~label))
    return {
        "f1": 2 * tp / max(2 * tp + fp + fn, 1),
        "far": fp / max(fp + tn, 1),
        "mar": fn / max(fn + tp, 1),
    }


def evaluate(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    recordings: list[tuple[str, np.ndarray, np.ndarray]],
) -> dict[str, float]:
    """Counts over all recordings of ``fit_predict(train_rows, test_rows) -> alarms``."""
    preds, labels = [], []
    for _, X, y in recordings:
        preds.append(np.asarray(fit_predict(X[:TRAIN], X[TRAIN:]), dtype=bool))
        labels.append(y[TRAIN:])
    return counts(np.concatenate(preds), np.concatenate(labels))


def edgekit_case(cls: type, **params: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def run(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return cls(**params).fit(train).predict(test)

    return run


def numpy_t2(train: np.ndarray, test: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Textbook Hotelling T-squared: inverse covariance, Phase II F limit."""
    from scipy.stats import f

    n, p = train.shape
    P = np.linalg.pinv(np.cov(train, rowvar=False))
    D = test - train.mean(axis=0)
    t2 = np.einsum("ij,jk,ik->i", D, P, D)
    limit = p * (n + 1) * (n - 1) / (n * (n - p)) * f.ppf(1 - alpha, p, n - p)
    return t2 > limit


def _median5(v: np.ndarray) -> np.ndarray:
    """Trailing median of 5 (pandas ``rolling(5).median()``); NaN for the first 4."""
    out = np.full(v.shape, np.nan)
    if len(v) >= 5:
        out[4:] = np.median(np.lib.stride_tricks.sliding_window_view(v, 5), axis=1)
    return out


def skab_t2q(
    train: np.ndarray, test: np.ndarray, *, pca: bool = True, ucl_factor: float = 1.0
) -> np.ndarray:
    """SKAB's control-chart baseline (its ``T2`` class as its notebooks call it).

    Constant training columns dropped; standardised by the training rows (``ddof=0``);
    with ``pca``, the principal components explaining 85 % of the variance, T-squared in
    them and Q off them, else T-squared over all columns. Limits at p = 0.999: T-squared's
    from the F distribution, ``k (n-1)(n+1) / (n (n-k)) F(0.999; k, n-k)``; Q's by
    Jackson-Mudholkar with, as SKAB's code has it, ``theta_i`` the i-th power of the sum
    of the residual eigenvalues. Each statistic is smoothed by a trailing median of 5
    rows; an alarm is T-squared over ``ucl_factor`` times its limit (1 with PCA, 2 for
    SKAB's plain T-squared notebook) or Q over its limit.
    """
    from scipy.stats import f, norm

    keep = (train != train[0]).any(axis=0)
    train, test = train[:, keep], test[:, keep]
    mean, std = train.mean(axis=0), train.std(axis=0)
    Z, T = (train - mean) / std, (test - mean) / std
    n, d = Z.shape
    lam, V = np.linalg.eigh(np.cov(Z, rowvar=False))
    lam, V = lam[::-1], V[:, ::-1]
    k = int(np.searchsorted(np.cumsum(lam) / lam.sum(), 0.85)) + 1 if pca else d
    t = T @ V[:, :k]
    t2 = np.sum(t**2 / lam[:k], axis=1)
    ucl = k * (n - 1) * (n + 1) / (n * (n - k)) * f.ppf(0.999, k, n - k)
    alarm: np.ndarray = _median5(t2) > ucl_factor * ucl
    if k < d:
        q = np.sum((T - t @ V[:, :k].T) ** 2, axis=1)
        th1, th2, th3 = (float(np.sum(lam[k:])) ** i for i in (1, 2, 3))
        h0 = 1 - 2 * th1 * th3 / (3 * th2**2)
        c = norm.ppf(0.999)
        q_ucl = th1 * (1 + c * h0 * np.sqrt(2 * th2) / th1 + th2 * h0 * (h0 - 1) / th1**2) ** (
            1 / h0
        )
        alarm |= _median5(q) > q_ucl
    return alarm


def skab_t2(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """SKAB's plain T-squared baseline: no PCA, alarm over twice the limit."""
    return skab_t2q(train, test, pca=False, ucl_factor=2.0)


def mset_similarity(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """MSET's similarity of each row of ``A`` with each row of ``B`` (SKAB's kernel):
    ``s(x, y) = 1 - |x - y| / (|x| + |y|)``, and 1 for two zero rows."""
    dist = np.linalg.norm(A[:, None, :] - B[None, :, :], axis=2)
    den = np.linalg.norm(A, axis=1)[:, None] + np.linalg.norm(B, axis=1)[None, :]
    return 1.0 - np.divide(dist, den, out=np.zeros_like(dist), where=den > 0)


def mset_estimate(D: np.ndarray, X: np.ndarray) -> np.ndarray:
    """MSET's estimate of each row ``x`` of ``X`` from the memory rows ``D`` (m, d):
    ``x_hat = D' (D (x) D)^-1 (D (x) x)``, with ``(x)`` :func:`mset_similarity` (an LU
    solve, as SKAB's code does)."""
    from scipy.linalg import lu_factor, lu_solve

    est: np.ndarray = lu_solve(lu_factor(mset_similarity(D, D)), mset_similarity(D, X)).T @ D
    return est


def _window_mean(v: np.ndarray, before: int, after: int) -> np.ndarray:
    """Mean of ``v[i - before : i + after + 1]`` (clipped to the array) at each ``i``."""
    c = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(len(v))
    lo, hi = np.maximum(i - before, 0), np.minimum(i + after + 1, len(v))
    out: np.ndarray = (c[hi] - c[lo]) / (hi - lo)
    return out


def skab_mset(train: np.ndarray, test: np.ndarray, *, centred: bool = True) -> np.ndarray:
    """SKAB's MSET recipe (its ``core/MSET.py`` and ``notebooks/MSET.ipynb``).

    Memory: the training rows standardised (``ddof=0``); the estimate of a row ``x`` is
    ``D' (D (x) D)^-1 (D (x) x)`` with :func:`mset_similarity`, back in original units;
    the relative error ``|x - x_hat| / |x_hat|`` of every row of the recording (training
    rows too, as the notebook does) goes through a moving mean of 60 rows and alarms over
    0.01. SKAB's moving mean is centred (rows ``i - 30`` to ``i + 29``), so it looks 29
    rows ahead: not causal. ``centred=False`` takes the trailing 60 rows instead.
    Constant training columns are dropped (their standardisation would divide by 0).
    """
    keep = (train != train[0]).any(axis=0)
    train, test = train[:, keep], test[:, keep]
    mean, std = train.mean(axis=0), train.std(axis=0)
    D = (train - mean) / std
    rows = np.concatenate([train, test])
    est = mset_estimate(D, (rows - mean) / std) * std + mean
    rel = np.linalg.norm(rows - est, axis=1) / np.linalg.norm(est, axis=1)
    smooth = _window_mean(rel, 30, 29) if centred else _window_mean(rel, 59, 0)
    alarm: np.ndarray = smooth[len(train) :] > 0.01
    return alarm


def skab_mset_trailing(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """:func:`skab_mset` with a trailing (causal) 60-row mean."""
    return skab_mset(train, test, centred=False)


def _ewma(v: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty_like(v)
    s = v[0]
    for i, x in enumerate(v):
        s += alpha * (x - s)
        out[i] = s
    return out


def _standardised(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both by the training mean and standard deviation (``ddof=1``; 1 for a constant
    sensor), as :class:`~edgekit.analytics.HotellingT2` does."""
    mean = train.mean(axis=0)
    scale = np.where(np.ptp(train, axis=0) > 0, train.std(axis=0, ddof=1), 1.0)
    return (train - mean) / scale, (test - mean) / scale


def _components(Z: np.ndarray, variance: float) -> np.ndarray:
    """(d, k): the fewest principal directions of ``Z`` explaining ``variance`` of it."""
    _, sing, Vt = np.linalg.svd(Z, full_matrices=False)
    k = int(np.searchsorted(np.cumsum(sing**2) / np.sum(sing**2), variance)) + 1
    V: np.ndarray = Vt[:k].T
    return V


def _mset_left_out(
    Z: np.ndarray, T: np.ndarray, Y: np.ndarray, memory: int, band: int
) -> tuple[np.ndarray, np.ndarray]:
    """MSET estimates of the targets ``Y`` (one per training row) for the training rows
    ``Z`` and the test rows ``T``: (training estimates, test estimates).

    Memory: each sensor's smallest and largest training row plus evenly spaced ones,
    ``memory`` in all; a ridge of 1e-6 on the similarity matrix keeps repeated rows
    solvable. A training row is estimated without the memory rows within ``band`` rows
    of it (itself included): a memory row estimates itself exactly, its neighbours nearly.
    """
    picks = set(np.argmin(Z, axis=0)) | set(np.argmax(Z, axis=0))
    picks |= set(np.linspace(0, len(Z) - 1, max(memory - len(picks), 0)).round().astype(int))
    sel = np.array(sorted(picks))
    D, YD = Z[sel], Y[sel]
    G = mset_similarity(D, D) + 1e-6 * np.eye(len(D))
    S = mset_similarity(Z, D)
    train_est = np.empty_like(Y)
    for i in range(len(Z)):
        k = np.abs(sel - i) > band
        train_est[i] = np.linalg.solve(G[np.ix_(k, k)], S[i, k]) @ YD[k]
    return train_est, np.linalg.solve(G, mset_similarity(D, T)).T @ YD


def _alarms(raw_train: np.ndarray, raw_test: np.ndarray, alpha: float) -> np.ndarray:
    """Test alarms: the EWMA (``alpha``) of the raw scores, training rows first, above
    the 0.995 quantile of its training part."""
    score = _ewma(np.concatenate([raw_train, raw_test]), alpha)
    alarm: np.ndarray = score[len(raw_train) :] > np.quantile(score[: len(raw_train)], 0.995)
    return alarm


def mset_causal(
    train: np.ndarray, test: np.ndarray, *, memory: int = 64, band: int = 5, alpha: float = 0.1
) -> np.ndarray:
    """The causal MSET detector tried in session 8 (not shipped: see docs/analytics.md):
    the MSET estimate of each standardised row (:func:`_mset_left_out`); each sensor's
    residual divided by its training RMS, the sum of their squares scored
    (:func:`_alarms`)."""
    Z, T = _standardised(train, test)
    est_train, est_test = _mset_left_out(Z, T, Z, memory, band)
    R0, R = Z - est_train, T - est_test
    rms = np.sqrt(np.mean(R0**2, axis=0)) + 1e-12
    return _alarms(np.sum((R0 / rms) ** 2, axis=1), np.sum((R / rms) ** 2, axis=1), alpha)


def pca_mset_q(
    train: np.ndarray,
    test: np.ndarray,
    *,
    variance: float = 0.9,
    memory: int = 64,
    band: int = 5,
    alpha: float = 0.1,
) -> np.ndarray:
    """PCA plus MSET (tried in session 8, not shipped): a row's estimate is its projection
    on the components explaining ``variance``, plus the MSET estimate
    (:func:`_mset_left_out`) of what the projection leaves, from the memory rows' own
    leftovers; the squared residual scored (:func:`_alarms`)."""
    Z, T = _standardised(train, test)
    V = _components(Z, variance)
    left, left_test = Z - Z @ V @ V.T, T - T @ V @ V.T
    est_train, est_test = _mset_left_out(Z, T, left, memory, band)
    R0, R = left - est_train, left_test - est_test
    return _alarms(np.sum(R0**2, axis=1), np.sum(R**2, axis=1), alpha)


def pca_spe(
    train: np.ndarray, test: np.ndarray, *, variance: float = 0.9, alpha: float = 0.1
) -> np.ndarray:
    """Q (SPE) alone, off the PCA components that explain ``variance`` of the
    standardised training rows, scored by :func:`_alarms` (a variant of
    :class:`~edgekit.analytics.PcaT2Q`, not shipped)."""
    Z, T = _standardised(train, test)
    V = _components(Z, variance)
    return _alarms(
        np.sum((Z - Z @ V @ V.T) ** 2, axis=1), np.sum((T - T @ V @ V.T) ** 2, axis=1), alpha
    )


def isolation_forest(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    return IsolationForest(random_state=0).fit(train).predict(test) == -1


def rows(report: Report, quick: bool) -> None:
    from edgekit.analytics.multivariate import HotellingT2, PcaT2Q

    for label, path in SETS.items():
        recordings = load(path)
        what = f"{label}, {len(recordings)} recordings"
        peers: dict[str, dict[str, float]] = {
            "NumPy T2 (F limit)": evaluate(numpy_t2, recordings),
            "SKAB T2": evaluate(skab_t2, recordings),
            "SKAB T2+Q (PCA)": evaluate(skab_t2q, recordings),
            "SKAB MSET (centred 60, not causal)": evaluate(skab_mset, recordings),
            "SKAB MSET, trailing 60": evaluate(skab_mset_trailing, recordings),
            "MSET causal (EWMA, not shipped)": evaluate(mset_causal, recordings),
            "PCA + MSET of the residual (not shipped)": evaluate(pca_mset_q, recordings),
            "PCA SPE only (EWMA, not shipped)": evaluate(pca_spe, recordings),
        }
        with contextlib.suppress(ImportError):
            peers["IsolationForest"] = evaluate(isolation_forest, recordings)
        for cls in (HotellingT2, PcaT2Q):
            got = evaluate(edgekit_case(cls), recordings)
            for key, metric, better in (
                ("f1", "F1", True),
                ("far", "false alarm rate", False),
                ("mar", "missed alarm rate", False),
            ):
                report.add(
                    f"{cls.__name__} defaults on {what}",
                    metric,
                    "fraction",
                    got[key],
                    peers={name: p[key] for name, p in peers.items()},
                    higher_is_better=better,
                    target="F1 at least 0.78" if key == "f1" else None,
                )
    recordings = load()
    # Speed: one row from Python, and a block.
    _, X, _ = recordings[0]
    block = np.tile(X, (2 if quick else 20, 1))
    row = X[TRAIN].copy()
    P = np.linalg.pinv(np.cov(X[:TRAIN], rowvar=False))
    m = X[:TRAIN].mean(axis=0)
    dets = {cls.__name__: cls().fit(X[:TRAIN]) for cls in (HotellingT2, PcaT2Q)}
    cases: dict[str, Callable[[], Any]] = {
        "numpy": lambda: float((row - m) @ P @ (row - m)),
        **{f"{n} update": (lambda d=d: d.update(row)) for n, d in dets.items()},
        **{f"{n} score": (lambda d=d: d.score(block)) for n, d in dets.items()},
        "numpy score": lambda: np.einsum("ij,jk,ik->i", block - m, P, block - m),
    }
    start = time.process_time()
    med = interleaved_medians(cases, repeat=5 if quick else 15, clock=time.process_time)
    note = f"{X.shape[1]} features; timed in {time.process_time() - start:.1f} s CPU"
    for name in dets:
        report.add(
            f"{name}.update() one row",
            "per row",
            "us",
            med[f"{name} update"] * 1e6,
            peers={"NumPy T2 of one row": med["numpy"] * 1e6},
            note=note,
        )
        report.add(
            f"{name}.score() batch",
            "throughput",
            "rows/s",
            len(block) / med[f"{name} score"],
            peers={"NumPy einsum T2": len(block) / med["numpy score"]},
            higher_is_better=True,
            note=note,
        )


if __name__ == "__main__":
    from benchmarks._common import parse_args, pin_threads

    pin_threads()
    args = parse_args(__doc__.splitlines()[0])
    rep = Report("analytics_multivariate", quick=args.quick)
    rows(rep, args.quick)
    rep.finish()
