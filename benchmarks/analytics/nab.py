"""NAB rows of the analytics benchmark: the scorer against NAB's published scoreboard, and
ContextNovelty's scores side by side with the scoreboard's detectors.

Reads NAB (MIT) from ``../shared/data/nab``; without it, the 7-file extract of the tests
(``tests/analytics/data/nab_extract.*``), said so in every row.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks._common import Report, interleaved_medians

ROOT = Path(__file__).resolve().parents[2]
SHARED_NAB = ROOT.parent / "shared" / "data" / "nab"
CHECKED = ("numenta", "windowedGaussian")
PEERS = ("ARTime", "numenta", "contextOSE", "htmjava", "earthgeckoSkyline", "windowedGaussian")
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def _load(quick: bool):  # type: ignore[no-untyped-def]
    from edgekit.analytics.nab import load_nab, read_nab_results

    if SHARED_NAB.is_dir():
        corpus, values = load_nab(SHARED_NAB)
        raw = {d: read_nab_results(SHARED_NAB / "results" / d, d, corpus.lengths) for d in CHECKED}
        board = json.loads((SHARED_NAB / "results" / "final_results.json").read_text())
        thresholds = json.loads((SHARED_NAB / "config" / "thresholds.json").read_text())
        return corpus, values, raw, board, thresholds, "NAB, 58 files"
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.analytics.test_nab import load_extract

    corpus, values, raw, meta = load_extract()
    thresholds = {
        d: {p: {"threshold": v["threshold"]} for p, v in meta["published"][d].items()}
        for d in CHECKED
    }
    return corpus, values, raw, None, thresholds, "NAB 7-file extract (../shared absent)"


def rows(report: Report, quick: bool) -> None:
    """Scorer check (numenta, windowedGaussian) and ContextNovelty on NAB, 3 profiles."""
    from edgekit.analytics import ContextNovelty
    from edgekit.analytics.nab import NAB_PROFILES, detector_likelihoods

    corpus, values, raw, board, thresholds, what = _load(quick)
    print(f"NAB rows on {what} (--quick runs the same corpus: it takes seconds)")
    for det in CHECKED:
        for profile in NAB_PROFILES:
            at = corpus.score(raw[det], profile, thresholds[det][profile]["threshold"])
            best = corpus.optimize(raw[det], profile)
            peers = {"NAB published": board[det][profile]} if board else {}
            report.add(
                f"NAB scorer, {det} raw output ({what})",
                f"{SHORT[profile]} score",
                "points",
                at.score,
                peers=peers,
                higher_is_better=True,
                target="published within 0.1" if profile == "standard" else None,
                note=(
                    f"at NAB's threshold {at.threshold:.6g}; our sweep's optimum "
                    f"{best.score:.2f} at {best.threshold:.6g}"
                ),
            )
    start = time.perf_counter()
    scores = detector_likelihoods(ContextNovelty, values)
    run_s = time.perf_counter() - start
    n = sum(len(v) for v in values.values())
    for profile in NAB_PROFILES:
        best = corpus.optimize(scores, profile)
        peers = {d: board[d][profile] for d in PEERS} if board else {}
        report.add(
            f"ContextNovelty on {what}",
            f"{SHORT[profile]} score",
            "points",
            best.score,
            peers=peers,
            higher_is_better=True,
            target="at least 70.1 (HTM)" if profile == "standard" else None,
            note=f"threshold {best.threshold:.4g}, tp rows {best.tp}, fp rows {best.fp}",
        )
    if not quick:  # the EWMA z-score baseline through the same runner (s / (s + threshold))
        from edgekit.analytics.detectors import EwmaZScore

        ewma = detector_likelihoods(EwmaZScore, values)
        for profile in NAB_PROFILES:
            report.add(
                f"EwmaZScore (alpha 0.01) on {what}",
                f"{SHORT[profile]} score",
                "points",
                corpus.optimize(ewma, profile).score,
                peers={"windowedGaussian": board["windowedGaussian"][profile]} if board else {},
                higher_is_better=True,
            )
    # Speed: the whole corpus through score() (compiled), and one-sample update().
    series = np.concatenate(list(values.values()))
    det = ContextNovelty().fit(series[:750])
    x = series[750 : 750 + (20_000 if quick else 200_000)]
    one = float(x[0])
    med = interleaved_medians(
        {
            "score": lambda: ContextNovelty().fit(series[:750]).score(x),
            "update": lambda: det.update(one),
        },
        repeat=5 if quick else 15,
        clock=time.process_time,  # CPU time of this process: the machine is shared
    )
    report.add(
        "ContextNovelty score()",
        "throughput",
        "samples/s",
        len(x) / med["score"],
        higher_is_better=True,
        note=f"first corpus pass incl. compile {run_s:.1f} s for {n:,} samples",
    )
    report.add("ContextNovelty update()", "per sample", "us", med["update"] * 1e6)
