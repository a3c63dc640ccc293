"""The protocol every anomaly detector of ``edgekit.analytics`` follows: :class:`Detector`.

A detector is fitted on normal data, then scores samples in batches (``score``,
``predict``) or one at a time (``update``), carrying its state across calls: feeding a
stream in blocks of any size gives the same scores and alarms as feeding it whole.
Scores are float64, higher is more anomalous; NaN where the detector has no score yet
(warm-up) or the sample was NaN. A NaN sample (any NaN in a multivariate row) is
skipped: it leaves the model unchanged, scores NaN, and the alarm keeps its value.

Alarms have hysteresis: an alarm turns on when the score rises above ``threshold`` and
off when it falls below ``threshold * hysteresis`` (``hysteresis`` in (0, 1]; 1.0, the
default, is a plain threshold).

``state()`` gives versioned, checksummed bytes from which ``from_state`` rebuilds the
detector exactly (parameters, model, threshold, alarm), so a restarted process resumes
where it was. The layout (little-endian)::

    b"EKAD"  u16 version  u32 header length  header (JSON)  array bytes  u64 xxh3_64

The header names the class, its constructor parameters, the threshold settings and
each state array (name, dtype, shape) in order; the checksum covers everything before
it. Bytes that do not pass every check raise :class:`~edgekit.errors.CorruptDataError`.
"""

from __future__ import annotations

import abc
import functools
import importlib
import json
import math
import struct
from types import ModuleType
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["Detector"]

D = TypeVar("D", bound="Detector")

_MAGIC = b"EKAD"
_VERSION = 1
_PREFIX = struct.Struct("<4sHI")
# The dtypes a state array may have (anything else in a header is corrupt).
_DTYPES = {
    "<f8": np.float64,
    "<i8": np.int64,
    "<u8": np.uint64,
    "|u1": np.uint8,
    "|b1": np.bool_,
}


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.detectors")


def _xxh3_64(data: bytes | memoryview) -> int:
    import xxhash

    return int(xxhash.xxh3_64_intdigest(data))


def _positive_fraction(name: str, value: float, *, closed_high: bool) -> float:
    v = float(value)
    if not (0.0 < v < 1.0 or (closed_high and v == 1.0)):
        interval = "(0, 1]" if closed_high else "(0, 1)"
        raise InvalidInputError(f"{name} must be in {interval}, got {value!r}")
    return v


