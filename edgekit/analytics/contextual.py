"""ContextNovelty: a univariate streaming anomaly detector made for NAB-like data.

It combines three ideas from the NAB leaders, on a budget of a few hash-table lookups per
sample:

1. **Contexts** (as in CAD OSE): each value is quantised into ``levels`` steps spanning the
   range of the fit data; the pair (previous level, level) is a context. A context never
   seen before scores 1 (novel), a known one 0. The set of contexts keeps growing, so a
   pattern that repeats stops being novel.
2. **Anomaly likelihood** (Numenta's post-processing): the novelty averaged over the last
   ``average`` samples is compared with the distribution (mean, variance) of that average
   over the last ``history`` samples; the score is the normal tail likelihood on a log
   scale, ``log(1 - L) / log(1e-10)``, so 0.5 means ``1 - L = 1e-5`` and 1.0 means ``1e-10``.
3. **New extremes** (the spatial rule of Numenta's NAB detector): a value beyond the
   range seen so far by more than ``tolerance`` of that range scores 1.

After a score of at least ``trigger`` the detector holds quiet (scores 0) for ``suppress``
samples: one alarm per event, not one per sample.

Scores are in [0, 1]; the default threshold is ``trigger`` (0.5). ``fit`` learns the
quantiser range from the data, and the contexts and likelihood history from it; the
likelihood starts after the fit data (scores there are 0.03, ``L = 0.5``, but for new
extremes). Memory: ``8 * (2**table_bits + history + average)`` bytes (330 KB by default).
"""

from __future__ import annotations

import functools
import importlib
import math
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from edgekit.analytics._detector import Detector
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["ContextNovelty"]


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.contextual")


