"""Streaming anomaly detectors with one protocol (:class:`~edgekit.analytics._detector.Detector`).

- :class:`EwmaZScore`: distance of each sample from the exponentially weighted mean,
  in EW standard deviations.
- :class:`HalfSpaceTrees`: Tan, Ting & Liu (2011), river's ``anomaly.HalfSpaceTrees``
  to the last bit (same trees from the same seed and limits, same scores).
- :class:`MatrixProfileDiscord`: the left matrix profile over a bounded history: the
  z-normalised distance of the subsequence ending at each sample to its nearest
  earlier neighbour (stumpy's ``stumpi(egress=False).left_P_`` on equal history).

Each scores one sample at a time, fits on normal data, and learns its threshold there
(see the protocol); ``update(x)`` is one numba call.
"""

from __future__ import annotations

import functools
import importlib
import math
import random
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from edgekit.analytics._detector import Detector
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["EwmaZScore", "HalfSpaceTrees", "MatrixProfileDiscord"]


# Size guards (a state's parameters can ask for any size): 4M tree nodes (160 MB),
# 4M samples of matrix profile history (320 MB).
_MAX_NODES = 1 << 22
_MAX_HISTORY = 1 << 22


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.detectors")


def _int_at_least(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _scalar(x: float | ArrayLike) -> float:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"update() takes one number, got {x!r}") from exc


