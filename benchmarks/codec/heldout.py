"""Held-out check of the codec: real series the corpus never had, measured as the corpus is.

``python -m benchmarks.codec.heldout [--quick]``. The targets of issue #14 are to hold on
data the benchmark never saw; these series were never used to tune the codec:

- NAB (``../shared/data/nab``, MIT licence, github.com/numenta/NAB at ea702d7): seven
  real series (machine and ambient temperature, NYC taxi passengers, CPU utilisation,
  Twitter volume, request latency, traffic speed) and their timestamps as datetime64[ns]
  (5-minute to hourly clocks, with gaps).
- BROAD (``../shared/data/broad``, CC BY 4.0, Laidig et al. 2021): one axis each of the
  gyroscope, accelerometer and magnetometer of three trials, float64 at about 286 Hz.
- Speech from ``espeak-ng`` (int16, 22,050 Hz), where the program is installed.

Series whose source is missing are skipped (the default test run never needs them).
Writes ``benchmarks/results/codec_heldout.md``.
"""

from __future__ import annotations

from benchmarks._common import RESULTS_DIR, pin_threads

pin_threads()

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import wave  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.codec.corpus import Entry  # noqa: E402
from benchmarks.codec.table import markdown, measure  # noqa: E402

Array = np.ndarray[Any, Any]

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NAB_SERIES = (
    ("realKnownCause/machine_temperature_system_failure.csv", "environmental"),
    ("realKnownCause/ambient_temperature_system_failure.csv", "environmental"),
    ("realKnownCause/nyc_taxi.csv", "counter"),
    ("realKnownCause/cpu_utilization_asg_misconfiguration.csv", "counter"),
    ("realTweets/Twitter_volume_AAPL.csv", "counter"),
    ("realKnownCause/ec2_request_latency_system_failure.csv", "counter"),
    ("realTraffic/speed_6005.csv", "motion"),
)
BROAD_TRIALS = (
    "01_undisturbed_slow_rotation_A",
    "21_undisturbed_fast_combined",
    "26_disturbed_phone_vibration_A",
)
SPEECH = (
    "The quick brown fox jumps over the lazy dog. Edge devices store sensor series and "
    "timestamps every second of the day."
)


def _entry(name: str, kind: str, source: str, licence: str) -> Entry:
    return Entry(name, kind, source, "", ("",), licence, lambda _paths: np.zeros(0))


def _nab(path: Path) -> tuple[Array, Array]:
    """(timestamps as datetime64[ns], values: int64 where every value is whole)."""
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    stamps = np.array([r[0] for r in rows], dtype="datetime64[ns]")
    values = np.array([float(r[1]) for r in rows])
    if np.all(values == np.round(values)):
        return stamps, values.astype(np.int64)
    return stamps, values


def series() -> Iterator[tuple[Entry, Array]]:
    """The held-out series whose source is here."""
    for rel, kind in NAB_SERIES:
        path = DATA / "nab" / "data" / rel
        if not path.exists():
            continue
        stamps, values = _nab(path)
        name = "nab-" + path.stem.replace("_system_failure", "")
        yield _entry(name, kind, "NAB", "MIT"), values
        yield _entry(name + "-clock", "timestamps", "NAB", "MIT"), stamps
    for trial in BROAD_TRIALS:
        path = DATA / "broad" / f"{trial}.mat"
        if not path.exists():
            continue
        from scipy.io import loadmat

        mat = loadmat(path)
        for key, axis in (("imu_gyr", 0), ("imu_acc", 2), ("imu_mag", 1)):
            x = np.ascontiguousarray(mat[key][:, axis], dtype=np.float64)
            yield _entry(f"broad-{trial[:2]}-{key[4:]}-{axis}", "motion", "BROAD", "CC BY 4.0"), x
    espeak = shutil.which("espeak-ng")
    if espeak:
        wav = subprocess.run([espeak, "--stdout", SPEECH], capture_output=True, check=True)
        with wave.open(io.BytesIO(wav.stdout)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()
        yield _entry("espeak-speech", "audio", "espeak-ng", "GPL-3.0 (program)"), pcm


def run(quick: bool = False) -> str:
    import edgekit

    edgekit.warmup(("codec",))
    repeat = 3 if quick else 7
    results = []
    for entry, x in series():
        r = measure(entry, x, repeat)
        results.append(r)
        print(f"  {r.name}: {r.flags()}", file=sys.stderr, flush=True)
    table = markdown(
        results,
        repeat,
        title="codec held-out series",
        source=f"{len(results)} real series the corpus never had (NAB, BROAD, espeak-ng)",
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "codec_heldout.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
