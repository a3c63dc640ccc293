"""Change detection on one stream, block by block with carried state.

Each detector's ``update(block)`` takes a 1-D block and returns a
:class:`ChangeOutput` ``(statistic, change)`` per sample; feeding a stream in blocks of
any size gives the same outputs as feeding it whole. Blocks must be finite (NaN or
infinity raise :class:`~edgekit.errors.InvalidInputError`, the state unchanged).

- :class:`Cusum`: two-sided CUSUM (Page 1954) on standardised samples.
- :class:`PageHinkley`: the Page-Hinkley test with the semantics (and arithmetic) of
  river's ``drift.PageHinkley``: the same detections on the same stream.
- :class:`Bocpd`: Bayesian online change-point detection (Adams & MacKay 2007).
"""

from __future__ import annotations

import functools
import importlib
import math
from types import ModuleType
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from edgekit.errors import InvalidInputError

__all__ = ["Bocpd", "ChangeOutput", "Cusum", "PageHinkley"]


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.change")


class ChangeOutput(NamedTuple):
    """Per-sample outputs of a change detector."""

    statistic: np.ndarray  #: the detector's test statistic (float64)
    change: np.ndarray  #: True where a change is detected (bool)


def _block(name: str, block: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(block, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: block must be numbers: {exc}") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInputError(f"{name}: block must have shape (n,), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name}: block contains NaN or infinity (the state is unchanged)")
    return np.ascontiguousarray(arr)


def _positive(name: str, value: float, *, zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero):
        kind = "non-negative" if zero else "positive"
        raise InvalidInputError(f"{name} must be {kind} and finite, got {value!r}")
    return v


class Cusum:
    """Two-sided CUSUM (Page 1954) for a shift of the mean.

    With ``z = (x - target) / sigma``: ``g+ = max(0, g+ + z - k)``,
    ``g- = max(0, g- - z - k)``; a change is signalled when ``max(g+, g-) > h``
    (the statistic), and both sums restart at 0. ``k`` is half the shift to detect
    and ``h`` the decision interval, in standard deviations (k=0.5, h=5: a 1-sigma
    shift is found after about 10 samples, a false alarm comes about every 470 samples
    of in-control Gaussian data).

    Args:
        k: allowance (in sigmas).
        h: decision threshold (in sigmas).
        target: the in-control mean; None: the mean of the first ``warmup`` samples
            of each run (self-starting; re-learnt after every change).
        sigma: the in-control standard deviation; None: learnt like ``target``.
        warmup: samples to learn ``target``/``sigma`` from when not given (no test
            meanwhile; statistic 0).
    """

    def __init__(
        self,
        k: float = 0.5,
        h: float = 5.0,
        *,
        target: float | None = None,
        sigma: float | None = None,
        warmup: int = 30,
    ) -> None:
        self.k = _positive("k", k, zero=True)
        self.h = _positive("h", h)
        if (target is None) != (sigma is None):
            raise InvalidInputError("give both target and sigma, or neither (then both are learnt)")
        self.target = None if target is None else float(target)
        self.sigma = None if sigma is None else _positive("sigma", sigma)
        if target is None and (isinstance(warmup, bool) or int(warmup) < 2):
            raise InvalidInputError(f"warmup must be at least 2 samples, got {warmup!r}")
        self.warmup = 0 if target is not None else int(warmup)
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self._st = np.zeros(7)

    def update(self, block: ArrayLike) -> ChangeOutput:
        """(max(g+, g-), change) after each sample of ``block``."""
        x = _block("Cusum", block)
        stat, change = _kernels().cusum(
            x,
            self._st,
            self.k,
            self.h,
            0.0 if self.target is None else self.target,
            1.0 if self.sigma is None else self.sigma,
            float(self.warmup),
        )
        return ChangeOutput(stat, change)


_MODES = {"both": 0, "up": 1, "down": 2}


class PageHinkley:
    """The Page-Hinkley test, with river's ``drift.PageHinkley`` semantics.

    The cumulative deviation from the running mean, faded by ``alpha`` and
    corrected by ``delta``, is compared with its running extreme; the statistic is
    that difference (0 before ``min_instances`` samples), a change is signalled when
    it exceeds ``threshold``, and the detector restarts from scratch at the next
    sample. The parameters, their defaults and the detections are river's.

    Args:
        min_instances: samples before a test.
        delta: the magnitude of changes tolerated (units of x).
        threshold: the detection threshold lambda (units of x).
        alpha: forgetting factor of the cumulative sums.
        mode: ``"both"``, ``"up"`` (increases only) or ``"down"``.
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        if mode not in _MODES:
            raise InvalidInputError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        if isinstance(min_instances, bool) or int(min_instances) < 1:
            raise InvalidInputError(f"min_instances must be >= 1, got {min_instances!r}")
        self.min_instances = int(min_instances)
        self.delta = _positive("delta", delta, zero=True)
        self.threshold = _positive("threshold", threshold, zero=True)
        self.alpha = _positive("alpha", alpha)
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self._st = np.array([0.0, 0.0, 0.0, 0.0, np.inf, -1.0, 0.0])

    def update(self, block: ArrayLike) -> ChangeOutput:
        """(test statistic, change) after each sample of ``block``."""
        x = _block("PageHinkley", block)
        stat, change = _kernels().page_hinkley(
            x,
            self._st,
            float(self.min_instances),
            self.delta,
            self.threshold,
            self.alpha,
            _MODES[self.mode],
        )
        return ChangeOutput(stat, change)


class Bocpd:
    """Bayesian online change-point detection (Adams & MacKay 2007).

    Gaussian samples of unknown mean and variance with a Normal-Gamma prior
    ``(mu0, kappa0, alpha0, beta0)`` (Student-t predictive), a constant hazard
    ``1 / expected_run``, and run lengths truncated at ``max_run`` (the posterior mass
    of longer runs is dropped and the rest renormalised; O(max_run) per sample). The
    statistic is the most probable run length after each sample; a change is
    signalled where it falls (the data now favour a younger run). Fit the prior to
    the data's scale (``beta0 / alpha0`` is the prior guess of the variance).

    Args:
        expected_run: expected samples between changes (the hazard's inverse).
        max_run: the longest run length kept.
        mu0, kappa0, alpha0, beta0: the Normal-Gamma prior.
    """

    def __init__(
        self,
        expected_run: float = 250.0,
        *,
        max_run: int = 500,
        mu0: float = 0.0,
        kappa0: float = 1.0,
        alpha0: float = 1.0,
        beta0: float = 1.0,
    ) -> None:
        self.expected_run = _positive("expected_run", expected_run)
        if self.expected_run <= 1.0:
            raise InvalidInputError(f"expected_run must exceed 1, got {expected_run!r}")
        if isinstance(max_run, bool) or not isinstance(max_run, int) or max_run < 2:
            raise InvalidInputError(f"max_run must be an integer >= 2, got {max_run!r}")
        self.max_run = max_run
        self.mu0 = float(mu0)
        if not math.isfinite(self.mu0):
            raise InvalidInputError(f"mu0 must be finite, got {mu0!r}")
        self.kappa0 = _positive("kappa0", kappa0)
        self.alpha0 = _positive("alpha0", alpha0)
        self.beta0 = _positive("beta0", beta0)
        self._a = self.alpha0 + 0.5 * np.arange(max_run)
        lg = np.vectorize(math.lgamma)
        self._t_const = lg(self._a + 0.5) - lg(self._a) - 0.5 * math.log(math.pi)
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        R = self.max_run
        self._logp = np.full(R, -np.inf)
        self._logp[0] = 0.0
        self._mu = np.full(R, self.mu0)
        self._kappa = np.full(R, self.kappa0)
        self._beta = np.full(R, self.beta0)
        self._nrun = np.ones(1, dtype=np.int64)
        self._prev = np.zeros(1, dtype=np.int64)

    @property
    def run_length_posterior(self) -> np.ndarray:
        """P(run length = r | samples so far), r = 0 .. max_run - 1."""
        return np.asarray(np.exp(self._logp[: self._nrun[0]]))

    def update(self, block: ArrayLike) -> ChangeOutput:
        """(most probable run length, change) after each sample of ``block``."""
        x = _block("Bocpd", block)
        h = 1.0 / self.expected_run
        run, change = _kernels().bocpd(
            x,
            self._logp,
            self._mu,
            self._kappa,
            self._beta,
            self._nrun,
            self._prev,
            math.log(h),
            math.log1p(-h),
            self.kappa0,
            self.mu0,
            self.beta0,
            self._t_const,
            self._a,
        )
        return ChangeOutput(run, change)