class EwmaZScore(Detector):
    """Distance of each sample from the EW mean, in EW standard deviations.

    ``score = |x - m| / s`` where ``m`` and ``s**2`` are the exponentially weighted
    mean and variance of the samples before ``x`` (``m += alpha d``,
    ``s2 = (1 - alpha) (s2 + alpha d**2)``, ``d = x - m``); ``x`` then updates them.
    NaN for the first ``warmup`` samples.

    Args:
        alpha: smoothing factor in (0, 1]; ``2 / (span + 1)``.
        warmup: samples before the first score.
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold``,
            ``hysteresis``.
    """

    def __init__(self, alpha: float = 0.01, *, warmup: int = 30, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        if not 0.0 < self.alpha <= 1.0:
            raise InvalidInputError(f"alpha must be in (0, 1], got {alpha!r}")
        self.warmup = _int_at_least("warmup", warmup, 1)
        # samples seen, EW mean, EW variance; the parameters
        self._st = np.array([0.0, 0.0, 0.0, self.alpha, self.warmup])
        self._k = _kernels()  # one attribute load per update

    def _fit(self, X: np.ndarray) -> np.ndarray:
        self._reset_model()
        return self._score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._k.ewma_z(X, self._st))

    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Score one sample: (score, alarm)."""
        s = self._k.ewma_z1(_scalar(x), self._st)
        return s, self._alarm_of(s)

    def _reset_model(self) -> None:
        self._st[:3] = 0.0

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": self.warmup}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"ewm": self._st[:3]}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        st = self._take(arrays, "ewm", np.float64, (3,))
        if not (st[0] >= 0 and np.isfinite(st).all()):
            raise CorruptDataError(f"EwmaZScore state has a bad EW state {st}")
        self._st[:3] = st


class HalfSpaceTrees(Detector):
    """Half-Space Trees (Tan, Ting & Liu 2011), river's semantics and arithmetic.

    ``n_trees`` random complete trees of ``height`` splits over the feature ``limits``
    (built as river builds them: from ``random.Random(seed)``, split features drawn
    weighted by their range, split points uniform in the middle 70%). Each row is
    scored against the node masses of the last complete window of ``window_size``
    rows, then counted into the current window: river's ``score_one`` then
    ``learn_one``. With the same ``seed`` and ``limits`` the scores equal river's
    (score in [0, 1]; NaN during the first window, where river gives 0).

    Args:
        n_trees, height, window_size, seed: as river's.
        limits: ``(low, high)`` of the single feature, or one pair per feature; when
            None, ``fit()`` takes each feature's min and max over the training data.
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold``,
            ``hysteresis``.
    """

    univariate = False

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        *,
        limits: Sequence[float] | Sequence[Sequence[float]] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_trees = _int_at_least("n_trees", n_trees, 1)
        self.height = _int_at_least("height", height, 1)
        if self.height > 20:
            raise InvalidInputError(f"height must be at most 20, got {height}")
        self.window_size = _int_at_least("window_size", window_size, 1)
        if self.n_trees * 2 ** (self.height + 1) > _MAX_NODES:
            raise InvalidInputError(
                f"n_trees * 2**(height + 1) must be at most {_MAX_NODES:,} "
                f"(n_trees={n_trees}, height={height})"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidInputError(f"seed must be an integer or None, got {seed!r}")
        self.seed = seed
        self.limits: list[tuple[float, float]] | None = None
        self._given_limits = limits is not None
        self._k = _kernels()
        n_nodes = 2 ** (self.height + 1) - 1
        # split feature, split value, mass in the current window, mass in the last one,
        # the kernel's scratch
        self._tree = np.zeros((5, self.n_trees, n_nodes))
        max_score = float(self.n_trees * self.window_size * (2 ** (self.height + 1) - 1))
        # the window counters, the parameters and the row of a univariate update
        self._buf = np.array(
            [0.0, 1.0, self.height, self.window_size, 0.1 * self.window_size, max_score, 0.0]
        )
        if limits is not None:
            self._build(self._check_limits(limits))

    @staticmethod
    def _check_limits(limits: Any) -> list[tuple[float, float]]:
        arr = np.asarray(limits, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
            raise InvalidInputError(
                f"limits must be (low, high) or one such pair per feature, got shape {arr.shape}"
            )
        if not (np.isfinite(arr).all() and (arr[:, 1] > arr[:, 0]).all()):
            raise InvalidInputError(f"limits must be finite with low < high, got {arr.tolist()}")
        return [(float(lo), float(hi)) for lo, hi in arr]

    def _build(self, limits: list[tuple[float, float]]) -> None:
        """The trees from ``random.Random(seed)``, drawn in river's order (pre-order)."""
        self.limits = limits
        self.n_features = len(limits)
        rng = random.Random(self.seed)
        for t in range(self.n_trees):
            self._grow(rng, dict(enumerate(limits)), t, 0, 0)
        self._reset_model()

    def _grow(
        self, rng: random.Random, box: dict[int, tuple[float, float]], t: int, node: int, depth: int
    ) -> None:
        """Draw the split of ``node`` of tree ``t`` in ``box``, then its subtrees."""
        if depth == self.height:
            return
        on = rng.choices(list(box), weights=[hi - lo for lo, hi in box.values()])[0]
        a, b = box[on]
        at = rng.uniform(a + 0.15 * (b - a), b - 0.15 * (b - a))
        self._tree[0, t, node] = on
        self._tree[1, t, node] = at
        box[on] = (a, at)
        self._grow(rng, box, t, 2 * node + 1, depth + 1)
        box[on] = (at, b)
        self._grow(rng, box, t, 2 * node + 2, depth + 1)
        box[on] = (a, b)

    def _need_trees(self) -> None:
        if self.limits is None:
            raise InvalidInputError(
                "HalfSpaceTrees has no feature limits yet: pass limits= or call fit() first"
            )

    def _fit(self, X: np.ndarray) -> np.ndarray:
        if not self._given_limits:
            finite = X[~np.isnan(X).any(axis=1)]
            if finite.shape[0] == 0:
                raise InvalidInputError("HalfSpaceTrees.fit: every training row has NaN")
            lo, hi = finite.min(axis=0), finite.max(axis=0)
            flat = hi <= lo
            hi = np.where(flat, lo + 1.0, hi)
            self._build([(float(a), float(b)) for a, b in zip(lo, hi, strict=True)])
        elif X.shape[1] != self.n_features:
            raise InvalidInputError(
                f"HalfSpaceTrees has limits for {self.n_features} features, X has {X.shape[1]}"
            )
        self._reset_model()
        return self._score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        self._need_trees()
        return np.asarray(self._k.hst(X, self._tree, self._buf))

    def score(self, X: ArrayLike) -> np.ndarray:
        """Scores of the rows of ``X`` ((n, d); (n,) when there is one feature)."""
        self._need_trees()
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim == 1 and self.n_features == 1:
            arr = arr[:, None]
        return self._score(self._check(arr))

    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Score then learn one row (a float when there is one feature): (score, alarm)."""
        if self.limits is None:
            self._need_trees()
        if self.n_features == 1 and isinstance(x, (float, int)):
            s = self._k.hst1(float(x), self._tree, self._buf)
        else:
            row = np.asarray(x, dtype=np.float64).reshape(-1)
            if row.shape[0] != self.n_features:
                raise InvalidInputError(
                    f"HalfSpaceTrees takes rows of {self.n_features} features, got {row.shape[0]}"
                )
            s = self.score(row[None, :])[0]
        return s, self._alarm_of(s)

    def _reset_model(self) -> None:
        self._tree[2:] = 0.0
        self._buf[:2] = (0.0, 1.0)

    def _params(self) -> dict[str, Any]:
        return {
            "n_trees": self.n_trees,
            "height": self.height,
            "window_size": self.window_size,
            "seed": self.seed,
            "limits": self.limits if self._given_limits else None,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        limits = np.zeros((0, 2)) if self.limits is None else np.asarray(self.limits)
        return {
            "limits": limits,
            "tree": self._tree[:4],
            "window": self._buf[:2],
        }

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        shape = (4, *self._tree.shape[1:])
        lim = arrays.get("limits")
        if lim is None or lim.dtype != np.float64 or lim.ndim != 2 or lim.shape[1] != 2:
            raise CorruptDataError("HalfSpaceTrees state: bad limits")
        tree = self._take(arrays, "tree", np.float64, shape)
        st = self._take(arrays, "window", np.float64, (2,))
        if lim.shape[0] == 0:
            self.limits = None
        else:
            try:
                self.limits = self._check_limits(lim)
            except InvalidInputError as exc:
                raise CorruptDataError(f"HalfSpaceTrees state: {exc}") from exc
            if lim.shape[0] != self.n_features:
                raise CorruptDataError("HalfSpaceTrees state: limits do not match n_features")
        feature = tree[0]
        if not (np.isin(feature, np.arange(self.n_features)).all() and np.isfinite(tree).all()):
            raise CorruptDataError("HalfSpaceTrees state: a split feature is out of range")
        if not (st[0] in range(self.window_size) and st[1] in (0.0, 1.0)):
            raise CorruptDataError(f"HalfSpaceTrees state: bad window counters {st}")
        self._tree[:4] = tree
        self._buf[:2] = st


class MatrixProfileDiscord(Detector):
    """Left matrix profile over a bounded history: a discord (novel shape) detector.

    The score of a sample is the z-normalised Euclidean distance between the
    subsequence of the last ``window`` samples and its nearest neighbour among the
    subsequences that lie in the last ``history`` samples and end at least
    ``ceil(window / 4)`` samples earlier (stumpy's exclusion zone). After the warm-up,
    equal to stumpy's ``stumpi(T, m=window, egress=False)`` ``left_P_`` (within 1e-6)
    while the stream is shorter than ``history``. A numba kernel keeps each
    subsequence's dot product with the newest one and updates it per sample (STOMP),
    so an update costs O(history). Constant subsequences are at distance 0 from each other and
    ``sqrt(window)`` from any other, as in stumpy; a subsequence whose standard
    deviation is below about 1e-7 of its mean is ill-conditioned (its distances are
    rounding noise, in stumpy too). NaN until a neighbour exists and
    for the first ``warmup`` samples (with few neighbours yet, every shape looks new).

    Args:
        window: subsequence length (samples).
        history: samples kept (the neighbours searched); at least ``2 * window``.
        warmup: samples without a score after construction or ``reset()``;
            ``min(5 * window, history)`` when None (0: score from the first neighbour
            on, as stumpi).
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold``,
            ``hysteresis``.
    """

    def __init__(
        self,
        window: int = 100,
        history: int = 10_000,
        *,
        warmup: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.window = _int_at_least("window", window, 3)
        self.history = _int_at_least("history", history, 2 * self.window)
        if self.history > _MAX_HISTORY:
            raise InvalidInputError(f"history must be at most {_MAX_HISTORY:,}, got {history}")
        self.warmup = (
            min(5 * self.window, self.history)
            if warmup is None
            else _int_at_least("warmup", warmup, 0)
        )
        self.excl = math.ceil(self.window / 4)
        self._k = _kernels()
        self._alloc()

    def _alloc(self) -> None:
        cap = 2 * self.history
        self._T = np.zeros(cap)
        self._mu = np.zeros(cap)
        self._isig = np.zeros(cap)  # 1 / standard deviation (0: constant)
        self._kind = np.zeros(cap, dtype=np.uint8)
        self._QT = np.zeros(cap)
        self._st = np.array(
            [0, 0, 0, 0, self.window, self.history, self.excl, self.warmup], dtype=np.int64
        )

    def _fit(self, X: np.ndarray) -> np.ndarray:
        self._reset_model()
        return self._score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(
            self._k.mp(
                X,
                self._T,
                self._mu,
                self._isig,
                self._kind,
                self._QT,
                self._st,
            )
        )

    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Append one sample: (score, alarm)."""
        s = self._k.mp1(
            _scalar(x),
            self._T,
            self._mu,
            self._isig,
            self._kind,
            self._QT,
            self._st,
        )
        return s, self._alarm_of(s)

    def _reset_model(self) -> None:
        self._st[:4] = 0

    def _params(self) -> dict[str, Any]:
        return {"window": self.window, "history": self.history, "warmup": self.warmup}

    def _arrays(self) -> dict[str, np.ndarray]:
        a, b = int(self._st[1]), int(self._st[0])  # the kept samples, moved to the front
        return {
            "samples": self._T[a:b],
            "mean": self._mu[a:b],
            "inv_std": self._isig[a:b],
            "kind": self._kind[a:b],
            "qt": self._QT[a:b],
            "counters": np.array([b - a, 0, self._st[2], self._st[3]], dtype=np.int64),
        }

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        samples = arrays.get("samples")
        if samples is None or samples.ndim != 1 or samples.shape[0] > self.history:
            raise CorruptDataError("MatrixProfileDiscord state: bad sample history")
        n = samples.shape[0]
        st = self._take(arrays, "counters", np.int64, (4,))
        if st[0] != n or st[1] != 0 or st[2] not in (0, 1) or st[3] < n:
            raise CorruptDataError(f"MatrixProfileDiscord state: bad counters {st}")
        self._alloc()
        for key, arr in (
            ("samples", self._T),
            ("mean", self._mu),
            ("inv_std", self._isig),
            ("kind", self._kind),
            ("qt", self._QT),
        ):
            arr[:n] = self._take(arrays, key, arr.dtype, (n,))
        if not (
            np.isfinite(self._T[:n]).all()
            and np.isfinite(self._isig[:n]).all()
            and (self._kind[:n] <= 1).all()
        ):
            raise CorruptDataError("MatrixProfileDiscord state: bad history values")
        self._st[:4] = st
