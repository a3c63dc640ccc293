"""edgekit.analytics benchmark: the issue's table in one run.

``python -m benchmarks.analytics [--quick]``. Rows come from the modules of this package,
each with a ``rows(report, quick)`` function: ``stream`` (statistics and detectors vs
river, stumpy), ``nab`` (the NAB scorer and ContextNovelty vs NAB's scoreboard), ``fusion``
(Madgwick, Mahony and the robust filter on BROAD vs imufusion, ahrs), ``multivariate``
(HotellingT2 and PcaT2Q on real plant sensors with injected faults and on Tennessee
Eastman recordings vs NumPy T-squared, SKAB's two baselines and IsolationForest). A module not present yet is named and skipped. Threads pinned to one.
"""

from __future__ import annotations

from benchmarks._common import Report, parse_args, pin_threads

pin_threads()

import importlib  # noqa: E402
import sys  # noqa: E402

PARTS = ("stream", "nab", "fusion", "multivariate")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report("analytics", quick=args.quick)
    for part in PARTS:
        name = f"benchmarks.analytics.{part}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            print(f"{part}: not present, skipped", file=sys.stderr)
            continue
        rows = getattr(module, "rows", None)
        if rows is None:
            print(f"{part}: no rows(report, quick) function, skipped", file=sys.stderr)
            continue
        rows(report, args.quick)
    report.finish()


if __name__ == "__main__":
    main()
