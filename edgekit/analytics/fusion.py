"""IMU sensor fusion: orientation from gyroscope, accelerometer and magnetometer samples.

Filters:

- :class:`Madgwick` (Madgwick 2010, gradient descent; IMU and MARG),
- :class:`Mahony` (Mahony 2008, explicit complementary filter with integral feedback),
- :class:`RobustAhrs`, this layer's filter: inclination and heading corrected apart
  (an accelerometer never turns the heading, a magnetometer never tilts), the
  accelerometer low-passed in an almost inertial frame so that linear accelerations
  average out, magnetic disturbances rejected by the field's norm and dip, and the
  gyroscope bias learnt while the sensor rests (the ideas of Laidig & Seel's VQF, 2022);
- :class:`Complementary` and :class:`Kalman1D` for one axis (angle from a rate and an
  absolute angle measurement).

Units: gyroscope rad/s; accelerometer m/s^2 or g (only its direction is used);
magnetometer any unit. Quaternions are ``(w, x, y, z)``, unit norm, rotating sensor
coordinates into the **ENU** earth frame (x east, y magnetic north, z up), the frame of
BROAD's optical ground truth. Without ``q0`` a filter starts from its first sample's
accelerometer (inclination) and magnetometer (heading; without one the heading starts
at 0), as BROAD's reference evaluation does, and then processes that sample.

Every filter carries its state across calls: ``update_batch`` over a stream cut into
blocks of any size gives the same quaternions as over the whole stream, and so do
per-sample ``update`` calls. ``state()`` returns versioned, checksummed bytes that
``from_state`` resumes from.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import struct
from types import ModuleType
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["Complementary", "Kalman1D", "Madgwick", "Mahony", "RobustAhrs"]

F = TypeVar("F", bound="_Filter")

_MAGIC = b"EKIF"
_VERSION = 2  # 2: RobustAhrs keeps its fields as vectors, has 33 state values
_PREFIX = struct.Struct("<4sHI")
_NO_MAG = np.zeros(0)
_NO_MAG_2D = np.zeros((0, 3))
# quarter turn about z: ENU <- north-west-up (Madgwick's and Mahony's internal frame)
_H = math.sqrt(0.5)


@functools.cache
def _k() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.fusion")


def _xxh3_64(data: bytes | memoryview) -> int:
    import xxhash

    return int(xxhash.xxh3_64_intdigest(data))


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    return v


def _non_negative(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= 0.0):
        raise InvalidInputError(f"{name} must be a number >= 0, got {value!r}")
    return v


def _rows(name: str, x: ArrayLike, n: int | None) -> NDArray[np.float64]:
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numbers, shape (n, 3): {exc}") from exc
    if a.ndim != 2 or a.shape[1] != 3:
        raise InvalidInputError(f"{name} must have shape (n, 3), got {a.shape}")
    if n is not None and a.shape[0] != n:
        raise InvalidInputError(f"{name} has {a.shape[0]} rows, the gyroscope {n}")
    return a


def _vec(name: str, x: ArrayLike) -> NDArray[np.float64]:
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be 3 numbers: {exc}") from exc
    if a.shape != (3,):
        raise InvalidInputError(f"{name} must have shape (3,), got {a.shape}")
    return a


def _unit_quat(q0: ArrayLike) -> NDArray[np.float64]:
    q = np.asarray(q0, dtype=np.float64)
    n = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
    if not (math.isfinite(n) and n > 0.0):
        raise InvalidInputError(f"q0 must be a non-zero quaternion (w, x, y, z), got {q0!r}")
    return q / n


def _raise_code(code: float, row: int | None = None) -> None:
    """Raise the error a kernel's code names."""
    k = _k()
    where = "" if row is None else f" (row {row})"
    if code == k.ERR_SHAPE:
        raise InvalidInputError("gyr, acc and mag must each have shape (3,)")
    if code == k.ERR_FINITE:
        raise InvalidInputError(f"a sample is NaN or infinite{where}")
    if code == k.ERR_GYR:
        raise InvalidInputError(
            f"a gyroscope rate exceeds {k.GYR_MAX:g} rad/s{where}: give rad/s, not deg/s"
        )
    raise InvalidInputError(f"the filter's orientation is not finite{where}: reset() it")


