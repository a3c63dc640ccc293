"""Peak and private RSS and time to first result, each case alone in a fresh process.

``python -m benchmarks.footprint [--quick | --warm-only] [--source DIR] [--only TEXT]``.
Every case of issue 17 runs in a new interpreter that does the work once and reports its
peak RSS (``VmHWM``), its private memory after the result (``RssAnon``: the rest of the
RSS is shared, read-only pages of library files), and the wall and CPU seconds from its
start to the result; edgekit's rows sit beside the peers a user would load for the same
work. Figures are medians of 3 fresh processes (1 with ``--quick``, which also leaves out
the layers-together rows and runs the applications without an unmeasured run first).

- **warm**: the numba kernels are already in the on-disk cache (the default place, or
  ``NUMBA_CACHE_DIR``), as after ``edgekit.warmup()`` at image build (whose dropping of
  the native libraries' page cache the benchmark does once at its start). Each case is run
  once unmeasured first, so that the cache holds what it needs.
- **cold** (not with ``--quick`` or ``--warm-only``): a fresh, empty ``NUMBA_CACHE_DIR``,
  as on a device whose image was built without ``warmup()``: the codec compiles (half a
  minute of CPU, over 350 MB).
- **read-only install** (likewise): the package copied to a read-only directory (a wheel
  in site-packages); ``edgekit.warmup(("codec",))`` fills a separate ``NUMBA_CACHE_DIR``
  (minutes), then the codec case runs from it.

``--source DIR`` measures another checkout of edgekit (the "before" of a change);
``--record`` writes ``baseline.json`` for ``tests/test_footprint.py``. Linux only
(``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._common import Report, Row
from benchmarks.footprint.cases import APPS, BASELINES, CASES, COMBOS, REGRESSION
from benchmarks.footprint.harness import ROOT, median_run, run_once
from edgekit._memory import drop_cached_libraries

#: The figures of the issue's target table.
TARGETS = {
    ("codec compress 1,000 floats", "peak RSS"): "<= 110 MB",
    ("codec compress 1,000 floats", "start to result"): "<= 0.5 s",
    ("examples/gateway.py", "peak RSS"): "<= 160 MB",
    ("edgekit demo", "peak RSS"): "<= 160 MB",
    ("sync queue put + engine drain", "peak RSS"): "<= 50 MB",
}


@contextmanager
def advertised(service_type: str) -> Iterator[None]:
    """A real mDNS service on 127.0.0.1 for the scan cases (in this process, not theirs)."""
    from zeroconf import ServiceInfo, Zeroconf

    zc = Zeroconf(interfaces=["127.0.0.1"])
    info = ServiceInfo(
        f"{service_type}.local.",
        f"footprint.{service_type}.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=8765,
        properties={"layer": "scan"},
    )
    zc.register_service(info)
    try:
        yield
    finally:
        zc.unregister_service(info)
        zc.close()


def read_only_copy(source: Path, into: Path) -> Path:
    """``source``'s edgekit package copied to ``into`` (no caches), made read-only."""
    shutil.copytree(
        source / "edgekit", into / "edgekit", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in sorted(into.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    into.chmod(0o555)
    return into


METRICS = (
    ("peak RSS", "VmHWM", "MB"),
    ("private RSS", "RssAnon", "MB"),
    ("start to result", "first_s", "s"),
    ("CPU to result", "cpu_s", "s"),
)
BASELINE = Path(__file__).resolve().parent / "baseline.json"
RECORD_COMMAND = "python -m benchmarks.footprint --record"


def add(
    report: Report,
    case: str,
    kind: str,
    ours: dict[str, float],
    peers: dict[str, dict[str, float]],
    note: str | None = None,
) -> None:
    """The rows of ``case``: peak RSS, private RSS after the result, wall and CPU time to it."""
    for metric, key, unit in METRICS:
        report.rows.append(
            Row(
                f"{case} ({kind})" if kind else case,
                metric,
                unit,
                ours[key],
                peers={name: p[key] for name, p in peers.items()},
                target=TARGETS.get((case, metric)) if kind in ("warm", "") else None,
                note=note,
            )
        )
        others = ", ".join(f"{n} {p[key]:.3g}" for n, p in peers.items())
        print(f"  {case} {kind} / {metric}: {ours[key]:.3g} {unit}  {others}", file=sys.stderr)


def record() -> None:
    """Write the peak and the private RSS of the regression cases to ``baseline.json``
    (medians of 5)."""
    import json
    import platform

    import numba

    by_name = {case.name: case for case in CASES}
    drop_cached_libraries()
    for name in REGRESSION:
        run_once(by_name[name].edgekit)  # the cache holds what the case needs
    runs = {name: median_run(by_name[name].edgekit, repeat=5) for name in REGRESSION}
    BASELINE.write_text(
        json.dumps(
            {
                "command": RECORD_COMMAND,
                "what": "private RSS (RssAnon, MB) after the result and peak RSS (VmHWM, MB) of "
                "a fresh process doing the case's work once, numba kernels in a warm on-disk "
                "cache; tests/test_footprint.py fails when the private RSS grows above +15% "
                "(the peak also counts shared library pages, which vary with the page cache)",
                "python": platform.python_version(),
                "numba": numba.__version__,
                "machine": platform.machine(),
                "private_rss_mb": {name: round(run["RssAnon"], 1) for name, run in runs.items()},
                "peak_rss_mb": {name: round(run["VmHWM"], 1) for name, run in runs.items()},
            },
            indent=2,
        )
        + "\n"
    )
    print(BASELINE.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run a case, no cold cache (CI)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the edgekit checkout to measure")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--warm-only", action="store_true", help="no cold-cache rows")
    parser.add_argument(
        "--record", action="store_true", help=f"write {BASELINE.name} for tests/test_footprint.py"
    )
    args = parser.parse_args()
    if args.record:
        record()
        return
    source = args.source.resolve()
    repeat = 1 if args.quick else 3
    report = Report("footprint" if source == ROOT else f"footprint_{source.name}", quick=args.quick)

    def wanted(name: str) -> bool:
        return args.only is None or args.only in name

    # As edgekit.warmup() does at image build: the native libraries' page cache as after
    # a reboot, not as pip's writes left it (see edgekit._memory.drop_cached_libraries).
    drop_cached_libraries()
    for name, body in BASELINES.items():
        if wanted(name):
            add(report, name, "", median_run(body, source, repeat=repeat), {})
    with advertised("_footprint._tcp"):
        for case in CASES:
            if not wanted(case.name):
                continue
            run_once(case.edgekit, source)  # fills the cache with what the case needs
            ours = median_run(case.edgekit, source, repeat=repeat)
            peers = {p: median_run(body, source, repeat=repeat) for p, body in case.peers.items()}
            add(report, case.name, "warm" if case.numba else "", ours, peers, case.note or None)
    # --quick (CI, under 90 s): no layers-together rows, and the applications are not run
    # unmeasured first (the layer cases above filled the cache with nearly all they need)
    for name, body in [*({} if args.quick else COMBOS).items(), *APPS.items()]:
        if wanted(name):
            if not args.quick:
                run_once(body, source)
            add(report, name, "warm", median_run(body, source, repeat=repeat), {})
    if not (args.quick or args.warm_only):
        for case in CASES:
            if case.numba and wanted(case.name):
                with tempfile.TemporaryDirectory(prefix="edgekit-footprint-cache-") as cache:
                    env = {"NUMBA_CACHE_DIR": cache}
                    cold = run_once(case.edgekit, source, env)
                    add(report, case.name, "cold", cold, {}, "fresh NUMBA_CACHE_DIR: compiles")
        if wanted("codec"):
            read_only_install(report, source, repeat)
    report.finish()


def read_only_install(report: Report, source: Path, repeat: int) -> None:
    """The codec case from a read-only copy of the package, its cache elsewhere, filled
    by ``edgekit.warmup(("codec",))`` as at image build."""
    with tempfile.TemporaryDirectory(prefix="edgekit-footprint-install-") as tmp:
        installed = read_only_copy(source, Path(tmp) / "site-packages")
        env = {"NUMBA_CACHE_DIR": str(Path(tmp) / "cache")}
        try:
            started = time.monotonic()
            run_once("import edgekit\nedgekit.warmup(('codec',))\n", installed, env)
            warmup_s = time.monotonic() - started
            ours = median_run(CASES[0].edgekit, installed, env, repeat)
            note = f"edgekit.warmup(('codec',)) at image build: {warmup_s:.0f} s"
            add(report, CASES[0].name, "read-only install", ours, {}, note)
        finally:
            for path in [installed, *installed.rglob("*")]:
                path.chmod(0o755)


if __name__ == "__main__":
    main()
