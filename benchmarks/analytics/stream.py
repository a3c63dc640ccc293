"""Streaming rows of the analytics benchmark: statistics and detectors against river, stumpy.

Row function (``benchmarks/analytics/__main__.py`` calls it with its report):
:func:`rows` times, interleaved with the peer in one process, threads pinned:

- one-sample ``update()`` from Python of ``EwmaZScore``, ``HalfSpaceTrees`` and
  ``MatrixProfileDiscord`` (target at most 2 us for the univariate detectors),
  ``HalfSpaceTrees`` against river's ``score_one`` + ``learn_one`` (target 10x), with
  the ROC AUC of both on NAB's labelled windows;
- ``EwmaZScore.score`` batch throughput (target 20 M samples/s) against the same
  z-score from pandas' ``ewm``;
- ``MatrixProfileDiscord`` per update at window 100, history 10k against stumpy's
  ``stumpi(egress=False).update`` (target 10x), and the largest difference of their
  left matrix profiles (target 1e-6); left out with ``--quick``: stumpy's numba
  compilation alone takes about two minutes;
- ``Quantile`` (P-square) and ``RunningStats`` per sample against river's
  ``stats.Quantile`` and ``stats.Var`` (one ``update`` per sample).

Times are CPU time of this process (``time.process_time``): every case is single-threaded,
and the machine is shared.

Data: NAB's machine temperature series (``../shared/data/nab``, MIT).
``python -m benchmarks.analytics.stream [--quick]`` runs these rows alone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks._common import Report, interleaved_medians

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"
SERIES = "realKnownCause/machine_temperature_system_failure.csv"


def load_series() -> tuple[np.ndarray, np.ndarray]:
    """NAB's machine temperature values and a bool per sample: inside a labelled window."""
    import pandas as pd

    frame = pd.read_csv(NAB / "data" / SERIES, parse_dates=["timestamp"])
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())[SERIES]
    label = np.zeros(len(frame), dtype=bool)
    for start, end in windows:
        label |= (frame.timestamp >= pd.Timestamp(start)).to_numpy() & (
            frame.timestamp <= pd.Timestamp(end)
        ).to_numpy()
    return frame.value.to_numpy(dtype=np.float64), label


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    pos = int(labels.sum())
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _per_sample_loop(update, values: list[float]):
    def run() -> None:
        for v in values:
            update(v)

    return run


def detector_rows(report: Report, quick: bool, x: np.ndarray, label: np.ndarray) -> None:
    from river import anomaly

    from edgekit.analytics.detectors import EwmaZScore, HalfSpaceTrees

    lo, hi = float(x.min()), float(x.max())
    n = 2_000 if quick else 5_000
    values = [float(v) for v in x[:n]]
    repeat = 5 if quick else 11

    ours = HalfSpaceTrees(limits=(lo, hi), seed=42)
    ours.score(x[:1000])
    river = anomaly.HalfSpaceTrees(limits={0: (lo, hi)}, seed=42)
    for v in x[:1000]:
        river.learn_one({0: v})

    def river_update(v: float) -> None:
        d = {0: v}
        river.score_one(d)
        river.learn_one(d)

    ewz = EwmaZScore().fit(x[:1000])
    t = interleaved_medians(
        {
            "ours": _per_sample_loop(ours.update, values),
            "river": _per_sample_loop(river_update, values),
            "ewz": _per_sample_loop(ewz.update, values),
        },
        repeat=repeat,
        number=1,
        clock=time.process_time,
    )
    report.add(
        "HalfSpaceTrees, 1 feature (10 trees, height 8, window 250)",
        "update() per sample from Python",
        "us",
        t["ours"] / n * 1e6,
        peers={"river score_one+learn_one": t["river"] / n * 1e6},
        target="<= 2 us; >= 10x river",
    )
    report.add(
        "EwmaZScore",
        "update() per sample from Python",
        "us",
        t["ewz"] / n * 1e6,
        target="<= 2 us",
    )

    # ROC AUC on NAB's labelled windows, whole series, same trees: equal by construction
    ours = HalfSpaceTrees(limits=(lo, hi), seed=42)
    s_ours = ours.score(x)
    if not quick:
        river = anomaly.HalfSpaceTrees(limits={0: (lo, hi)}, seed=42)
        s_river = np.empty(len(x))
        for i, v in enumerate(x):
            d = {0: float(v)}
            s_river[i] = river.score_one(d)
            river.learn_one(d)
    w = ours.window_size
    report.add(
        "HalfSpaceTrees on NAB machine_temperature (22,695 samples, 4 windows)",
        "ROC AUC of the score vs NAB's windows",
        "",
        roc_auc(label[w:], s_ours[w:]),
        peers={} if quick else {"river": roc_auc(label[w:], s_river[w:])},
        higher_is_better=True,
        note="the scores are river's bit for bit (same seed and limits)",
    )


