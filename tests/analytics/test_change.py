"""Change detectors: Page-Hinkley against river, CUSUM and BOCPD against plain references.

Data: ``data/stream_machine_temperature.csv`` (NAB, MIT; see ``data/stream_README.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.analytics.change import Bocpd, Cusum, PageHinkley
from edgekit.errors import InvalidInputError

DATA = Path(__file__).parent / "data" / "stream_machine_temperature.csv"


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=1)


def _feed(det, x, cuts=()):
    outs = [det.update(b) for b in np.split(x, sorted(cuts))]
    return (
        np.concatenate([o.statistic for o in outs]),
        np.concatenate([o.change for o in outs]),
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"threshold": 20.0, "delta": 0.1},
        {"threshold": 5.0, "mode": "up", "min_instances": 10},
        {"alpha": 0.99, "threshold": 10.0, "mode": "down"},
    ],
)
def test_page_hinkley_detects_what_river_detects(series, params):
    from river import drift

    ref = drift.PageHinkley(**params)
    expected = []
    for i, v in enumerate(series):
        ref.update(v)
        if ref.drift_detected:
            expected.append(i)
    _, change = _feed(PageHinkley(**params), series, cuts=[17, 1000])
    assert len(expected) > 10
    np.testing.assert_array_equal(np.flatnonzero(change), expected)


def _cusum_reference(x, k, h, warmup):
    """CUSUM written out plainly: self-starting target and sigma per run."""
    gp = gm = 0.0
    run: list[float] = []
    mu = sd = 0.0
    stats, changes = [], []
    for v in x:
        if len(run) < warmup:
            run.append(v)
            if len(run) == warmup:
                mu = float(np.mean(run))
                sd = float(np.std(run)) or 1.0
            stats.append(0.0)
            changes.append(False)
            continue
        z = (v - mu) / sd
        gp, gm = max(0.0, gp + z - k), max(0.0, gm - z - k)
        stats.append(max(gp, gm))
        changes.append(stats[-1] > h)
        if changes[-1]:
            gp = gm = 0.0
            run = []
    return np.array(stats), np.array(changes)


def test_cusum_matches_the_plain_recursion(series):
    stat, change = _feed(Cusum(0.5, 8.0, warmup=50), series, cuts=[10, 333])
    ref_stat, ref_change = _cusum_reference(series, 0.5, 8.0, 50)
    np.testing.assert_allclose(stat, ref_stat, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(change, ref_change)


def test_cusum_finds_a_one_sigma_shift():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(10.0, 2.0, 500), rng.normal(12.0, 2.0, 200)])
    _, change = _feed(Cusum(0.5, 5.0, target=10.0, sigma=2.0), x)
    first = np.flatnonzero(change)
    assert first.size and 500 <= first[first >= 500][0] < 530
    assert (first < 500).sum() <= 3  # two-sided in-control ARL ~ 470 samples


def _bocpd_reference(x, hazard, R, mu0, kappa0, alpha0, beta0):
    """Adams & MacKay's recursion in probability space with scipy's Student-t."""
    from scipy import stats

    p = np.array([1.0])
    mu, kappa = np.array([mu0]), np.array([kappa0])
    alpha, beta = np.array([alpha0]), np.array([beta0])
    maps = []
    for v in x:
        scale = np.sqrt(beta * (kappa + 1) / (alpha * kappa))
        pred = stats.t.pdf(v, 2 * alpha, loc=mu, scale=scale)
        growth = p * pred * (1 - hazard)
        cp = np.sum(p * pred * hazard)
        p = np.concatenate([[cp], growth])[:R]
        p /= p.sum()
        mu_new = (kappa * mu + v) / (kappa + 1)
        beta_new = beta + kappa * (v - mu) ** 2 / (2 * (kappa + 1))
        mu = np.concatenate([[mu0], mu_new])[:R]
        beta = np.concatenate([[beta0], beta_new])[:R]
        kappa = np.concatenate([[kappa0], kappa + 1])[:R]
        alpha = np.concatenate([[alpha0], alpha + 0.5])[:R]
        maps.append(int(np.argmax(p)))
    return np.array(maps), p


@pytest.mark.parametrize("max_run", [50, 1000])
def test_bocpd_matches_the_reference_recursion(series, max_run):
    x = (series[2000:2600] - 80.0) / 5.0
    params = {"mu0": 0.0, "kappa0": 0.5, "alpha0": 2.0, "beta0": 2.0}
    det = Bocpd(100.0, max_run=max_run, **params)
    run, change = _feed(det, x, cuts=[1, 250])
    ref_map, ref_p = _bocpd_reference(x, 0.01, max_run, **params)
    np.testing.assert_array_equal(run, ref_map)
    np.testing.assert_array_equal(np.flatnonzero(change), np.flatnonzero(np.diff(ref_map) < 0) + 1)
    np.testing.assert_allclose(det.run_length_posterior, ref_p, rtol=1e-9, atol=1e-300)


def test_bocpd_finds_the_changes_of_a_piecewise_gaussian():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 300), rng.normal(3, 1, 300), rng.normal(0, 3, 300)])
    run, change = _feed(Bocpd(100.0, max_run=400), x)
    at = np.flatnonzero(change)
    for true in (300, 600):
        assert ((at >= true) & (at < true + 15)).any(), (true, at)
    assert run[599] > 250 and run[899] > 250


def _make(kind):
    return {
        "cusum": lambda: Cusum(0.25, 3.0, warmup=20),
        "ph": lambda: PageHinkley(threshold=5.0, delta=0.05),
        "bocpd": lambda: Bocpd(50.0, max_run=64, mu0=80.0, beta0=25.0),
    }[kind]()


@pytest.mark.parametrize("kind", ["cusum", "ph", "bocpd"])
@given(cuts=st.lists(st.integers(0, 500), max_size=8))
def test_block_size_never_changes_the_output(series, kind, cuts):
    x = series[1500:2000]
    whole = _feed(_make(kind), x)
    split = _feed(_make(kind), x, cuts)
    for a, b in zip(whole, split, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["cusum", "ph", "bocpd"])
def test_bad_blocks_are_refused_and_leave_the_state(series, kind):
    det = _make(kind)
    a = _feed(det, series[:100])
    for bad, match in [([1.0, np.nan], "NaN"), (np.zeros((3, 2)), "shape"), (["x"], "numbers")]:
        with pytest.raises(InvalidInputError, match=match):
            det.update(bad)
    b = _feed(det, series[100:200])
    whole = _feed(_make(kind), series[:200])
    for u, v, w in zip(a, b, whole, strict=True):
        np.testing.assert_array_equal(np.concatenate([u, v]), w)
    det.reset()
    np.testing.assert_array_equal(_feed(det, series[:100])[0], a[0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Cusum(-1.0),
        lambda: Cusum(h=0.0),
        lambda: Cusum(target=1.0),
        lambda: Cusum(warmup=1),
        lambda: PageHinkley(mode="sideways"),
        lambda: PageHinkley(min_instances=0),
        lambda: Bocpd(1.0),
        lambda: Bocpd(max_run=1),
        lambda: Bocpd(beta0=0.0),
    ],
)
def test_bad_parameters(make):
    with pytest.raises(InvalidInputError):
        make()