class Detector(abc.ABC):
    """Fit on normal data, then score/predict in batch or update one sample at a time.

    Args (shared by every detector, keyword-only):
        quantile: fit() sets ``threshold`` to this quantile of the training scores.
        contamination: the expected fraction of anomalies in the training data; when
            set, fit() uses the ``1 - contamination`` quantile instead of ``quantile``.
        threshold: a threshold set by hand; fit() then keeps it.
        hysteresis: alarms turn off below ``threshold * hysteresis``, in (0, 1].

    Attributes:
        threshold: the alarm threshold (score units); None before fit() unless set.
        n_features: columns per sample (1 for univariate detectors).
    """

    #: True: one column per sample; False: rows of ``n_features`` columns, learnt by fit().
    univariate: ClassVar[bool] = True

    def __init__(
        self,
        *,
        quantile: float = 0.995,
        contamination: float | None = None,
        threshold: float | None = None,
        hysteresis: float = 1.0,
    ) -> None:
        self.quantile = _positive_fraction("quantile", quantile, closed_high=True)
        self.contamination = (
            None
            if contamination is None
            else _positive_fraction("contamination", contamination, closed_high=False)
        )
        self.hysteresis = _positive_fraction("hysteresis", hysteresis, closed_high=True)
        if threshold is not None and not math.isfinite(float(threshold)):
            raise InvalidInputError(f"threshold must be finite, got {threshold!r}")
        self.threshold: float | None = None if threshold is None else float(threshold)
        self._fixed_threshold = threshold is not None
        self.n_features = 1
        self._alarm = False

    # ---- what a detector implements -------------------------------------------------

    @abc.abstractmethod
    def _fit(self, X: np.ndarray) -> np.ndarray:
        """Learn from ``X`` (checked, float64, C-contiguous) and return its training scores."""

    @abc.abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Scores of ``X`` (checked, float64, C-contiguous), carrying the state."""

    @abc.abstractmethod
    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Score one sample (a float, or a row of ``n_features``): (score, alarm)."""

    @abc.abstractmethod
    def _reset_model(self) -> None:
        """Forget the stream: the model warms up again (parameters, such as trees, stay)."""

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor arguments (JSON values) that rebuild this detector unfitted."""

    @abc.abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The state arrays (float64, int64, uint64, uint8 or bool)."""

    @abc.abstractmethod
    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Take the arrays of ``_arrays()`` back; raise CorruptDataError when a name,
        dtype or shape does not fit the parameters."""

    # ---- the protocol ---------------------------------------------------------------

    def _check(self, X: ArrayLike, *, fitting: bool = False) -> np.ndarray:
        """``X`` as float64 C-contiguous: ``(n,)`` for univariate, ``(n, d)`` otherwise."""
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"samples must be numbers: {exc}") from exc
        name = type(self).__name__
        if self.univariate:
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise InvalidInputError(
                    f"{name} is univariate: samples must have shape (n,) or (n, 1), got {arr.shape}"
                )
        else:
            if arr.ndim == 1 and fitting:
                arr = arr[:, None]
            if arr.ndim != 2:
                raise InvalidInputError(
                    f"{name} takes rows of features: shape (n, d), got {arr.shape}"
                )
            if not fitting and arr.shape[1] != self.n_features:
                raise InvalidInputError(
                    f"{name} was fitted on {self.n_features} features, got {arr.shape[1]}"
                )
        if np.isinf(arr).any():
            raise InvalidInputError(f"samples contain infinity ({name} skips NaN only)")
        return np.ascontiguousarray(arr)

    def fit(self: D, X: ArrayLike) -> D:
        """Learn the model from normal data ``X`` (``(n,)`` or ``(n, d)``), and the
        threshold from its scores; the state then continues from the end of ``X``."""
        arr = self._check(X, fitting=True)
        if arr.shape[0] == 0:
            raise InvalidInputError(f"{type(self).__name__}.fit needs at least one sample")
        if not self.univariate:
            self.n_features = int(arr.shape[1])
        self._alarm = False
        scores = self._fit(arr)
        if not self._fixed_threshold:
            finite = scores[np.isfinite(scores)]
            if finite.size == 0:
                raise InvalidInputError(
                    f"{type(self).__name__}.fit: no finite training score to learn a threshold "
                    f"from ({arr.shape[0]} samples; give more, or set threshold=)"
                )
            q = 1.0 - self.contamination if self.contamination is not None else self.quantile
            self.threshold = float(np.quantile(finite, q))
        return self

    def score(self, X: ArrayLike) -> np.ndarray:
        """Scores of the samples ``X``, one per row, carrying the state across calls."""
        return self._score(self._check(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Alarms (bool) of the samples ``X``, with hysteresis, carrying the state."""
        if self.threshold is None:
            raise InvalidInputError(
                f"{type(self).__name__} has no threshold: call fit() or set threshold"
            )
        scores = self.score(X)
        alarms, self._alarm = _kernels().hysteresis(
            scores, self.threshold, self.threshold * self.hysteresis, self._alarm
        )
        return np.asarray(alarms)

    def _alarm_of(self, s: float) -> bool:
        """The alarm after score ``s`` (the hysteresis step of ``update``)."""
        t = self.threshold
        if t is not None:
            if s > t:
                self._alarm = True
            elif s < t * self.hysteresis:
                self._alarm = False
        return self._alarm

    def reset(self) -> None:
        """Forget the stream and the alarm: the detector warms up again; the threshold
        (and parameters such as HalfSpaceTrees' trees) stay."""
        self._alarm = False
        self._reset_model()

    # ---- persistence ----------------------------------------------------------------

    def state(self) -> bytes:
        """The detector as versioned, checksummed bytes (see the module doc)."""
        arrays = self._arrays()
        descr = []
        blobs = []
        for key, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
            if dt.str not in _DTYPES:
                raise InvalidInputError(f"state array {key!r} has unsupported dtype {dt}")
            descr.append([key, dt.str, list(a.shape)])
            blobs.append(a.astype(dt.str, copy=False).tobytes())
        header = json.dumps(
            {
                "class": type(self).__name__,
                "params": self._params(),
                "base": {
                    "quantile": self.quantile,
                    "contamination": self.contamination,
                    "hysteresis": self.hysteresis,
                    "threshold": self.threshold,
                    "fixed_threshold": self._fixed_threshold,
                    "n_features": self.n_features,
                    "alarm": self._alarm,
                },
                "arrays": descr,
            },
            sort_keys=True,
        ).encode()
        body = _PREFIX.pack(_MAGIC, _VERSION, len(header)) + header + b"".join(blobs)
        return body + struct.pack("<Q", _xxh3_64(body))

    @classmethod
    def from_state(cls: type[D], data: bytes) -> D:
        """Rebuild a detector from ``state()`` bytes; CorruptDataError when they are not."""
        name = cls.__name__
        try:
            buf = memoryview(bytes(data))
        except TypeError as exc:
            raise CorruptDataError(f"{name} state must be bytes, got {type(data)}") from exc
        if len(buf) < _PREFIX.size + 8:
            raise CorruptDataError(f"{name} state is truncated ({len(buf)} bytes)")
        (check,) = struct.unpack_from("<Q", buf, len(buf) - 8)
        if _xxh3_64(buf[:-8]) != check:
            raise CorruptDataError(f"{name} state checksum mismatch (corrupt or truncated)")
        magic, version, hlen = _PREFIX.unpack_from(buf, 0)
        if magic != _MAGIC:
            raise CorruptDataError(f"not a detector state (magic {bytes(magic)!r})")
        if version != _VERSION:
            raise CorruptDataError(f"{name} state version {version} is not supported")
        end = _PREFIX.size + hlen
        if end > len(buf) - 8:
            raise CorruptDataError(f"{name} state header overruns the data")
        try:
            header = json.loads(bytes(buf[_PREFIX.size : end]))
            if header["class"] != name:
                raise CorruptDataError(f"state of a {header['class']!r}, not of {name}")
            base = header["base"]
            try:
                det = cls(
                    **header["params"],
                    quantile=base["quantile"],
                    contamination=base["contamination"],
                    hysteresis=base["hysteresis"],
                    threshold=base["threshold"] if base["fixed_threshold"] else None,
                )
            except InvalidInputError as exc:
                raise CorruptDataError(f"{name} state has bad parameters: {exc}") from exc
            if base["threshold"] is not None:
                det.threshold = float(base["threshold"])
                if not math.isfinite(det.threshold):
                    raise CorruptDataError(f"{name} state has threshold {det.threshold}")
            n_features = base["n_features"]
            if type(n_features) is not int or not 1 <= n_features <= 1 << 20:
                raise CorruptDataError(f"{name} state has n_features {n_features!r}")
            if det.univariate and n_features != 1:
                raise CorruptDataError(f"{name} state has n_features {n_features} (univariate)")
            det.n_features = n_features
            det._alarm = bool(base["alarm"])
            arrays: dict[str, np.ndarray] = {}
            pos = end
            for key, dt, shape in header["arrays"]:
                if dt not in _DTYPES or not all(type(s) is int and s >= 0 for s in shape):
                    raise CorruptDataError(f"{name} state array {key!r}: bad dtype or shape")
                n = math.prod(shape) * np.dtype(dt).itemsize
                if pos + n > len(buf) - 8:
                    raise CorruptDataError(f"{name} state array {key!r} overruns the data")
                arrays[str(key)] = (
                    np.frombuffer(buf[pos : pos + n], dtype=dt).reshape(shape).astype(_DTYPES[dt])
                )
                pos += n
            if pos != len(buf) - 8:
                raise CorruptDataError(f"{name} state has {len(buf) - 8 - pos} stray bytes")
            det._load_arrays(arrays)
        except CorruptDataError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise CorruptDataError(f"{name} state header is malformed: {exc!r}") from exc
        return det

    @staticmethod
    def _take(
        arrays: dict[str, np.ndarray], key: str, dtype: Any, shape: tuple[int, ...]
    ) -> np.ndarray:
        """``arrays[key]`` when it has ``dtype`` and ``shape``, else CorruptDataError."""
        arr = arrays.get(key)
        if arr is None or arr.dtype != np.dtype(dtype) or arr.shape != shape:
            got = None if arr is None else (arr.dtype, arr.shape)
            raise CorruptDataError(f"state array {key!r}: expected {dtype} {shape}, got {got}")
        return np.ascontiguousarray(arr)
