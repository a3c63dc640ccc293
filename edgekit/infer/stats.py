"""Latency and usage statistics of an :class:`~edgekit.infer.InferenceEngine`."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

__all__ = ["EngineStats"]


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of an engine's counters and latency percentiles.

    Latencies (microseconds) cover the last ``window`` synchronous ``run`` calls,
    measured inside the engine from entry to return (validation, cache lookup and
    the runtime call). ``batch_sizes`` maps a micro-batch size (requests merged)
    to how many batches had it.
    """

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

    def as_dict(self) -> dict[str, object]:
        """The snapshot as plain Python values (for JSON or logging)."""
        return {
            "model": self.model,
            "backend": self.backend,
            "calls": self.calls,
            "errors": self.errors,
            "p50_us": self.p50_us,
            "p90_us": self.p90_us,
            "p99_us": self.p99_us,
            "mean_us": self.mean_us,
            "window": self.window,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "cache_hit_rate": self.cache_hit_rate,
            "batches": self.batches,
            "batch_sizes": dict(self.batch_sizes),
            "swaps": self.swaps,
        }

    def __str__(self) -> str:
        return (
            f"{self.model} on {self.backend}: {self.calls} calls, {self.errors} errors, "
            f"p50 {self.p50_us:.1f} us, p90 {self.p90_us:.1f} us, p99 {self.p99_us:.1f} us; "
            f"cache {self.cache_hits} hits / {self.cache_misses} misses; "
            f"{self.batches} batches"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("model", self.model),
            ("backend", self.backend),
            ("calls", f"{self.calls:,}"),
            ("errors", f"{self.errors:,}"),
            (
                "latency p50 / p90 / p99",
                f"{self.p50_us:.1f} / {self.p90_us:.1f} / {self.p99_us:.1f} us",
            ),
            ("latency mean", f"{self.mean_us:.1f} us (last {self.window:,} calls)"),
            (
                "cache hits / misses",
                f"{self.cache_hits:,} / {self.cache_misses:,} ({self.cache_hit_rate:.0%})",
            ),
            ("batches", f"{self.batches:,}"),
            ("swaps", f"{self.swaps:,}"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        if self.batch_sizes:
            peak = max(self.batch_sizes.values())
            bars = "".join(
                f"<tr><td>{size}</td><td>{count:,}</td><td><div style='background:#4c78a8;"
                f"height:0.8em;width:{max(1, round(120 * count / peak))}px'></div></td></tr>"
                for size, count in sorted(self.batch_sizes.items())
            )
            body += (
                "<tr><th style='text-align:left'>batch sizes</th><td><table>"
                f"<tr><th>size</th><th>batches</th><th></th></tr>{bars}</table></td></tr>"
            )
        return f"<table class='edgekit-stats'>{body}</table>"


def percentiles(latencies_ns: list[int]) -> tuple[float, float, float, float]:
    """(p50, p90, p99, mean) in microseconds of latencies in nanoseconds; zeros when empty."""
    if not latencies_ns:
        return 0.0, 0.0, 0.0, 0.0
    values = np.asarray(latencies_ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return float(p50), float(p90), float(p99), float(values.mean())
