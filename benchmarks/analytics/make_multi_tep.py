"""Generate ``tests/analytics/data/multi_tep.npz``: Tennessee Eastman fault recordings.

The recordings the multivariate detectors are tuned and checked on: the revised
Tennessee Eastman process (Downs & Vogel 1993; the C model by Bathelt, Ricker & Jelali
2015) under Ricker's decentralised control, simulated by the PyPI package
``tep-studio`` (BSD-3-Clause; the bundled model is its authors' work, redistributed for
research use). One recording per disturbance IDV(1)..IDV(20): 55 h at one sample per
3 min (1100 rows, the sampling of the classic TEP data sets) of the 22 continuous
process measurements XMEAS(1..22), measurement noise seeded by the recording's number;
the disturbance comes on after 35 h and stays on (rows 700..1099, label 1), as in the
classic TEP test sets. 3-minute rows make the 400 training rows 20 h of normal
operation, long enough to hold the slow swings of the controlled plant.

Needs: ``pip install tep-studio`` (compiles its C model; not an edgekit dependency).
Run: ``python -m benchmarks.analytics.make_multi_tep [OUT]`` (about 5 minutes on two cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HOURS = 55.0
STEP_H = 0.0005  # the controller's interval (1.8 s)
RECORD_EVERY = 100  # one row per 3 min
FAULT_ON_H = 35.0
N_MEAS = 22


def record(idv: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, labels) of the recording with disturbance ``idv`` (1-based)."""
    from tep_studio import ClosedLoopSimulation

    def schedule(t: float) -> np.ndarray:
        d = np.zeros(28)
        if t >= FAULT_ON_H:
            d[idv - 1] = 1.0
        return d

    sim = ClosedLoopSimulation(horizon=HOURS, control_interval=STEP_H)
    res = sim.run(seed=float(idv), disturbance_schedule=schedule, record_every=RECORD_EVERY)
    rows = np.array([r.measurements[:N_MEAS] for r in res.results])
    t = np.array([r.time for r in res.results])
    labels = t > FAULT_ON_H
    return rows, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="tests/analytics/data/multi_tep.npz")
    args = ap.parse_args()
    arrays: dict[str, np.ndarray] = {}
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        recordings = list(pool.map(record, range(1, 21)))
    for idv, (rows, labels) in enumerate(recordings, start=1):
        arrays[f"idv{idv:02d}_x"] = rows.astype(np.float32)
        arrays[f"idv{idv:02d}_y"] = labels
        print(f"IDV({idv}): {rows.shape[0]} rows, {int(labels.sum())} faulty")
    np.savez_compressed(Path(args.out), **arrays)


if __name__ == "__main__":
    main()
