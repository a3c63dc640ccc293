"""Anomaly detectors: river's HalfSpaceTrees and stumpy's stumpi as oracles, the protocol.

Data: ``data/stream_machine_temperature.csv`` (NAB, MIT; see ``data/stream_README.md``):
the first 5000 samples of NAB's machine temperature series with its labelled windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.analytics.detectors import EwmaZScore, HalfSpaceTrees, MatrixProfileDiscord
from edgekit.errors import InvalidInputError

DATA = Path(__file__).parent / "data" / "stream_machine_temperature.csv"


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=1)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=2).astype(bool)


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    from scipy.stats import rankdata

    ok = np.isfinite(scores)
    s, y = scores[ok], labels[ok]
    ranks = rankdata(s)
    pos = int(y.sum())
    neg = len(y) - pos
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _river_hst(X, limits, seed, **params):
    from river import anomaly

    det = anomaly.HalfSpaceTrees(limits=dict(enumerate(limits)), seed=seed, **params)
    out = []
    for row in X:
        x = dict(enumerate(row))
        out.append(det.score_one(x))
        det.learn_one(x)
    return np.array(out)


@pytest.mark.parametrize("params", [{}, {"n_trees": 5, "height": 4, "window_size": 100}])
def test_half_space_trees_equal_river(series, labels, params):
    x, labels = series[1500:4000], labels[1500:4000]  # one labelled window inside
    lim = [(float(x.min()), float(x.max()))]
    ours = HalfSpaceTrees(limits=lim[0], seed=42, **params)
    got = np.concatenate([ours.score(x[:777]), ours.score(x[777:])])
    ref = _river_hst(x[:, None], lim, 42, **params)
    w = ours.window_size
    assert np.isnan(got[:w]).all() and (ref[:w] == 0).all()  # river's 0 is our NaN
    np.testing.assert_array_equal(got[w:], ref[w:])
    # so the ROC AUC on NAB's labelled windows is river's too
    assert _auc(got[w:], labels[w:]) == _auc(ref[w:], labels[w:])


def test_half_space_trees_multivariate_equal_river(series):
    X = np.c_[series, np.r_[0.0, np.diff(series)], series[::-1]]
    lim = [(float(a), float(b)) for a, b in zip(X.min(0), X.max(0), strict=True)]
    ours = HalfSpaceTrees(limits=lim, seed=3, window_size=200)
    got = np.array([ours.update(row)[0] for row in X[:1200]])
    ref = _river_hst(X[:1200], lim, 3, window_size=200)
    np.testing.assert_array_equal(got[200:], ref[200:])


def test_half_space_trees_fit_learns_limits(series):
    det = HalfSpaceTrees(seed=1).fit(series[:1000])
    assert det.limits == [(float(series[:1000].min()), float(series[:1000].max()))]
    assert det.threshold is not None
    det.score(series[1000:2000])


def _stumpi_left_profile(x, m, start):
    import stumpy

    s = stumpy.stumpi(x[:start], m, egress=False)
    for v in x[start:]:
        s.update(v)
    return s.left_P_


@pytest.mark.slow  # stumpy compiles its numba kernels on first use: about two minutes
@pytest.mark.parametrize("m", [20, 64])
def test_matrix_profile_equals_stumpi(series, m):
    x = series[:1500].copy()
    x[600:700] = x[600]  # a flat stretch: stumpy's constant-subsequence rule
    ref = _stumpi_left_profile(x, m, 3 * m)
    det = MatrixProfileDiscord(window=m, history=2000, warmup=0)
    got = np.concatenate([det.score(x[:5]), det.score(x[5:900]), det.score(x[900:])])
    ours = got[m - 1 :]
    known = np.isfinite(ref)
    np.testing.assert_array_equal(np.isnan(ours), ~known)
    np.testing.assert_allclose(ours[known], ref[known], rtol=0, atol=1e-6)
    assert np.any(ours[known] == 0.0)  # constant subsequences matched each other


def _bounded_left_profile(x, m, history):
    """Brute force: z-normalised distance to the nearest earlier subsequence in history."""
    excl = int(np.ceil(m / 4))
    subs = np.lib.stride_tricks.sliding_window_view(x, m)
    flat = np.ptp(subs, axis=1) == 0
    sd = np.where(flat, 1.0, subs.std(1))
    z = (subs - subs.mean(1, keepdims=True)) / sd[:, None]
    out = np.full(len(x), np.nan)
    for i in range(len(subs)):
        first = max(0, i + m - history)
        last = i - excl - 1
        if last >= first:
            d2 = np.sum((z[first : last + 1] - z[i]) ** 2, axis=1)
            # stumpy's rule: flat to flat 0, flat to any other sqrt(m)
            d2 = np.where(flat[first : last + 1] & flat[i], 0.0, d2)
            d2 = np.where(flat[first : last + 1] ^ flat[i], float(m), d2)
            out[i + m - 1] = np.sqrt(np.min(d2))
    return out


def test_matrix_profile_keeps_a_bounded_history(series):
    m, history = 16, 120
    x = series[2000:2600].copy()
    x[300:340] = x[300]  # a flat stretch
    det = MatrixProfileDiscord(window=m, history=history, warmup=0)
    got = np.concatenate([det.score(b) for b in np.array_split(x, 7)])
    np.testing.assert_allclose(got, _bounded_left_profile(x, m, history), rtol=0, atol=1e-6)


def test_ewma_z_score_is_the_plain_recursion(series):
    alpha, warmup = 0.05, 10
    got = EwmaZScore(alpha, warmup=warmup).score(series)
    m, s2, ref = series[0], 0.0, [np.nan]
    for k, v in enumerate(series[1:], start=1):
        d = v - m
        ref.append(abs(d) / np.sqrt(s2) if k >= warmup else np.nan)
        m += alpha * d
        s2 = (1 - alpha) * (s2 + alpha * d * d)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def _detectors():
    return [
        EwmaZScore(0.02, warmup=20, hysteresis=0.8),
        HalfSpaceTrees(n_trees=4, height=5, window_size=64, seed=5, quantile=0.99),
        MatrixProfileDiscord(window=12, history=200, contamination=0.02),
    ]


@pytest.mark.parametrize("index", range(3))
def test_update_score_predict_agree(series, index):
    a, b = _detectors()[index], _detectors()[index]
    a.fit(series[:600])
    b.fit(series[:600])
    assert a.threshold == b.threshold
    rest = series[600:1400]
    scores = a.score(rest)
    one = [b.update(float(v)) for v in rest]
    np.testing.assert_array_equal(scores, [s for s, _ in one])
    c = _detectors()[index].fit(series[:600])
    alarms = c.predict(rest)
    np.testing.assert_array_equal(alarms, [al for _, al in one])
    assert alarms.any() and not alarms.all()


@pytest.mark.parametrize("index", range(3))
@given(cuts=st.lists(st.integers(0, 300), max_size=6))
def test_block_size_never_changes_the_output(series, index, cuts):
    whole = _detectors()[index].fit(series[:400])
    split = _detectors()[index].fit(series[:400])
    x = series[400:700]
    expected = whole.predict(x), whole.score(x)
    parts = np.split(x, sorted(cuts))
    got_alarms = np.concatenate([split.predict(p) for p in parts])
    got_scores = np.concatenate([split.score(p) for p in parts])
    np.testing.assert_array_equal(got_alarms, expected[0])
    np.testing.assert_array_equal(got_scores, expected[1])


@pytest.mark.parametrize("index", range(3))
def test_state_resumes_exactly(series, index):
    det = _detectors()[index].fit(series[:500])
    det.predict(series[500:1234])
    blob = det.state()
    again = type(det).from_state(blob)
    assert again.threshold == det.threshold and again.state() == blob
    rest = series[1234:2000]
    np.testing.assert_array_equal(again.score(rest), det.score(rest))
    assert again.update(77.0) == det.update(77.0)


def test_threshold_hysteresis_and_reset():
    det = EwmaZScore(0.1, warmup=1, threshold=3.0, hysteresis=0.5)
    x = np.array([0.0, 1, 0, 1, 0, 1, 30, 1, 0, 1])
    scores = det.score(x)
    det.reset()
    alarms = det.predict(x)
    on = scores > 3.0
    assert on[6] and alarms[6]
    # after the spike the alarm holds while the score stays above 1.5, then drops
    for i in range(7, 10):
        assert alarms[i] == ((alarms[i - 1] and scores[i] >= 1.5) or scores[i] > 3.0)
    det = EwmaZScore(warmup=5).fit(np.arange(200.0) % 7)
    assert det.threshold == pytest.approx(
        np.quantile(EwmaZScore(warmup=5).score(np.arange(200.0) % 7)[5:], 0.995)
    )


def test_nan_samples_are_skipped(series):
    x = series[:900].copy()
    holes = [100, 101, 500, 899]
    x[holes] = np.nan
    for det, clean in zip(_detectors(), _detectors(), strict=True):
        got = det.fit(x[:300]).score(x[300:])
        ref = clean.fit(np.delete(x[:300], [100, 101])).score(np.delete(x[300:], [200, 599]))
        assert np.isnan(got[[200, 599]]).all()
        np.testing.assert_array_equal(np.delete(got, [200, 599]), ref)


def test_bad_input():
    det = EwmaZScore()
    with pytest.raises(InvalidInputError, match="univariate"):
        det.score(np.zeros((4, 2)))
    with pytest.raises(InvalidInputError, match="infinity"):
        det.score([1.0, np.inf])
    with pytest.raises(InvalidInputError, match="no threshold"):
        det.predict([1.0])
    with pytest.raises(InvalidInputError, match="one number"):
        det.update("x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no finite training score"):
        det.fit([1.0, 2.0])
    hst = HalfSpaceTrees()
    with pytest.raises(InvalidInputError, match="limits"):
        hst.update(0.5)
    hst = HalfSpaceTrees(limits=[(0, 1), (0, 1)])
    with pytest.raises(InvalidInputError, match="2 features"):
        hst.update([0.5])
    with pytest.raises(InvalidInputError, match="features"):
        hst.score(np.zeros((3, 3)))
    for make in (
        lambda: EwmaZScore(0.0),
        lambda: EwmaZScore(quantile=1.5),
        lambda: EwmaZScore(hysteresis=0.0),
        lambda: EwmaZScore(threshold=float("nan")),
        lambda: HalfSpaceTrees(limits=(1, 0)),
        lambda: HalfSpaceTrees(height=0),
        lambda: MatrixProfileDiscord(window=2),
        lambda: MatrixProfileDiscord(window=100, history=150),
        lambda: MatrixProfileDiscord(history=1 << 30),
        lambda: HalfSpaceTrees(n_trees=10**6),
    ):
        with pytest.raises(InvalidInputError):
            make()
