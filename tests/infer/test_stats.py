"""engine.stats(): counters, percentiles and the notebook repr."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import InvalidInputError
from edgekit.infer import EngineStats, InferenceEngine, ResultCache


def test_stats_count_calls_errors_and_latencies(add_bytes, add_feeds):
    engine = InferenceEngine(add_bytes, cache=ResultCache())
    for _ in range(20):
        engine.run(add_feeds)
    with pytest.raises(InvalidInputError):
        engine.run({})
    stats = engine.stats()
    assert isinstance(stats, EngineStats)
    assert stats.calls == 20 and stats.errors == 1 and stats.window == 20
    assert 0 < stats.p50_us <= stats.p90_us <= stats.p99_us
    assert stats.cache_hits == 19 and stats.cache_misses == 1
    assert stats.cache_hit_rate == pytest.approx(0.95)
    assert stats.backend == "onnxruntime"
    assert "p99" in str(stats)
    snapshot = stats.as_dict()
    assert snapshot["calls"] == 20 and snapshot["cache_hit_rate"] == pytest.approx(0.95)
    assert json.loads(stats.to_json())["p99_us"] == pytest.approx(stats.p99_us)
    engine.reset_stats()
    assert engine.stats().calls == 0 and engine.stats().p50_us == 0.0


def test_html_repr_shows_percentiles_and_batch_sizes(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_delay_us=5_000)
    futures = [engine.submit(np.zeros((1, 32), np.float32)) for _ in range(10)]
    for f in futures:
        f.result(timeout=10)
    html = engine.stats()._repr_html_()
    assert "<table" in html and "p99 us" in html and "µs" in html and "batch sizes" in html
    engine.close()