def batch_rows(report: Report, quick: bool, x: np.ndarray) -> None:
    import pandas as pd

    from edgekit.analytics.detectors import EwmaZScore

    reps = 40 if quick else 400  # the real series repeated: 0.9 M or 9 M samples
    big = np.tile(x, reps)
    alpha = 0.01
    det = EwmaZScore(alpha, warmup=30)

    def ours() -> None:
        det.reset()
        det.score(big)

    s = pd.Series(big)

    def pandas_z() -> None:
        ewm = s.ewm(alpha=alpha, adjust=False)
        ((s - ewm.mean().shift()).abs() / ewm.std(bias=True).shift()).to_numpy()

    t = interleaved_medians(
        {"ours": ours, "pandas": pandas_z},
        repeat=3 if quick else 7,
        number=1,
        clock=time.process_time,
    )
    report.add(
        "EwmaZScore batch score",
        "throughput",
        "M samples/s",
        len(big) / t["ours"] / 1e6,
        peers={"pandas ewm z-score": len(big) / t["pandas"] / 1e6},
        higher_is_better=True,
        target=">= 20 M samples/s",
    )


def matrix_profile_rows(report: Report, quick: bool, x: np.ndarray) -> None:
    from edgekit.analytics.detectors import MatrixProfileDiscord

    m, history, updates = 100, 10_000, 300
    det = MatrixProfileDiscord(window=m, history=history, warmup=0)
    det.score(x[:history])
    stream = [float(v) for v in x[history : history + updates]]
    state = det.state()
    if quick:

        def ours() -> None:
            d = MatrixProfileDiscord.from_state(state)
            for v in stream:
                d.update(v)

        t = interleaved_medians({"ours": ours}, repeat=3, number=1, clock=time.process_time)
        report.add(
            "MatrixProfileDiscord (window 100, history 10k)",
            "update() per sample",
            "us",
            t["ours"] / updates * 1e6,
            note="stumpi left out in --quick (its numba compilation takes ~2 min)",
            target=">= 10x stumpi",
        )
        return

    import stumpy

    peer = stumpy.stumpi(x[:history], m, egress=False)
    peer.update(stream[0])  # compile
    peer = stumpy.stumpi(x[:history], m, egress=False)
    t_peer = []
    t_ours = []
    ours_det = MatrixProfileDiscord.from_state(state)
    ours_det.update(0.0)  # warm the kernel
    ours_det = MatrixProfileDiscord.from_state(state)
    ours_scores = []
    for v in stream:  # interleaved sample by sample
        a = time.process_time()
        peer.update(v)
        b = time.process_time()
        ours_scores.append(ours_det.update(v)[0])
        c = time.process_time()
        t_peer.append(b - a)
        t_ours.append(c - b)
    diff = float(np.max(np.abs(np.array(ours_scores) - peer.left_P_[-updates:])))
    report.add(
        "MatrixProfileDiscord (window 100, history 10k)",
        "update() per sample (median)",
        "us",
        float(np.median(t_ours)) * 1e6,
        peers={"stumpy stumpi(egress=False).update": float(np.median(t_peer)) * 1e6},
        target=">= 10x stumpi",
    )
    report.add(
        "MatrixProfileDiscord vs stumpi, equal history",
        "largest |left profile difference|",
        "",
        diff,
        target="<= 1e-6",
    )


def stats_rows(report: Report, quick: bool, x: np.ndarray) -> None:
    from river import stats

    from edgekit.analytics.stats import Quantile, RunningStats

    n = 5_000 if quick else 20_000
    block = np.ascontiguousarray(x[:n])
    values = [float(v) for v in block]

    def ours_q() -> None:
        Quantile(0.9).update(block)

    def river_q() -> None:
        q = stats.Quantile(0.9)
        for v in values:
            q.update(v)

    def ours_var() -> None:
        RunningStats(ddof=1).update(block)

    def river_var() -> None:
        s = stats.Var()
        for v in values:
            s.update(v)

    t = interleaved_medians(
        {"q": ours_q, "rq": river_q, "v": ours_var, "rv": river_var},
        repeat=5 if quick else 11,
        number=1,
        clock=time.process_time,
    )
    report.add(
        "Quantile 0.9 (P-square), block update",
        "per sample",
        "ns",
        t["q"] / n * 1e9,
        peers={"river stats.Quantile.update": t["rq"] / n * 1e9},
        note="same estimates, bit for bit",
    )
    report.add(
        "RunningStats (Welford), block update",
        "per sample",
        "ns",
        t["v"] / n * 1e9,
        peers={"river stats.Var.update": t["rv"] / n * 1e9},
    )


def rows(report: Report, quick: bool) -> None:
    """Add the streaming rows to ``report`` (left out, with a note, without NAB's data)."""
    import sys

    if not (NAB / "data" / SERIES).exists():
        print(f"stream: {NAB} not found, rows skipped", file=sys.stderr)
        return
    x, label = load_series()
    detector_rows(report, quick, x, label)
    batch_rows(report, quick, x)
    matrix_profile_rows(report, quick, x)
    stats_rows(report, quick, x)


if __name__ == "__main__":
    from benchmarks._common import parse_args, pin_threads

    pin_threads()
    args = parse_args(__doc__.splitlines()[0])
    report = Report("analytics_stream", quick=args.quick)
    rows(report, args.quick)
    report.finish()
