"""The NAB scorer against NAB's published per-file scores (a 7-file extract, MIT, see
tests/analytics/data/nab_make_extract.py) and on hand-made cases."""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgekit.analytics.nab import (
    NAB_PROFILES,
    NabCorpus,
    detector_likelihoods,
    load_nab,
    probation_length,
    read_nab_results,
    scaled_sigmoid,
    window_rows,
)
from edgekit.errors import InvalidInputError

DATA = Path(__file__).parent / "data"
COLUMNS = ("timestamp", "value", "numenta", "windowedGaussian")
SHARED_NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"


def load_extract() -> tuple[
    NabCorpus, dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], dict
]:
    """(corpus, values, raw scores per detector, metadata) of the extract."""
    meta = json.loads((DATA / "nab_extract.json").read_text())
    cols: dict[str, dict[str, list[str]]] = {}
    with gzip.open(DATA / "nab_extract.csv.gz", "rt", newline="") as f:
        for row in csv.DictReader(f):
            c = cols.setdefault(row["file"], {k: [] for k in COLUMNS})
            for k in c:
                c[k].append(row[k])
    spec = {}
    for name, c in cols.items():
        ts = np.array([t.replace(" ", "T") for t in c["timestamp"]], dtype="datetime64[us]")
        spec[name] = (len(ts), window_rows(ts, meta["windows"][name]))
    values = {n: np.array(c["value"], dtype=float) for n, c in cols.items()}
    raw = {
        d: {n: np.array(c[d], dtype=float) for n, c in cols.items()}
        for d in ("numenta", "windowedGaussian")
    }
    return NabCorpus(spec), values, raw, meta


@pytest.fixture(scope="module")
def extract():
    return load_extract()


@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
@pytest.mark.parametrize("profile", sorted(NAB_PROFILES))
def test_per_file_scores_match_nab(extract, detector: str, profile: str) -> None:
    corpus, _, raw, meta = extract
    pub = meta["published"][detector][profile]
    got = corpus.score(raw[detector], profile, pub["threshold"])
    for name, want in pub["files"].items():
        assert got.files[name] == pytest.approx(want, abs=1e-9), name
    # The normalised score of the extract, computed from NAB's per-file figures.
    prof = NAB_PROFILES[profile]
    total = sum(pub["files"].values())
    null = -prof.fn_weight * corpus.n_windows
    want_norm = 100 * (total - null) / (prof.tp_weight * corpus.n_windows - null)
    assert got.score == pytest.approx(want_norm, abs=1e-9)
    assert got.tp + got.fp + got.fn + got.tn == sum(
        n - probation_length(n) for n in corpus.lengths.values()
    )


def test_optimised_threshold_is_at_least_as_good(extract) -> None:
    corpus, _, raw, meta = extract
    for detector in raw:
        for profile in NAB_PROFILES:
            best = corpus.optimize(raw[detector], profile)
            fixed = corpus.score(
                raw[detector], profile, meta["published"][detector][profile]["threshold"]
            )
            assert best.score >= fixed.score - 1e-9
            thresholds, totals = corpus.sweep(raw[detector], profile)
            assert best.raw_score == pytest.approx(totals.max(), abs=1e-9)
            assert thresholds[0] == 1.1 and (np.diff(thresholds) < 0).all()


def test_scaled_sigmoid_values() -> None:
    # NAB's documented values: -1 -> 0.98661, -0.5 -> 0.84828, 0 -> 0, 1 -> -0.98661.
    np.testing.assert_allclose(
        scaled_sigmoid([-1.0, -0.5, 0.0, 1.0]), [0.98661, 0.84828, 0.0, -0.98661], atol=5e-6
    )
    assert float(scaled_sigmoid(3.0)) == pytest.approx(2 / (1 + math.exp(15)) - 1)
    assert float(scaled_sigmoid(3.0001)) == -1.0


def test_probation_length() -> None:
    assert probation_length(1000) == 150
    assert probation_length(1001) == 150
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750


def one_window_corpus() -> NabCorpus:
    # 1000 rows (probation 150), one window rows 500..599 (width 100).
    return NabCorpus({"f": (1000, [(500, 599)])})


def detection_at(i: int) -> dict[str, np.ndarray]:
    s = np.zeros(1000)
    s[i] = 1.0
    return {"f": s}


