"""IMU fusion rows of the analytics benchmark: BROAD accuracy and per-sample speed.

Row functions (``benchmarks/analytics/__main__.py`` calls them with its report):

- :func:`broad_rows`: per trial, Madgwick (beta 0.12, variant c2012) and Mahony (Kp 0.74,
  Ki 0.0012) total RMSE against the published figures of BROAD's reference C++ filters;
  the robust filter's mean total RMSE at its defaults against the published Madgwick and
  Mahony means over the same trials and x-io's Fusion (imufusion) run here.
- :func:`speed_rows`: one-sample ``update`` from Python (it returns the quaternion; imufusion
  is timed without and with ``get_quaternion()``) against imufusion's per-sample call (C)
  and ahrs (Python), timed interleaved; ``update_batch`` per sample against imufusion's
  call, the two alternating within each of several repetitions (medians of each, and the
  spread of the per-repetition ratios in the target column).

Data: BROAD in ``../shared/data/broad`` (CC BY 4.0); without it the BROAD rows are left out.
``python -m benchmarks.analytics.fusion [--quick]`` runs these rows alone.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import Report, interleaved_medians, time_per_call

BROAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "broad"
QUICK_TRIALS = ("01_undisturbed_slow_rotation_A", "28_disturbed_stationary_magnet_A")


def load_trial(name: str) -> dict[str, Any]:
    import scipy.io

    m = scipy.io.loadmat(BROAD / f"{name}.mat")
    return {
        "fs": float(m["sampling_rate"][0, 0]),
        "gyr": np.ascontiguousarray(m["imu_gyr"], dtype=np.float64),
        "acc": np.ascontiguousarray(m["imu_acc"], dtype=np.float64),
        "mag": np.ascontiguousarray(m["imu_mag"], dtype=np.float64),
        "truth": np.asarray(m["opt_quat"], dtype=np.float64),
        "movement": m["movement"].ravel().astype(bool),
    }


def imufusion_run(d: dict[str, Any]) -> np.ndarray:
    """x-io's Fusion with the settings of its own example (gain 0.5, rejection 10 deg,
    timeout 5 s), gyroscope in deg/s and accelerometer in g as it wants. It runs in its NWU
    convention and its output is turned into ENU as BROAD turns Madgwick's (its own ENU
    convention ends up a quarter turn off BROAD's ENU truth in heading)."""
    import imufusion

    ahrs = imufusion.Ahrs()
    fs = d["fs"]
    ahrs.set_settings(
        imufusion.AhrsSettings(
            sample_rate=fs, convention=imufusion.CONVENTION_NWU, gain=0.5,
            gyroscope_range=2000.0, acceleration_rejection=10.0, magnetic_rejection=10.0,
            rejection_timeout=5.0 * fs,
        )
    )  # fmt: skip
    gyr = np.degrees(d["gyr"])
    acc = d["acc"] / 9.81
    mag = d["mag"]
    out = np.empty((gyr.shape[0], 4))
    for i in range(gyr.shape[0]):
        ahrs.update(gyr[i], acc[i], mag[i])
        out[i] = ahrs.get_quaternion()
    h = math.sqrt(0.5)
    w, x, y, z = out.T
    return np.stack([h * w - h * z, h * x - h * y, h * y + h * x, h * z + h * w], axis=1)


def broad_rows(report: Report, quick: bool) -> None:
    """Per-trial RMSE vs the published figures; the robust filter's mean total RMSE."""
    from edgekit.analytics import Madgwick, Mahony, RobustAhrs, broad_errors

    if not BROAD.is_dir():
        print("  BROAD not found in ../shared/data/broad: its rows are left out")
        return
    published = {
        kind: json.loads((BROAD / f"results_{kind}_average_rmse.json").read_text())["trials"]
        for kind in ("madgwick", "mahony")
    }
    names = sorted(p.stem for p in BROAD.glob("*.mat"))
    if quick:
        names = [n for n in names if n in QUICK_TRIALS] or names[:2]
    robust, fusion = [], []
    for name in names:
        d = load_trial(name)
        args = (d["gyr"], d["acc"], d["mag"])
        for kind, f in (
            ("madgwick", Madgwick(0.12, d["fs"], variant="c2012")),
            ("mahony", Mahony(0.74, 0.0012, d["fs"])),
        ):
            e = broad_errors(f.update_batch(*args), d["truth"], d["movement"])
            pub = published[kind][name]["tagp_parameters"]["total_rmse_deg"]
            report.add(
                f"BROAD {name[:2]} {kind}", "total RMSE", "deg", e.total_rmse_deg,
                peers={"published C++": pub},
                target=f"|diff| <= 0.01 deg: {abs(e.total_rmse_deg - pub):.4f}",
            )  # fmt: skip
        e = broad_errors(RobustAhrs(d["fs"]).update_batch(*args), d["truth"], d["movement"])
        robust.append(e.total_rmse_deg)
        fusion.append(broad_errors(imufusion_run(d), d["truth"], d["movement"]).total_rmse_deg)
    mean = {k: float(np.mean([published[k][n]["tagp_parameters"]["total_rmse_deg"] for n in names])) for k in published}  # fmt: skip
    report.add(
        f"BROAD RobustAhrs, mean of {len(names)} trials", "total RMSE", "deg",
        float(np.mean(robust)),
        peers={
            "Madgwick published": mean["madgwick"],
            "Mahony published": mean["mahony"],
            "imufusion (x-io Fusion)": float(np.mean(fusion)),
        },
        target="<= 3.5 deg (over all 39 trials: Madgwick 4.96, Mahony 7.49)",
    )  # fmt: skip


