"""Shared helpers: thread pinning, interleaved median timing, and the result report.

Machines here are shared and noisy: every figure is a median of repeated warm
runs, edgekit and its peers are timed interleaved in one process, and a figure
is reported together with its ratio to each peer from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def pin_threads() -> None:
    """Pin BLAS/OpenMP/numba to one thread; call before numpy is imported."""
    for key, value in THREAD_ENV.items():
        os.environ.setdefault(key, value)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for CI")
    return parser.parse_args()


def time_per_call(
    fn: Callable[[], Any], *, number: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds per call of ``fn`` over ``number`` back-to-back calls, read on ``clock``."""
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def interleaved_medians(
    cases: dict[str, Callable[[], Any]],
    *,
    repeat: int = 15,
    number: int | None = None,
    budget: float = 0.02,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds per call of each case, timed in alternation so noise hits all alike.

    ``number`` (calls per sample) is chosen per case so that one sample takes
    about ``budget`` seconds, unless given. ``clock=time.process_time`` counts the CPU
    time of this process only (single-threaded cases on a machine other jobs share).
    """
    numbers: dict[str, int] = {}
    for name, fn in cases.items():
        fn()  # warm
        if number is not None:
            numbers[name] = number
            continue
        single = max(time_per_call(fn, number=1, clock=clock), 1e-7)
        numbers[name] = max(1, min(100_000, int(budget / single)))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            samples[name].append(time_per_call(fn, number=numbers[name], clock=clock))
    return {name: statistics.median(values) for name, values in samples.items()}


@dataclass
class Row:
    case: str
    metric: str
    unit: str
    edgekit: float
    peers: dict[str, float] = field(default_factory=dict)
    higher_is_better: bool = False
    target: str | None = None
    note: str | None = None

    def ratios(self) -> dict[str, float]:
        """How many times better edgekit is than each peer (above 1 is better)."""
        out = {}
        for peer, value in self.peers.items():
            if value and self.edgekit:
                out[peer] = self.edgekit / value if self.higher_is_better else value / self.edgekit
        return out


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


@dataclass
class Report:
    """Rows of one layer's benchmark; ``finish()`` prints the table and writes JSON and Markdown."""

    layer: str
    quick: bool = False
    rows: list[Row] = field(default_factory=list)

    def add(self, case: str, metric: str, unit: str, edgekit: float, **kwargs: Any) -> Row:
        row = Row(case, metric, unit, edgekit, **kwargs)
        self.rows.append(row)
        print(f"  {case} / {metric}: {_fmt(edgekit)} {unit}", file=sys.stderr, flush=True)
        return row

    def markdown(self) -> str:
        lines = [
            f"### {self.layer}",
            "",
            "| case | metric | edgekit | peers | edgekit vs peer | target |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            peers = "<br>".join(f"{name}: {_fmt(v)}" for name, v in row.peers.items()) or "-"
            ratios = "<br>".join(f"{r:.2f}x vs {name}" for name, r in row.ratios().items()) or "-"
            metric = f"{row.metric} ({row.unit}, {'higher' if row.higher_is_better else 'lower'} is better)"
            lines.append(
                f"| {row.case} | {metric} | {_fmt(row.edgekit)} | {peers} | {ratios} | {row.target or ''} |"
            )
        return "\n".join(lines) + "\n"

    def finish(self) -> None:
        RESULTS_DIR.mkdir(exist_ok=True)
        payload = {
            "layer": self.layer,
            "quick": self.quick,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            },
            "rows": [{**row.__dict__, "ratios": row.ratios()} for row in self.rows],
        }
        (RESULTS_DIR / f"{self.layer}.json").write_text(json.dumps(payload, indent=2) + "\n")
        table = self.markdown()
        (RESULTS_DIR / f"{self.layer}.md").write_text(table)
        print(table)