def test_one_detection_at_window_start_end_and_outside() -> None:
    corpus = one_window_corpus()
    standard = NAB_PROFILES["standard"]
    # At the window's first row: the full tp weight.
    assert corpus.score(detection_at(500), standard, 0.5).raw_score == pytest.approx(1.0)
    # At its last row: sigmoid at -1/100, scaled.
    last = (2 / (1 + math.exp(-5 * 0.01)) - 1) / (2 / (1 + math.exp(-5)) - 1)
    assert corpus.score(detection_at(599), standard, 0.5).raw_score == pytest.approx(last)
    # Before the window (no preceding window): the window is missed and a full fp.
    assert corpus.score(detection_at(300), standard, 0.5).raw_score == pytest.approx(-1.11)
    # 50 rows after the window's end: -fn + fp * sigmoid(50 / 99).
    after = 0.11 * (2 / (1 + math.exp(5 * 50 / 99)) - 1)
    assert corpus.score(detection_at(649), standard, 0.5).raw_score == pytest.approx(-1 + after)
    # In the probationary period: not scored at all.
    assert corpus.score(detection_at(100), standard, 0.5).raw_score == pytest.approx(-1.0)
    # Only the first detection of a window counts.
    two = detection_at(500)["f"] + detection_at(550)["f"]
    assert corpus.score({"f": two}, standard, 0.5).raw_score == pytest.approx(1.0)
    # Normalisation: null 0, perfect 100.
    assert corpus.normalize(-1.0, standard) == 0.0
    assert corpus.normalize(1.0, standard) == 100.0


def test_profiles_weigh_as_nab() -> None:
    corpus = one_window_corpus()
    s = {"f": detection_at(300)["f"]}
    assert corpus.score(s, "reward_low_FP_rate", 0.5).raw_score == pytest.approx(-1.22)
    assert corpus.score(s, "reward_low_FN_rate", 0.5).raw_score == pytest.approx(-2.11)


def test_threshold_is_inclusive_and_optimised() -> None:
    corpus = one_window_corpus()
    s = np.zeros(1000)
    s[520] = 0.7  # a true positive
    s[300] = 0.8  # a false positive with a higher score
    best = corpus.optimize({"f": s}, "standard")
    assert best.threshold == 0.7  # detections are scores >= threshold
    assert best.tp == 1 and best.fp == 1
    assert best.raw_score == pytest.approx(
        float(scaled_sigmoid(-0.8) / scaled_sigmoid(-1.0)) - 0.11
    )


def test_bad_input_is_named() -> None:
    corpus = one_window_corpus()
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        corpus.score({"f": np.full(1000, 2.0)}, "standard", 0.5)
    with pytest.raises(InvalidInputError, match="missing"):
        corpus.score({}, "standard", 0.5)
    with pytest.raises(InvalidInputError, match="1000 anomaly scores"):
        corpus.score({"f": np.zeros(5)}, "standard", 0.5)
    with pytest.raises(InvalidInputError, match="profile"):
        corpus.score(detection_at(1), "nope", 0.5)
    with pytest.raises(InvalidInputError, match="overlap"):
        NabCorpus({"f": (100, [(10, 20), (15, 30)])})
    with pytest.raises(InvalidInputError, match="not a timestamp"):
        window_rows(
            np.array(["2020-01-01"], dtype="datetime64[us]"), [["2021-01-01", "2021-01-02"]]
        )


def test_detector_likelihoods_of_a_detector(extract) -> None:
    from edgekit.analytics.detectors import EwmaZScore

    corpus, values, _, _ = extract
    scores = detector_likelihoods(lambda: EwmaZScore(0.05), values)
    for s in scores.values():
        p = probation_length(len(s))
        assert (s[:p] == 0).all() and ((s >= 0) & (s <= 1)).all()
    assert math.isfinite(corpus.optimize(scores, "standard").score)
    # A constant probationary period gives no finite z-score to learn a threshold from.
    flat = np.r_[np.ones(900), np.ones(100) * 2.0]
    s = detector_likelihoods(lambda: EwmaZScore(0.05), {"flat": flat})["flat"]
    assert (s[:150] == 0).all() and s[900] == 1.0


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_NAB.is_dir(), reason="needs ../shared/data/nab")
def test_full_scoreboard_reproduced() -> None:
    corpus, _ = load_nab(SHARED_NAB)
    published = json.loads((SHARED_NAB / "results" / "final_results.json").read_text())
    thresholds = json.loads((SHARED_NAB / "config" / "thresholds.json").read_text())
    for detector in ("numenta", "windowedGaussian"):
        raw = read_nab_results(SHARED_NAB / "results" / detector, detector, corpus.lengths)
        for profile in NAB_PROFILES:
            at = corpus.score(raw, profile, thresholds[detector][profile]["threshold"])
            assert at.score == pytest.approx(published[detector][profile], abs=1e-6)
            assert corpus.optimize(raw, profile).score == pytest.approx(
                published[detector][profile], abs=0.1
            )
