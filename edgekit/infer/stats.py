"""Latency and usage statistics of an :class:`~edgekit.infer.InferenceEngine`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgekit._snapshot import Snapshot

__all__ = ["EngineStats"]


@dataclass(frozen=True)
class EngineStats(Snapshot):
    """A snapshot of an engine's counters and latency percentiles.

    Latencies (microseconds) cover the last ``window`` synchronous ``run`` calls,
    measured inside the engine from entry to return (validation, cache lookup and
    the runtime call). ``batch_sizes`` maps a micro-batch size (requests merged)
    to how many batches had it. ``as_dict()``, ``to_json()`` and the Jupyter table come
    from the fields and ``cache_hit_rate`` (:class:`~edgekit._snapshot.Snapshot`).
    """

    derived = ("cache_hit_rate",)

    model: str
    backend: str
    calls: int
    errors: int
    p50_us: float
    p90_us: float
    p99_us: float
    mean_us: float
    window: int
    cache_hits: int
    cache_misses: int
    batches: int
    batch_sizes: dict[int, int] = field(default_factory=dict)
    swaps: int = 0

    @property
    def cache_hit_rate(self) -> float:
        """Cache hits over lookups (0.0 without a cache or lookups)."""
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else 0.0

    def __str__(self) -> str:
        return (
            f"{self.model} on {self.backend}: {self.calls} calls, {self.errors} errors, "
            f"p50 {self.p50_us:.1f} us, p90 {self.p90_us:.1f} us, p99 {self.p99_us:.1f} us; "
            f"cache {self.cache_hits} hits / {self.cache_misses} misses; "
            f"{self.batches} batches"
        )


def percentiles(latencies_ns: list[int]) -> tuple[float, float, float, float]:
    """(p50, p90, p99, mean) in microseconds of latencies in nanoseconds; zeros when empty."""
    if not latencies_ns:
        return 0.0, 0.0, 0.0, 0.0
    values = np.asarray(latencies_ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return float(p50), float(p90), float(p99), float(values.mean())
