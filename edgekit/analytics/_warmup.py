"""The analytics layer's warm-up: every kernel once, through the public API (see edgekit.warmup)."""

from __future__ import annotations

import numpy as np


def warmup() -> None:
    """Compile (or load from cache) every kernel on tiny inputs of the dtypes the API uses."""
    from edgekit import analytics
    from edgekit.analytics import fusion

    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    xy = rng.standard_normal((400, 3))
    for stat in (
        analytics.RunningStats(),
        analytics.Ewma(0.1),
        analytics.Rolling(8),
        analytics.Quantile(0.9),
        analytics.RateOfChange(),
    ):
        stat.update(x[:16])
    for change in (analytics.Cusum(), analytics.PageHinkley(), analytics.Bocpd(max_run=16)):
        change.update(x[:64])
    detectors = (
        (analytics.EwmaZScore(), x),
        (analytics.HalfSpaceTrees(n_trees=2, height=3, window_size=16), x),
        (analytics.MatrixProfileDiscord(window=8, history=64), x),
        (analytics.ContextNovelty(), x),
        (analytics.HotellingT2(), xy),
        (analytics.PcaT2Q(), xy),
    )
    for detector, data in detectors:
        detector.fit(data[:200])
        detector.predict(data[200:])
        detector.update(data[-1])
    corpus = analytics.NabCorpus({"a": (400, [(300, 320)])})
    corpus.optimize({"a": rng.random(400)}, "standard")
    fusion._warmup()
