"""What observing costs: the rows of the issue's table that are not the status page.

- ``SyncQueue.put`` and ``InferenceEngine.run`` (silero VAD) with telemetry observing them
  (registered, and scraped every second by a thread) against the same call on an object
  nobody observes, and against the usual hot-path instrumentation (a prometheus_client
  Counter.inc and Histogram.observe per call), interleaved in one process, medians of the
  calling thread's CPU time (``time.thread_time``: the machine is shared, and the scrapes'
  own cost is the next row).
- One scrape (``metrics_text()``) with every layer registered, against prometheus_client's
  default registry (process, platform and GC collectors) in the same run, CPU time.
- The recorder at 10 s intervals: CPU time per sample over 10 s, as a share of one core;
  frame bytes per sample against the raw JSON of the same samples (and gzip'd JSON).

``add_rows(report, quick=...)`` adds them to a :class:`benchmarks._common.Report`
(``python -m benchmarks.telemetry`` does); run this module alone for these rows only.
"""

from __future__ import annotations

from benchmarks._common import Report, interleaved_medians, parse_args, pin_threads

pin_threads()

import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

SCAN_DATA = Path(__file__).resolve().parents[2] / "tests" / "scan" / "data"


@contextmanager
def scraping(telemetry: Any, interval_s: float = 1.0) -> Iterator[list[int]]:
    """A thread scraping ``telemetry`` every ``interval_s`` (a Prometheus, faster); yields
    a one-item list counting the scrapes."""
    stop = threading.Event()
    count = [0]

    def loop() -> None:
        while not stop.wait(interval_s):
            telemetry.metrics_text()
            count[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join()


def _hot_path_metrics() -> tuple[Any, Any]:
    """The instrumentation telemetry avoids: a Counter and a Histogram on a private registry."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    counter = Counter("calls", "calls", registry=registry)
    histogram = Histogram("latency_seconds", "latency", registry=registry)
    return counter, histogram


def cost_rows(report: Report, root: Path, quick: bool) -> None:
    """put and run: observed vs not observed vs instrumented on the hot path."""
    from edgekit.infer import InferenceEngine
    from edgekit.sync import SyncQueue
    from edgekit.telemetry import Telemetry
    from tests.infer.models import silero_feeds, silero_path

    repeat = 9 if quick else 25
    counter, histogram = _hot_path_metrics()
    payload = b"x" * 100
    with (
        SyncQueue(root / "plain") as plain,
        SyncQueue(root / "observed") as observed,
        SyncQueue(root / "instrumented") as instrumented,
    ):

        def put_instrumented() -> None:
            t0 = time.perf_counter()
            instrumented.put(payload, topic="t")
            counter.inc()
            histogram.observe(time.perf_counter() - t0)

        telemetry = Telemetry(data_dir=root).observe(observed)
        with scraping(telemetry) as scrapes:
            puts = interleaved_medians(
                {
                    "observed": lambda: observed.put(payload, topic="t"),
                    "plain": lambda: plain.put(payload, topic="t"),
                    "instrumented": put_instrumented,
                },
                repeat=repeat,
                budget=0.01,
                clock=time.thread_time,
            )
        report.add(
            "SyncQueue.put, 100 B, durability=process",
            "CPU time per put (calling thread), observed by telemetry",
            "us",
            puts["observed"] * 1e6,
            peers={
                "the same put, not observed": puts["plain"] * 1e6,
                "put + Counter.inc + Histogram.observe": puts["instrumented"] * 1e6,
            },
            target="none measurable: within noise of 'not observed'",
            note=f"{scrapes[0]} scrapes during the run",
        )
    feeds = silero_feeds()
    with (
        InferenceEngine(silero_path(), warmup=1) as plain_engine,
        InferenceEngine(silero_path(), warmup=1) as observed_engine,
        InferenceEngine(silero_path(), warmup=1) as instrumented_engine,
    ):

        def run_instrumented() -> None:
            t0 = time.perf_counter()
            instrumented_engine.run(feeds)
            counter.inc()
            histogram.observe(time.perf_counter() - t0)

        telemetry = Telemetry(data_dir=root).observe(observed_engine)
        with scraping(telemetry) as scrapes:
            runs = interleaved_medians(
                {
                    "observed": lambda: observed_engine.run(feeds),
                    "plain": lambda: plain_engine.run(feeds),
                    "instrumented": run_instrumented,
                },
                repeat=repeat,
                budget=0.01,
                clock=time.thread_time,
            )
        report.add(
            "InferenceEngine.run, silero VAD (onnxruntime, 1 thread)",
            "CPU time per run (calling thread), observed by telemetry",
            "us",
            runs["observed"] * 1e6,
            peers={
                "the same run, not observed": runs["plain"] * 1e6,
                "run + Counter.inc + Histogram.observe": runs["instrumented"] * 1e6,
            },
            target="none measurable: within noise of 'not observed'",
            note=f"{scrapes[0]} scrapes during the run",
        )


def everything(root: Path, stack: Any) -> Any:
    """A Telemetry observing one of each: a queue of 10,000 messages on 20 topics, its
    sync engine, a model, an inventory of captured WiFi networks, a guard, a recorder,
    and a state store when the state layer is there."""
    from edgekit.infer import InferenceEngine
    from edgekit.scan import Inventory, parse_iw_scan
    from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue
    from edgekit.telemetry import ResourceGuard, Telemetry, TelemetryRecorder
    from tests.infer.models import silero_feeds, silero_path

    queue = stack.enter_context(SyncQueue(root / "everything"))
    for topic in range(20):
        queue.put_many([b"r" * 64] * 500, topic=f"site/sensor{topic}")
    engine = SyncEngine(queue, DirectoryTransport(root / "out"))
    vad = stack.enter_context(InferenceEngine(silero_path(), warmup=1))
    for _ in range(50):
        vad.run(silero_feeds())
    inventory = Inventory()
    inventory.extend(parse_iw_scan((SCAN_DATA / "iw_scan.txt").read_text()))
    guard = ResourceGuard(max_memory=1 << 40, max_storage=1 << 40, max_cpu_percent=100)
    guard.watch(queue, engine).check()
    telemetry = Telemetry(data_dir=root)
    recorder = TelemetryRecorder(telemetry, queue)
    telemetry.observe(queue, engine, vad, inventory, guard, recorder)
    try:
        from edgekit.state import StateStore

        store = StateStore(root / "state")
        stack.callback(store.close)
        store.set("config/rate", 10)
        telemetry.observe(store)
    except ImportError:
        pass
    return telemetry


def scrape_rows(report: Report, root: Path, quick: bool) -> None:
    """One scrape with every layer registered, against prometheus_client's default registry."""
    from contextlib import ExitStack

    from prometheus_client import REGISTRY, generate_latest

    with ExitStack() as stack:
        telemetry = everything(root, stack)
        text = telemetry.metrics_text()
        series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
        times = interleaved_medians(
            {
                "edgekit": telemetry.metrics_text,
                "default": lambda: generate_latest(REGISTRY),
            },
            repeat=9 if quick else 25,
            budget=0.05,
            clock=time.process_time,
        )
        report.add(
            "one scrape, every layer registered",
            "CPU time per scrape (metrics_text)",
            "ms",
            times["edgekit"] * 1e3,
            peers={
                "prometheus_client default registry (process, platform, gc)": times["default"] * 1e3
            },
            target="under 5 ms",
            note=f"{series} series, {len(text):,} bytes, kinds: "
            + ", ".join(sorted({o.kind for o in telemetry.observed})),
        )
        recorder_rows(report, root, telemetry, quick)


def recorder_rows(report: Report, root: Path, telemetry: Any, quick: bool) -> None:
    """CPU per sample at 10 s intervals and bytes per sample against JSON."""
    from edgekit.sync import SyncQueue
    from edgekit.telemetry import TelemetryRecorder
    from edgekit.telemetry.recorder import flat_samples

    clock = [1_800_000_000.0]
    samples = 120 if quick else 600
    with SyncQueue(root / "recorded", clock=lambda: clock[0]) as sink:
        recorder = TelemetryRecorder(telemetry, sink, clock=lambda: clock[0])
        cpu: list[float] = []
        rows: list[dict[str, Any]] = []
        for _ in range(samples):
            t0 = time.process_time()
            recorder.sample()
            cpu.append(time.process_time() - t0)
            rows.append({"time": clock[0], **flat_samples(telemetry.families())})
            clock[0] += 10.0
        recorder.flush()
        stats = recorder.stats()
    per_sample = statistics.median(cpu)
    report.add(
        "TelemetryRecorder, every layer, 10 s interval",
        "CPU share of one core",
        "%",
        100 * per_sample / 10.0,
        target="under 0.1%",
        note=f"{per_sample * 1e3:.2f} ms CPU per sample (median of {samples}), {stats.series} series",
    )
    raw = [json.dumps(r, separators=(",", ":")).encode() for r in rows]
    json_bytes = sum(map(len, raw)) / len(raw)
    frames = [
        raw[i : i + recorder.samples_per_frame]
        for i in range(0, len(raw), recorder.samples_per_frame)
    ]
    gz = sum(len(gzip.compress(b"\n".join(f))) for f in frames) / len(raw)
    report.add(
        "TelemetryRecorder frames (60 samples each)",
        "bytes per sample",
        "B",
        stats.bytes_per_sample,
        peers={"raw JSON": json_bytes, "JSON lines, gzip per 60 samples": gz},
        note=f"{stats.frames} frames, {stats.frame_bytes:,} bytes for {stats.samples} samples",
    )


def add_rows(report: Report, *, quick: bool) -> None:
    """Every cost row of the telemetry table."""
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-telemetry-costs-") as tmp:
        root = Path(tmp)
        cost_rows(report, root, quick)
        scrape_rows(report, root, quick)


def main() -> None:
    args = parse_args("edgekit.telemetry: what observing costs (put, run, scrape, recorder)")
    report = Report("telemetry_costs", quick=args.quick)
    add_rows(report, quick=args.quick)
    report.finish()


if __name__ == "__main__":
    main()