def speed_rows(report: Report, quick: bool) -> None:
    """Per-sample update and batch, vs imufusion and ahrs."""
    import imufusion
    from ahrs.filters import Madgwick as AhrsMadgwick

    from edgekit.analytics import Madgwick, Mahony, RobustAhrs

    rng = np.random.default_rng(0)
    n = 20_000 if quick else 100_000
    fs = 286.0
    gyr = rng.normal(0.0, 0.5, (n, 3))
    acc = rng.normal(0.0, 0.5, (n, 3)) + np.array([0.0, 0.0, 9.81])
    mag = rng.normal(0.0, 1.0, (n, 3)) + np.array([20.0, 0.0, -40.0])
    g, a, m = gyr[7], acc[7], mag[7]
    gd, ag = np.degrees(g), a / 9.81
    fusion = imufusion.Ahrs()
    fusion.set_settings(imufusion.AhrsSettings(sample_rate=fs, convention=imufusion.CONVENTION_ENU))  # fmt: skip
    ahrs = AhrsMadgwick(frequency=fs, gain=0.1)
    q = np.array([1.0, 0.0, 0.0, 0.0])
    filters = {"Madgwick": Madgwick(0.1, fs), "Mahony": Mahony(0.5, 0.0, fs), "RobustAhrs": RobustAhrs(fs)}  # fmt: skip
    cases: dict[str, Any] = {
        "imufusion": lambda: fusion.update(gd, ag, m),
        "imufusion+q": lambda: (fusion.update(gd, ag, m), fusion.get_quaternion()),
        "ahrs": lambda: ahrs.updateMARG(q, g, a, m),
    }
    for name, f in filters.items():
        cases[name] = lambda f=f: f.update(g, a, m)
    # CPU time of this process: other jobs on the machine do not count
    clock = time.process_time
    one = interleaved_medians(
        cases, repeat=5 if quick else 15, budget=0.01 if quick else 0.02, clock=clock
    )
    for name in filters:
        report.add(
            f"{name} update() one sample, MARG", "time per call", "us", one[name] * 1e6,
            peers={
                "imufusion update()": one["imufusion"] * 1e6,
                "imufusion update()+get_quaternion()": one["imufusion+q"] * 1e6,
                "ahrs Madgwick": one["ahrs"] * 1e6,
            },
            target="<= imufusion (ours returns the quaternion)",
        )  # fmt: skip
    # batch per sample against imufusion's call, timed in alternation within each
    # repetition: the ratio of each repetition compares runs seconds apart
    calls = max(1, int(0.02 / one["imufusion"]))
    times: dict[str, list[float]] = {"imufusion": [], **{name: [] for name in filters}}
    for _ in range(7 if quick else 21):
        times["imufusion"].append(time_per_call(cases["imufusion"], number=calls, clock=clock))
        for name, f in filters.items():
            per = time_per_call(lambda f=f: f.update_batch(gyr, acc, mag), number=1, clock=clock)
            times[name].append(per / n)
    fusion_call = statistics.median(times["imufusion"])
    for name in filters:
        ratios = [a / b for a, b in zip(times["imufusion"], times[name], strict=True)]
        report.add(
            f"{name} update_batch, MARG", "time per sample", "us",
            statistics.median(times[name]) * 1e6,
            peers={"imufusion per call": fusion_call * 1e6},
            target=f">= 10x imufusion (per repetition {min(ratios):.1f}-{max(ratios):.1f}x, median {statistics.median(ratios):.1f}x)",
        )  # fmt: skip


def rows(report: Report, quick: bool) -> None:
    """Every fusion row."""
    speed_rows(report, quick)
    broad_rows(report, quick)


def plot_heading(out: Path, name: str = "28_disturbed_stationary_magnet_A") -> None:
    """Heading error over one BROAD trial (Madgwick at BROAD's best beta, x-io's Fusion,
    RobustAhrs) above the magnetometer norm: the picture in docs/analytics.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgekit.analytics import Madgwick, RobustAhrs, broad_error_angles

    d = load_trial(name)
    t = np.arange(d["gyr"].shape[0]) / d["fs"]
    args = (d["gyr"], d["acc"], d["mag"])
    madgwick = Madgwick(0.12, d["fs"], variant="c2012")
    runs = {
        "Madgwick (beta 0.12, BROAD's reference)": madgwick.update_batch(*args),
        "imufusion (x-io Fusion)": imufusion_run(d),
        "RobustAhrs": RobustAhrs(d["fs"]).update_batch(*args),
    }
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[3, 1])
    for label, q in runs.items():
        ax1.plot(t, np.degrees(broad_error_angles(q, d["truth"])[:, 1]), lw=0.8, label=label)
    ax1.set_ylabel("heading error (deg)")
    ax1.set_title(f"BROAD {name}")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.plot(t, np.linalg.norm(d["mag"], axis=1), lw=0.8, color="k")
    ax2.set_ylabel("|mag| (uT)")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    import argparse

    from benchmarks._common import pin_threads

    pin_threads()
    parser = argparse.ArgumentParser(description="IMU fusion: BROAD accuracy and speed")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for CI")
    parser.add_argument("--plot", type=Path, help="only draw the heading plot to this PNG")
    args = parser.parse_args()
    if args.plot:
        plot_heading(args.plot)
    else:
        report = Report("analytics_fusion", quick=args.quick)
        rows(report, args.quick)
        report.finish()
