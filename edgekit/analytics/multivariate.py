"""Multivariate anomaly detectors: Hotelling's T-squared and PCA T-squared plus Q (SPE).

Both fit a model of normal operation on rows of several sensors of one machine, then score
each new row by how far it lies from that model; both follow the
:class:`~edgekit.analytics._detector.Detector` protocol (``fit``, ``score``, ``predict``,
``update``, ``state``/``from_state``) and score rows in numba kernels.

- :class:`HotellingT2`: ``T2 = (x - m)' S^-1 (x - m)`` with the training mean ``m`` and the
  covariance ``C`` shrunk towards its diagonal, ``S = (1 - shrinkage) C + shrinkage *
  diag(C)``, so that a collinear sensor does not make it singular (and with no shrinkage,
  a pseudo-inverse).
- :class:`PcaT2Q`: PCA of the standardised training rows; T-squared in the kept
  components and Q, the squared residual off them; each divided by its own limit (the
  ``limit_quantile`` of its training values), the score is the larger of the two, so
  that one threshold covers both.

The raw score of each row is smoothed by an EWMA (``smoothing``, 1.0 for none): on
process data an isolated noisy row then raises no alarm, while a fault, which lasts,
does. The defaults (``smoothing=0.1``, ``shrinkage=0.1``, ``variance=0.9``,
``quantile=0.995``) were chosen on the Tennessee Eastman recordings of
``tests/analytics/data/multi_tep.npz`` (see ``docs/analytics.md``), for the whole class
of data, not per recording.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from edgekit.analytics._detector import Detector
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["HotellingT2", "PcaT2Q"]

# Eigen-directions with variance below this fraction of the largest are dropped.
_RCOND = 1e-12


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.multivariate")


def _fraction(name: str, value: float, *, zero_ok: bool = False) -> float:
    """``value`` as a float in (0, 1] (or [0, 1] when ``zero_ok``), else InvalidInputError."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from exc
    low_ok = v >= 0.0 if zero_ok else v > 0.0
    if not (low_ok and v <= 1.0):
        raise InvalidInputError(f"{name} must be in {'[' if zero_ok else '('}0, 1], got {value!r}")
    return v