class _Filter:
    """Shared plumbing of the three-axis filters: settings ``_p`` and state ``_s`` arrays
    that the kernels ``<_kind>_batch`` and ``<_kind>_one`` carry."""

    _kind: ClassVar[str]
    _state_size: ClassVar[int]
    _scratch: ClassVar[int] = 0  # values after the state that the one-sample kernel uses

    sample_rate: float
    _p: NDArray[np.float64]
    _s: NDArray[np.float64]
    _sp: NDArray[np.float64]
    _q0: NDArray[np.float64] | None

    def _init(self, sample_rate: float, q0: ArrayLike | None) -> None:
        self.sample_rate = _positive("sample_rate", sample_rate)
        self._q0 = None if q0 is None else _unit_quat(q0)
        # settings and state in one array (one argument less for the one-sample kernel)
        self._sp = np.concatenate([self._p, np.zeros(self._state_size + self._scratch)])
        self._p = self._sp[: self._p.size]
        self._s = self._sp[self._p.size : self._p.size + self._state_size]
        k = _k()
        self._one = getattr(k, f"{self._kind}_one")
        self._batch = getattr(k, f"{self._kind}_batch")
        self.reset()

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def _upgrade(s: NDArray[np.float64], version: int) -> NDArray[np.float64]:
        """State values of an older ``state()`` version in this version's layout."""
        return s

    def reset(self) -> None:
        """Forget the stream: back to the state right after construction."""
        self._s[:] = 0.0
        if self._q0 is not None:
            self._set_orientation(self._q0)

    def _set_orientation(self, q: NDArray[np.float64]) -> None:
        # ENU -> north-west-up: conjugate quarter turn about z, times q
        w, x, y, z = q
        self._s[0] = 1.0
        self._s[1:5] = (_H * w + _H * z, _H * x + _H * y, _H * y - _H * x, _H * z - _H * w)

    @property
    def quaternion(self) -> NDArray[np.float64]:
        """The current ENU orientation ``(w, x, y, z)`` (identity before the first sample
        when no ``q0`` was given)."""
        if self._s[0] == 0.0:
            return np.array([1.0, 0.0, 0.0, 0.0])
        w, x, y, z = self._s[1:5]
        return np.array([_H * w - _H * z, _H * x - _H * y, _H * y + _H * x, _H * z + _H * w])

    def update(
        self, gyr: ArrayLike, acc: ArrayLike, mag: ArrayLike | None = None
    ) -> tuple[float, float, float, float]:
        """One sample: gyroscope (rad/s), accelerometer, optional magnetometer, each (3,).
        Returns the ENU quaternion ``(w, x, y, z)`` after it, a tuple of floats (one numba
        call, no array built; ``update_batch`` returns arrays)."""
        try:
            q = self._one(self._sp, gyr, acc, _NO_MAG if mag is None else mag)
        except TypeError:  # not float64 C arrays: convert, check, call again
            m = _NO_MAG if mag is None else _vec("mag", mag)
            q = self._one(self._sp, _vec("gyr", gyr), _vec("acc", acc), m)
        if q[0] != q[0]:  # NaN: the kernel's error code is in q[1]
            _raise_code(q[1])
        return q  # type: ignore[no-any-return]

    def update_batch(
        self, gyr: ArrayLike, acc: ArrayLike, mag: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Samples in rows: gyroscope (rad/s), accelerometer, optional magnetometer, each
        (n, 3). Returns the ENU quaternions after each sample, (n, 4). Nothing is consumed
        when a sample is bad (NaN, a rate too large for rad/s)."""
        g = _rows("gyr", gyr, None)
        n = g.shape[0]
        a = _rows("acc", acc, n)
        m = _NO_MAG_2D if mag is None else _rows("mag", mag, n)
        use_mag = mag is not None
        k = _k()
        code, row = k.check_batch(g, a, m, use_mag)
        if code:
            _raise_code(int(code), int(row))
        out = np.empty((n, 4))
        self._batch(self._s, self._p, g, a, m, use_mag, out)
        return out

    # -- resumable state -----------------------------------------------------------------

    def state(self) -> bytes:
        """The filter's settings and state as versioned, checksummed bytes."""
        header = json.dumps(
            {
                "class": type(self).__name__,
                "params": {**self._params(), "q0": None if self._q0 is None else self._q0.tolist()},
                "n": int(self._s.size),
            },
            sort_keys=True,
        ).encode()
        body = _PREFIX.pack(_MAGIC, _VERSION, len(header)) + header + self._s.tobytes()
        return body + struct.pack("<Q", _xxh3_64(body))

    @classmethod
    def from_state(cls: type[F], data: bytes) -> F:
        """Rebuild a filter from ``state()`` bytes; CorruptDataError when they are not."""
        name = cls.__name__
        try:
            buf = memoryview(data).cast("B")
        except TypeError as exc:
            raise CorruptDataError(f"{name} state must be bytes, got {type(data)}") from exc
        if len(buf) < _PREFIX.size + 8:
            raise CorruptDataError(f"{name} state is truncated ({len(buf)} bytes)")
        (check,) = struct.unpack_from("<Q", buf, len(buf) - 8)
        if check != _xxh3_64(buf[:-8]):
            raise CorruptDataError(f"{name} state checksum mismatch (corrupt or truncated)")
        magic, version, hlen = _PREFIX.unpack_from(buf, 0)
        if magic != _MAGIC:
            raise CorruptDataError(f"not a fusion filter state (magic {bytes(magic)!r})")
        if version not in (1, _VERSION):
            raise CorruptDataError(f"{name} state version {version} is not supported")
        end = _PREFIX.size + hlen
        try:
            header = json.loads(bytes(buf[_PREFIX.size : end]))
            if header["class"] != name:
                raise CorruptDataError(f"state of a {header['class']!r}, not of {name}")
            f = cls(**header["params"])
        except CorruptDataError:
            raise
        except (ValueError, KeyError, TypeError, InvalidInputError) as exc:
            raise CorruptDataError(f"{name} state has a bad header: {exc}") from exc
        if end > len(buf) - 8 or (len(buf) - 8 - end) % 8:
            raise CorruptDataError(f"{name} state body is not whole float64 values")
        s = np.frombuffer(buf[end:-8], dtype="<f8")
        if header.get("n") != s.size:
            raise CorruptDataError(f"{name} state has {s.size} values, its header says {header.get('n')}")  # fmt: skip
        s = f._upgrade(s, version)
        if s.size != f._s.size:
            raise CorruptDataError(f"{name} state has {s.size} values, not {f._s.size}")
        if not (np.isfinite(s).all() and s[0] in (0.0, 1.0, 2.0)):
            raise CorruptDataError(f"{name} state holds values no filter has (NaN, a bad flag)")
        f._s[:] = s
        return f


class Madgwick(_Filter):
    """Madgwick's gradient-descent filter (IMU without ``mag``, MARG with it).

    ``beta``: the gradient step, rad/s (Madgwick's beta; BROAD's best single setting is
    0.12). ``sample_rate``: Hz. ``q0``: the starting ENU orientation, or None to start from
    the first sample. ``variant="paper"`` follows the paper's equations (the same as
    ``ahrs.filters.Madgwick``); ``variant="c2012"`` is Madgwick's C code of 2012 that
    BROAD's evaluation ran, whose earth field reference ``(bx, bz)`` is half the paper's
    (github.com/dlaidig/broad issue 1); it reproduces BROAD's published figures.
    """

    _kind = "madgwick"
    _state_size = 5
    _VARIANTS: ClassVar[dict[str, float]] = {"paper": 2.0, "c2012": 1.0}

    def __init__(
        self,
        beta: float = 0.1,
        sample_rate: float = 100.0,
        *,
        variant: str = "paper",
        q0: ArrayLike | None = None,
    ) -> None:
        if variant not in self._VARIANTS:
            raise InvalidInputError(f"variant must be 'paper' or 'c2012', got {variant!r}")
        self.beta = _non_negative("beta", beta)
        self.variant = variant
        self._p = np.array([self.beta, 1.0 / _positive("sample_rate", sample_rate), self._VARIANTS[variant]])  # fmt: skip
        self._init(sample_rate, q0)

    def _params(self) -> dict[str, Any]:
        return {"beta": self.beta, "sample_rate": self.sample_rate, "variant": self.variant}


class Mahony(_Filter):
    """Mahony's explicit complementary filter as in Madgwick's C implementation.

    ``kp``: proportional gain, rad/s per unit error; ``ki``: integral gain (the gyroscope
    bias it learns is :attr:`bias`, rad/s); ``sample_rate``: Hz; ``q0`` as for
    :class:`Madgwick`. BROAD's best single setting is ``kp=0.74, ki=0.0012``.
    """

    _kind = "mahony"
    _state_size = 8

    def __init__(
        self,
        kp: float = 0.5,
        ki: float = 0.0,
        sample_rate: float = 100.0,
        *,
        q0: ArrayLike | None = None,
    ) -> None:
        self.kp = _non_negative("kp", kp)
        self.ki = _non_negative("ki", ki)
        self._p = np.array([2.0 * self.kp, 2.0 * self.ki, 1.0 / _positive("sample_rate", sample_rate)])  # fmt: skip
        self._init(sample_rate, q0)

    def _params(self) -> dict[str, Any]:
        return {"kp": self.kp, "ki": self.ki, "sample_rate": self.sample_rate}

    @property
    def bias(self) -> NDArray[np.float64]:
        """The gyroscope bias the integral feedback has learnt, rad/s (sensor axes)."""
        return np.negative(self._s[5:8])


class RobustAhrs(_Filter):
    """Inclination and heading corrected apart, with disturbance rejection and gyroscope
    bias estimation (see the module docstring).

    ``sample_rate``: Hz. ``tau_acc``: time constant of the accelerometer low-pass in the
    almost inertial frame, s (longer trusts the gyroscope more in accelerated motion).
    ``tau_mag``: time constant of the heading correction, s. ``mag_norm_tol`` (fraction of
    the reference norm) and ``mag_dip_tol_deg``: how far the field may move from its
    reference before it counts as disturbed and is ignored. The first reference is the
    first field that stays steady for ``mag_first_ref_s`` (the heading follows the field
    until then); a steady new field replaces it after ``mag_new_ref_s``, and after
    ``mag_max_reject_s`` of disturbance the heading follows the field again at half the
    rate. ``rest_gyr_dps``,
    ``rest_time_s``: the sensor rests when the gyroscope stays within ``rest_gyr_dps``
    deg/s of its 0.5 s average (and the accelerometer within 5 %) for ``rest_time_s``;
    the bias then follows the average with time constant ``tau_bias`` s.
    ``correction_hz``: the inclination and heading corrections (and the magnetic checks)
    run on every k-th sample, k = ``sample_rate // correction_hz`` (at least 1); the
    gyroscope, the accelerometer low-pass and the rest detection take every sample.
    ``q0`` as for :class:`Madgwick`.
    """

    _kind = "robust"
    _state_size = 33
    _scratch = 4

    def __init__(
        self,
        sample_rate: float = 100.0,
        *,
        tau_acc: float = 3.0,
        tau_mag: float = 9.0,
        mag_norm_tol: float = 0.1,
        mag_dip_tol_deg: float = 10.0,
        mag_new_ref_s: float = 20.0,
        mag_first_ref_s: float = 5.0,
        mag_max_reject_s: float = 60.0,
        rest_gyr_dps: float = 2.0,
        rest_time_s: float = 1.5,
        tau_bias: float = 1.0,
        correction_hz: float = 50.0,
        q0: ArrayLike | None = None,
    ) -> None:
        rate = _positive("sample_rate", sample_rate)
        dt = 1.0 / rate
        hz = _positive("correction_hz", correction_hz)
        every = max(1, int(rate / hz + 1e-9))  # corrections at hz or a little faster
        dt_c = every * dt
        self._settings = {
            "tau_acc": _positive("tau_acc", tau_acc),
            "tau_mag": _positive("tau_mag", tau_mag),
            "mag_norm_tol": _positive("mag_norm_tol", mag_norm_tol),
            "mag_dip_tol_deg": _positive("mag_dip_tol_deg", mag_dip_tol_deg),
            "mag_new_ref_s": _positive("mag_new_ref_s", mag_new_ref_s),
            "mag_first_ref_s": _positive("mag_first_ref_s", mag_first_ref_s),
            "mag_max_reject_s": _positive("mag_max_reject_s", mag_max_reject_s),
            "rest_gyr_dps": _positive("rest_gyr_dps", rest_gyr_dps),
            "rest_time_s": _non_negative("rest_time_s", rest_time_s),
            "tau_bias": _positive("tau_bias", tau_bias),
            "correction_hz": hz,
        }
        c = self._settings

        def gain(tau: float, step: float = dt) -> float:
            return 1.0 - math.exp(-step / tau)

        self._p = np.array(
            [
                dt,
                gain(c["tau_acc"]),
                gain(c["tau_mag"], dt_c),
                gain(0.5),  # rest detection averages
                math.radians(c["rest_gyr_dps"]),
                0.05,  # accelerometer deviation at rest, fraction of its norm
                c["rest_time_s"],
                gain(c["tau_bias"]),
                max(0.0, 1.0 - c["mag_norm_tol"]) ** 2,  # the field's norm, squared bounds
                (1.0 + c["mag_norm_tol"]) ** 2,
                gain(20.0, dt_c),  # the field reference follows an undisturbed field
                c["mag_new_ref_s"],
                c["mag_max_reject_s"],
                gain(2.0 * c["tau_mag"], dt_c),
                c["mag_first_ref_s"],
                math.cos(math.radians(min(c["mag_dip_tol_deg"], 180.0))),
                float(every),
            ]
        )
        self._init(sample_rate, q0)

    def _params(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, **self._settings}

    @staticmethod
    def _upgrade(s: NDArray[np.float64], version: int) -> NDArray[np.float64]:
        if version == 1 and s.size == 32:  # fields as (norm, dip); no correction countdown
            s = np.append(s, 0.0)
            for j in (23, 26):
                norm, dip = s[j], s[j + 1]
                s[j], s[j + 1] = norm * math.cos(dip), norm * math.sin(dip)
        return s

    def _set_orientation(self, q: NDArray[np.float64]) -> None:
        self._s[0] = 2.0  # given: the first sample primes the averages, keeps q
        self._s[5:9] = q
        self._s[9] = 1.0  # heading turn: none

    @property
    def quaternion(self) -> NDArray[np.float64]:
        """The current ENU orientation ``(w, x, y, z)``."""
        if self._s[0] == 0.0:
            return np.array([1.0, 0.0, 0.0, 0.0])
        if self._s[0] == 2.0:
            return np.array(self._s[5:9])
        return np.array(_k()._robust_out(self._s))

    @property
    def bias(self) -> NDArray[np.float64]:
        """The gyroscope bias learnt at rest, rad/s (sensor axes)."""
        return np.array(self._s[13:16])


class _Axis:
    """Single-axis filters: angle (rad) from a rate (rad/s) and a measured angle (rad)."""

    _kind: ClassVar[str]
    _s: NDArray[np.float64]
    _p: NDArray[np.float64]

    def update(self, rate: float, angle: float) -> float:
        """One sample: the rate (rad/s) and the measured angle (rad); returns the angle."""
        return float(self.update_batch([rate], [angle])[0])

    def update_batch(self, rate: ArrayLike, angle: ArrayLike) -> NDArray[np.float64]:
        """Rates (rad/s) and measured angles (rad), (n,) each; the angle after each, (n,)."""
        r = np.ascontiguousarray(rate, dtype=np.float64)
        a = np.ascontiguousarray(angle, dtype=np.float64)
        if r.ndim != 1 or a.shape != r.shape:
            raise InvalidInputError(f"rate and angle must have one shape (n,), got {r.shape}, {a.shape}")  # fmt: skip
        if not (np.isfinite(r).all() and np.isfinite(a).all()):
            raise InvalidInputError("rate and angle must be finite numbers")
        out = np.empty(r.shape[0])
        getattr(_k(), f"{self._kind}_batch")(self._s, self._p, r, a, out)
        return out

    def reset(self) -> None:
        """Forget the stream."""
        self._s[:] = 0.0


class Complementary(_Axis):
    """``angle = a (angle + rate dt) + (1 - a) measured`` with ``a = tau / (tau + dt)``:
    the gyroscope above ``1 / (2 pi tau)`` Hz, the measurement below. ``tau``: s;
    ``sample_rate``: Hz. Starts at the first measured angle."""

    _kind = "complementary"

    def __init__(self, tau: float = 1.0, sample_rate: float = 100.0) -> None:
        self.tau = _positive("tau", tau)
        self.sample_rate = _positive("sample_rate", sample_rate)
        dt = 1.0 / self.sample_rate
        self._p = np.array([self.tau / (self.tau + dt), dt])
        self._s = np.zeros(2)


class Kalman1D(_Axis):
    """Linear Kalman filter of the angle and the gyroscope bias on one axis.

    ``q_angle``: process noise of the angle, rad^2/s; ``q_bias``: of the bias,
    (rad/s)^2/s; ``r``: variance of the measured angle, rad^2; ``sample_rate``: Hz.
    Starts at the first measured angle with zero covariance. :attr:`bias` is the
    estimated rate bias, rad/s.
    """

    _kind = "kalman"

    def __init__(
        self,
        q_angle: float = 1e-3,
        q_bias: float = 3e-3,
        r: float = 3e-2,
        sample_rate: float = 100.0,
    ) -> None:
        self.q_angle = _non_negative("q_angle", q_angle)
        self.q_bias = _non_negative("q_bias", q_bias)
        self.r = _positive("r", r)
        self.sample_rate = _positive("sample_rate", sample_rate)
        self._p = np.array([self.q_angle, self.q_bias, self.r, 1.0 / self.sample_rate])
        self._s = np.zeros(7)

    @property
    def bias(self) -> float:
        """The estimated rate bias, rad/s."""
        return float(self._s[2])


def _warmup() -> None:
    """Compile (or load from numba's cache) every fusion kernel on tiny inputs; for the
    layer's warm-up."""
    g = np.zeros((2, 3))
    a = np.tile([0.0, 0.0, 9.81], (2, 1))
    m = np.tile([0.0, 20.0, -40.0], (2, 1))
    for f in (Madgwick(), Mahony(), RobustAhrs()):
        f.update_batch(g, a, m)
        f.update_batch(g, a)
        f.update(g[0], a[0], m[0])
        _ = f.quaternion
    Complementary().update_batch(g[:, 0], g[:, 1])
    Kalman1D().update_batch(g[:, 0], g[:, 1])
