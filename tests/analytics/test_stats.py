"""Streaming statistics against numpy, pandas and river, on a real NAB series.

Data: ``data/stream_machine_temperature.csv`` (NAB, MIT; see ``data/stream_README.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.analytics.stats import Ewma, Quantile, RateOfChange, Rolling, RunningStats
from edgekit.errors import InvalidInputError

DATA = Path(__file__).parent / "data" / "stream_machine_temperature.csv"


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=1)


def _run(stat, x, cuts=()):
    """Outputs of ``stat`` over ``x`` fed in blocks split at ``cuts``, concatenated."""
    outs = [stat.update(b) for b in np.split(x, sorted(cuts)) if len(b) or not cuts]
    if not isinstance(outs[0], tuple):
        return (np.concatenate(outs),)
    return tuple(np.concatenate([o[k] for o in outs]) for k in range(len(outs[0])))


def test_running_stats_match_numpy(series):
    x = series[:3000]
    for ddof in (0, 1):
        mean, var = RunningStats(ddof=ddof).update(x)
        ref_mean = np.array([np.mean(x[: k + 1]) for k in range(len(x))])
        ref_var = np.array([np.var(x[: k + 1], ddof=ddof) for k in range(ddof, len(x))])
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-12, atol=0)
        np.testing.assert_allclose(var[ddof:], ref_var, rtol=1e-12, atol=1e-300)
        if ddof:
            assert np.isnan(var[0])


@pytest.mark.parametrize("alpha", [0.3, 0.01])
@pytest.mark.parametrize("bias", [False, True])
def test_ewma_matches_pandas_to_the_bit(series, alpha, bias):
    ewm = pd.Series(series).ewm(alpha=alpha, adjust=False)
    mean, var = Ewma(alpha, bias=bias).update(series)
    np.testing.assert_array_equal(mean, ewm.mean().to_numpy())
    np.testing.assert_array_equal(var, ewm.var(bias=bias).to_numpy())


@pytest.mark.parametrize(("window", "min_periods"), [(50, None), (7, 1), (288, 100)])
def test_rolling_matches_pandas_to_the_bit(series, window, min_periods):
    s = pd.Series(series)
    out = _run(Rolling(window, min_periods=min_periods), series, cuts=[100, 101, 2345])
    roll = s.rolling(window, min_periods=min_periods)
    np.testing.assert_array_equal(out[0], roll.min().to_numpy())
    np.testing.assert_array_equal(out[1], roll.max().to_numpy())
    np.testing.assert_array_equal(out[2], roll.mean().to_numpy())


@pytest.mark.parametrize("q", [0.5, 0.9, 0.01])
def test_quantile_equals_river(series, q):
    from river import stats

    ref = stats.Quantile(q)
    expected = []
    for v in series:
        ref.update(v)
        expected.append(ref.get())
    np.testing.assert_array_equal(Quantile(q).update(series), np.array(expected))


def test_quantile_is_near_numpys(series):
    # P-square is an estimate, made for stationary data: on the series in random order
    # (the same values, the drift removed) it is within 0.5% of the spread of the exact
    # quantile; on the drifting series itself it is off by 1.4% at q=0.1
    spread = np.ptp(series)
    for seed in range(3):
        x = np.random.default_rng(seed).permutation(series)
        for q in (0.1, 0.5, 0.9, 0.99):
            est = Quantile(q).update(x)[-1]
            assert abs(est - np.quantile(x, q)) < 0.005 * spread, (seed, q)


def test_rate_of_change_matches_pandas(series):
    s = pd.Series(series)
    for period, dt in [(1, 1.0), (3, 300.0)]:
        (out,) = _run(RateOfChange(period, dt=dt), series, cuts=[1, 2, 500])
        np.testing.assert_array_equal(out, (s.diff(period) / (period * dt)).to_numpy())


def _make(kind: str):
    return {
        "welford": lambda: RunningStats(ddof=1),
        "ewma": lambda: Ewma(0.05),
        "rolling": lambda: Rolling(16, min_periods=4),
        "quantile": lambda: Quantile(0.75),
        "roc": lambda: RateOfChange(5, dt=0.5),
    }[kind]()


KINDS = ["welford", "ewma", "rolling", "quantile", "roc"]


@pytest.mark.parametrize("kind", KINDS)
def test_channels_are_independent(series, kind):
    X = np.stack([series[:800], series[800:1600][::-1], series[1600:2400] * -1.0], axis=1)
    together = _run(_make(kind), X)
    for j in range(3):
        alone = _run(_make(kind), X[:, j])
        for a, b in zip(together, alone, strict=True):
            np.testing.assert_array_equal(a[:, j], b)


@pytest.mark.parametrize("kind", KINDS)
@given(cuts=st.lists(st.integers(0, 400), max_size=8))
def test_block_size_never_changes_the_output(series, kind, cuts):
    x = series[1000:1400]
    whole = _run(_make(kind), x)
    split = _run(_make(kind), x, cuts)
    for a, b in zip(whole, split, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_blocks_are_refused_and_leave_the_state(series, kind):
    stat = _make(kind)
    first = _run(stat, series[:50])
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        stat.update(np.array([1.0, np.nan]))
    with pytest.raises(InvalidInputError, match="shape"):
        stat.update(np.zeros((2, 1, 1)))
    with pytest.raises(InvalidInputError, match="channels"):
        stat.update(np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match="numbers"):
        stat.update(["a"])
    rest = _run(stat, series[50:100])
    whole = _run(_make(kind), series[:100])
    for a, b, c in zip(first, rest, whole, strict=True):
        np.testing.assert_array_equal(np.concatenate([a, b]), c)


def test_reset_and_empty_blocks(series):
    r = Rolling(5)
    assert r.update(np.zeros(0)).mean.shape == (0,)
    a = r.update(series[:20]).mean
    r.reset()
    np.testing.assert_array_equal(r.update(series[:20]).mean, a)
    rs = RunningStats()
    rs.update(series[:10])
    np.testing.assert_allclose(rs.mean, [np.mean(series[:10])], rtol=1e-14)
    np.testing.assert_allclose(rs.var, [np.var(series[:10])], rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Ewma(0.0),
        lambda: Ewma(1.5),
        lambda: Rolling(0),
        lambda: Rolling(3, min_periods=4),
        lambda: Quantile(1.0),
        lambda: RateOfChange(0),
        lambda: RateOfChange(1, dt=0.0),
        lambda: RunningStats(ddof=-1),
        lambda: RunningStats(channels=0),
    ],
)
def test_bad_parameters(make):
    with pytest.raises(InvalidInputError):
        make()