def _standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, standardised rows): scale is the standard deviation (``ddof=1``), and 1
    for a constant feature (as scikit-learn's ``StandardScaler``): with no spread to learn
    from, its changes count in its own units (a quantised sensor that sat still during
    training does not alarm on its next step). Constant means every training value equal:
    the rounding of the mean gives such a feature a standard deviation of about 1e-16 of
    its value, not 0, which would make its next change look 1e15 deviations away."""
    mean = rows.mean(axis=0)
    std = rows.std(axis=0, ddof=1)
    scale = np.where(np.ptp(rows, axis=0) > 0, std, 1.0)
    return mean, scale, (rows - mean) / scale


class _Projection(Detector):
    """The shared machinery: a mean, a scale, kept directions, their inverse variances."""

    univariate = False

    def __init__(self, *, smoothing: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.smoothing = _fraction("smoothing", smoothing)
        self._k = _kernels()
        self._set_model(np.zeros(0), np.ones(0), np.zeros((0, 0)), np.zeros(0), 0.0, 0.0)

    def _set_model(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        V: np.ndarray,
        inv_var: np.ndarray,
        t2_limit: float,
        q_limit: float,
    ) -> None:
        """The model, and the smoothed score cleared (see the kernels' ``buf`` layout)."""
        d, k = V.shape
        self._V = np.ascontiguousarray(V, dtype=np.float64)
        self._buf = np.zeros(self._k.size(d, k))
        self._buf[:3] = (t2_limit, q_limit, self.smoothing)
        head = self._k.HEAD
        self._buf[head : head + 2 * d + k] = np.concatenate([mean, scale, inv_var])
        self._shape = (d,)

    def _model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of (mean, scale, inv_var) in ``buf``."""
        d, k = self._V.shape
        head = self._k.HEAD
        b = self._buf
        return b[head : head + d], b[head + d : head + 2 * d], b[head + 2 * d : head + 2 * d + k]

    @property
    def n_components(self) -> int:
        """Directions kept by fit() (0 before)."""
        return int(self._V.shape[1])

    def _need_fit(self) -> None:
        if self._V.shape[0] == 0:
            raise InvalidInputError(f"{type(self).__name__} is not fitted: call fit() first")

    @staticmethod
    def _training_rows(X: np.ndarray, name: str, minimum: int = 2) -> np.ndarray:
        rows: np.ndarray = X[~np.isnan(X).any(axis=1)]
        if rows.shape[0] < minimum:
            raise InvalidInputError(
                f"{name}.fit needs at least {minimum} rows without NaN, got {rows.shape[0]}"
            )
        return rows

    def score(self, X: ArrayLike) -> np.ndarray:
        """Scores of the rows of ``X`` ((n, n_features)), carrying the state."""
        self._need_fit()
        return super().score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._k.t2q(X, self._V, self._buf))

    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Score one row of ``n_features`` values: (score, alarm)."""
        if type(x) is not np.ndarray or x.dtype != np.float64:
            try:
                x = np.asarray(x, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"update() takes one row of numbers: {exc}") from exc
        if x.shape != self._shape or not self._shape[0]:
            self._need_fit()
            raise InvalidInputError(
                f"{type(self).__name__} takes rows of {self._shape[0]} features, "
                f"got shape {x.shape}"
            )
        s = self._k.t2q1(x, self._V, self._buf)
        if s < 0.0:
            raise InvalidInputError(f"row contains infinity ({type(self).__name__} skips NaN only)")
        return s, self._alarm_of(s)

    def _reset_model(self) -> None:
        self._buf[self._k.S] = 0.0
        self._buf[self._k.HAS] = 0.0

    def _arrays(self) -> dict[str, np.ndarray]:
        mean, scale, inv_var = self._model()
        return {
            "mean": mean,
            "scale": scale,
            "directions": self._V,
            "inv_var": inv_var,
            "limits": self._buf[:2],
            "smoothed": self._buf[self._k.S : self._k.HAS + 1],
        }

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        name = type(self).__name__
        V = arrays.get("directions")
        if V is None or V.dtype != np.float64 or V.ndim != 2:
            raise CorruptDataError(f"{name} state: bad directions")
        d, k = V.shape
        if d == 0:
            if k != 0:
                raise CorruptDataError(f"{name} state: directions without features")
        elif d != self.n_features or not 1 <= k <= d:
            raise CorruptDataError(f"{name} state: directions of shape {V.shape}")
        mean = self._take(arrays, "mean", np.float64, (d,))
        scale = self._take(arrays, "scale", np.float64, (d,))
        inv_var = self._take(arrays, "inv_var", np.float64, (k,))
        lim = self._take(arrays, "limits", np.float64, (2,))
        st = self._take(arrays, "smoothed", np.float64, (2,))
        for key, arr in (("mean", mean), ("directions", V), ("inv_var", inv_var), ("limits", lim)):
            if not np.isfinite(arr).all():
                raise CorruptDataError(f"{name} state: {key} is not finite")
        if not ((scale > 0).all() and np.isfinite(scale).all() and (inv_var >= 0).all()):
            raise CorruptDataError(f"{name} state: bad scale or variances")
        if not ((lim >= 0).all() and st[1] in (0.0, 1.0) and (st[0] >= 0 or st[1] == 0.0)):
            raise CorruptDataError(f"{name} state: bad limits or smoothed score {lim}, {st}")
        if d and not (lim[0] > 0 and self._uses_q() == (lim[1] > 0)):
            raise CorruptDataError(f"{name} state: bad limits {lim}")
        self._set_model(mean, scale, V, inv_var, float(lim[0]), float(lim[1]))
        self._buf[self._k.S : self._k.HAS + 1] = st

    def _uses_q(self) -> bool:
        return False


class HotellingT2(_Projection):
    """Hotelling's T-squared of each row against the training mean and (shrunk) covariance.

    ``score = EWMA(T2)``, ``T2 = (x - m)' S^-1 (x - m)``, with the training mean ``m`` and
    ``S = (1 - shrinkage) C + shrinkage * diag(C)`` from the training covariance ``C``
    (``ddof=1``): shrinking towards the diagonal keeps ``S`` invertible when sensors are
    collinear, whatever their units. A constant sensor gets variance 1 (its changes count
    in its own units, as after scikit-learn's ``StandardScaler``). With
    ``shrinkage=0`` a singular ``S`` is pseudo-inverted (directions of variance at most
    ``1e-12`` of the largest, in standardised units, are ignored). Score units: squared
    Mahalanobis distance (about ``n_features`` on average for normal rows).

    Args:
        shrinkage: weight of ``diag(C)`` in ``S``, in [0, 1].
        smoothing: EWMA factor of the score in (0, 1]; 1.0 scores each row alone.
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold``,
            ``hysteresis``.
    """

    def __init__(self, *, shrinkage: float = 0.1, smoothing: float = 0.1, **kwargs: Any) -> None:
        super().__init__(smoothing=smoothing, **kwargs)
        self.shrinkage = _fraction("shrinkage", shrinkage, zero_ok=True)

    def _fit(self, X: np.ndarray) -> np.ndarray:
        mean, scale, Z = _standardise(self._training_rows(X, "HotellingT2"))
        C = np.atleast_2d(np.cov(Z, rowvar=False))
        diag = np.diag_indices_from(C)
        C[diag] = np.where(C[diag] > 0, C[diag], 1.0)  # a constant feature: variance 1
        S = (1.0 - self.shrinkage) * C
        S[diag] += self.shrinkage
        var, V = np.linalg.eigh(S)  # var[-1] >= 1: the trace is at least n_features
        keep = var > _RCOND * var[-1]
        V, inv_var = V[:, keep], 1.0 / var[keep]
        self._set_model(mean, scale, V, inv_var, 1.0, 0.0)
        return self._score(X)

    def _params(self) -> dict[str, Any]:
        return {"shrinkage": self.shrinkage, "smoothing": self.smoothing}


class PcaT2Q(_Projection):
    """PCA T-squared plus Q (SPE): variation inside and off the normal subspace.

    fit() standardises each feature by its training mean and standard deviation (a
    constant feature keeps scale 1: its changes count in its own units), and
    keeps the fewest principal components that explain ``variance`` of the standardised
    training variance (SVD). For a row ``z``:
    ``T2 = sum(t_j**2 / l_j)`` over its scores ``t_j`` on the kept components of variance
    ``l_j``, and ``Q = |z - P P' z|**2``. Each is divided by its limit, the
    ``limit_quantile`` of its training values, and the larger one, smoothed by an EWMA
    (``smoothing``), is the score: about 1 at the edge of normal operation.

    Args:
        variance: fraction of the standardised variance the kept components explain,
            in (0, 1]; 0.9 by default.
        n_components: keep exactly this many components instead (1 to n_features).
        limit_quantile: quantile of the training T2 and Q values each is divided by.
        smoothing: EWMA factor of the score in (0, 1]; 1.0 scores each row alone.
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold``,
            ``hysteresis``.
    """

    def __init__(
        self,
        *,
        variance: float = 0.9,
        n_components: int | None = None,
        limit_quantile: float = 0.99,
        smoothing: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(smoothing=smoothing, **kwargs)
        self.variance = _fraction("variance", variance)
        if n_components is not None and (
            isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1
        ):
            raise InvalidInputError(f"n_components must be an integer >= 1, got {n_components!r}")
        self.fixed_components = n_components
        self.limit_quantile = _fraction("limit_quantile", limit_quantile)

    def _uses_q(self) -> bool:
        return True

    def _fit(self, X: np.ndarray) -> np.ndarray:
        rows = self._training_rows(X, "PcaT2Q", minimum=3)
        d = rows.shape[1]
        if self.fixed_components is not None and self.fixed_components > d:
            raise InvalidInputError(
                f"PcaT2Q: n_components={self.fixed_components} but X has {d} features"
            )
        mean, scale, Z = _standardise(rows)
        _, sing, Vt = np.linalg.svd(Z, full_matrices=False)
        var = sing**2 / (rows.shape[0] - 1)
        total = float(var.sum())
        if self.fixed_components is not None:
            k = self.fixed_components
        elif total > 0:
            explained = np.cumsum(var) / total
            k = int(np.searchsorted(explained, self.variance * (1 - 1e-12))) + 1
        else:
            k = 1
        k = max(1, min(k, var.shape[0], d))
        lam = var[:k]
        inv_var = np.where(
            lam > _RCOND * max(float(var[0]), 0.0), 1.0 / np.maximum(lam, 1e-300), 0.0
        )
        self._set_model(mean, scale, Vt[:k].T, inv_var, 1.0, 1.0)
        parts = np.asarray(self._k.parts(X, self._V, self._buf))
        limits = [float(np.nanquantile(parts[:, i], self.limit_quantile)) for i in (0, 1)]
        # A zero limit (a perfect fit in that part): any excess of it is far.
        self._buf[:2] = [lim if lim > 0 else 1e-12 for lim in limits]
        return self._score(X)

    def _params(self) -> dict[str, Any]:
        return {
            "variance": self.variance,
            "n_components": self.fixed_components,
            "limit_quantile": self.limit_quantile,
            "smoothing": self.smoothing,
        }