def _int_in(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be in [{low}, {high}], got {value!r}")
    return int(value)


class ContextNovelty(Detector):
    """Novel (previous level, level) contexts through an anomaly likelihood, plus new extremes.

    Args:
        levels: quantiser steps over the range of the fit data (values outside it get
            levels of their own).
        average: samples in the short average of the novelty.
        history: samples in the likelihood's reference distribution.
        tolerance: share of the range seen so far that a new extreme must exceed it by
            (negative: no extreme rule).
        trigger: score from which the detector holds quiet for ``suppress`` samples.
        suppress: samples scored 0 after a score >= ``trigger``.
        table_bits: log2 of the context table's slots (``2**table_bits * 8`` bytes).
        **kwargs: the protocol's ``quantile``, ``contamination``, ``threshold`` (default
            ``trigger``), ``hysteresis``.

    The defaults were chosen on the NAB corpus (one parameter set for all 58 files):
    NAB standard score 70.3 (``benchmarks/analytics``).
    """

    #: Scores are already NAB anomaly scores in [0, 1] (see edgekit.analytics.nab).
    nab_native = True

    def __init__(
        self,
        levels: int = 10,
        *,
        average: int = 8,
        history: int = 8640,
        tolerance: float = 0.02,
        trigger: float = 0.5,
        suppress: int = 120,
        table_bits: int = 15,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("threshold", trigger)
        super().__init__(**kwargs)
        self.levels = _int_in("levels", levels, 1, 1 << 20)
        self.average = _int_in("average", average, 1, 1 << 20)
        self.history = _int_in("history", history, 11, 1 << 22)
        self.suppress = _int_in("suppress", suppress, 0, 1 << 40)
        self.table_bits = _int_in("table_bits", table_bits, 4, 24)
        self.tolerance = float(tolerance)
        self.trigger = float(trigger)
        if not math.isfinite(self.tolerance):
            raise InvalidInputError(f"tolerance must be finite, got {tolerance!r}")
        if not 0.0 < self.trigger <= 1.0:
            raise InvalidInputError(f"trigger must be in (0, 1], got {trigger!r}")
        self._k = _kernels()
        # The model is allocated by fit() (before it, a small unfitted state).
        self._st = self._header(0)
        self._table = np.zeros(0, dtype=np.uint64)
        self._fitted = False

    def _header(self, n: int) -> np.ndarray:
        """A state array of ``n`` ring and history values after the header (zeroed), with
        the parameters in place."""
        k = self._k
        st = np.zeros(k.RING + n)
        st[k.TOL], st[k.TRIG], st[k.SUP] = self.tolerance, self.trigger, self.suppress
        st[k.N_RING], st[k.N_HIST] = self.average, self.history
        st[k.STEP] = 1.0
        return st

    def _fit(self, X: np.ndarray) -> np.ndarray:
        finite = X[np.isfinite(X)]
        if finite.size == 0:
            raise InvalidInputError("ContextNovelty.fit needs at least one finite sample")
        lo, hi = float(finite.min()), float(finite.max())
        k = self._k
        self._st = self._header(self.average + self.history)
        self._st[k.LO] = lo
        self._st[k.STEP] = (hi - lo) / self.levels if hi > lo else 1.0
        self._st[k.LEARN] = finite.size  # no likelihood while learning
        self._table = np.zeros(1 << self.table_bits, dtype=np.uint64)
        self._fitted = True
        return self._run(X)

    def _run(self, X: np.ndarray) -> np.ndarray:
        if not self._fitted:
            raise InvalidInputError("ContextNovelty must be fitted first: call fit(normal data)")
        return np.asarray(self._k.scores(X, self._st, self._table))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._run(X)

    def update(self, x: float | ArrayLike) -> tuple[float, bool]:
        """Score one sample: (score, alarm)."""
        if not self._fitted:
            raise InvalidInputError("ContextNovelty must be fitted first: call fit(normal data)")
        try:
            v = float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"update() takes one number, got {x!r}") from exc
        if math.isinf(v):
            raise InvalidInputError("samples contain infinity (ContextNovelty skips NaN only)")
        s = self._k.step(v, self._st, self._table)
        return s, self._alarm_of(s)

    def _reset_model(self) -> None:
        """Forget the recent past (average window, previous level, hold); keep what was
        learnt (quantiser range, contexts, likelihood history, extremes seen)."""
        k = self._k
        if self._fitted:
            self._st[k.RSUM] = self._st[k.HOLD] = self._st[k.HAS_PREV] = 0.0
            self._st[k.RING : k.RING + self.average] = 0.0

    def _params(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "average": self.average,
            "history": self.history,
            "tolerance": self.tolerance,
            "trigger": self.trigger,
            "suppress": self.suppress,
            "table_bits": self.table_bits,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"fitted": np.array([self._fitted]), "st": self._st, "table": self._table}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        k = self._k
        fitted = bool(self._take(arrays, "fitted", np.bool_, (1,))[0])
        n = self.average + self.history if fitted else 0
        st = self._take(arrays, "st", np.float64, (k.RING + n,)).copy()
        table = self._take(arrays, "table", np.uint64, ((1 << self.table_bits) * fitted,))
        st[: k.LO] = self._header(0)[: k.LO]  # the parameters are the constructor's
        ring = st[k.RING : k.RING + self.average]
        hist = st[k.RING + self.average :]
        counters = st[[k.T, k.LEARN, k.HOLD, k.PREV]]
        # Novelties are 0 or 1, their averages and sums bounded: nothing can overflow;
        # the counters are whole numbers a float holds exactly.
        if (
            not np.isfinite(st).all()
            or st[k.STEP] <= 0.0
            or (counters != np.floor(counters)).any()
            or not (0.0 <= st[k.T] < 2.0**53 and 0.0 <= st[k.LEARN] < 2.0**53)
            or not 0.0 <= st[k.HOLD] <= self.suppress
            or abs(st[k.PREV]) > 2e15
            or st[k.HAS_PREV] not in (0.0, 1.0)
            or not 0.0 <= st[k.RSUM] <= self.average
            or not (-1e-6 <= st[k.HSUM] <= self.history + 1e-6)  # running sums: rounding
            or not (-1e-6 <= st[k.HSQ] <= self.history + 1e-6)
            or ((ring != 0.0) & (ring != 1.0)).any()
            or ((hist < 0.0) | (hist > 1.0)).any()
        ):
            raise CorruptDataError(f"ContextNovelty state is inconsistent: {st[: k.RING]}")
        self._fitted = fitted
        self._st, self._table = st, table.copy()
