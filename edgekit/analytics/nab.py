"""The Numenta Anomaly Benchmark (NAB) scorer: windows, sigmoid weights, profiles, thresholds.

NAB (github.com/numenta/NAB, MIT) scores a detector's anomaly scores (floats in [0, 1], one
per row) over a corpus of labelled series. This module follows NAB 1.1's scorer (its
``sweeper``, ``optimizer`` and ``runner.normalize``):

- Each labelled anomaly has a window of rows (NAB's ``combined_windows.json``). A detection
  is a row whose anomaly score is >= the threshold.
- The first detection in a window earns the scaled sigmoid of its position,
  ``2 / (1 + exp(5 y)) - 1`` with ``y = -(right - i + 1) / width`` (-1 at the window's first
  row, near 0 at its last), divided by its value at ``y = -1`` and times the profile's
  ``tp_weight``; later detections in the same window count nothing. A window without a
  detection costs ``fn_weight``.
- A detection outside every window costs ``fp_weight`` times the scaled sigmoid of its
  distance past the preceding window's right edge in units of that window's width minus
  one (so a detection just after a window costs almost nothing, one a window-width later
  almost ``fp_weight``, and one before the first window exactly ``fp_weight``).
- The first ``min(floor(0.15 n), 750)`` rows of a file (the probationary period) are not
  scored.
- One threshold is chosen per detector and profile over the whole corpus: the one with the
  best total (the highest such threshold on ties), found by sweeping every distinct score.
- The total is normalised so that the null detector (no detection: every window missed)
  scores 0 and a perfect one (every window detected at its first row) 100.

:class:`NabCorpus` holds the windows of a corpus as row indices; :meth:`NabCorpus.optimize`
and :meth:`NabCorpus.score` give a :class:`NabScore`. :func:`load_nab` reads a NAB checkout
(``data/``, ``labels/combined_windows.json``), :func:`read_nab_results` a detector's raw
result files, :func:`detector_likelihoods` turns any :class:`Detector`'s scores into NAB's
[0, 1] anomaly scores.
"""

from __future__ import annotations

import csv
import functools
import importlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from edgekit._snapshot import Snapshot
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = [
    "NAB_PROFILES",
    "NabCorpus",
    "NabProfile",
    "NabScore",
    "detector_likelihoods",
    "load_nab",
    "probation_length",
    "read_nab_results",
    "scaled_sigmoid",
    "window_rows",
]


@functools.cache
def _kernels() -> ModuleType:
    return importlib.import_module("edgekit.analytics._kernels.nab")


@dataclass(frozen=True)
class NabProfile:
    """A NAB cost profile: the weight of a true positive, false positive, false negative."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


#: NAB's three application profiles (its ``config/profiles.json``).
NAB_PROFILES: dict[str, NabProfile] = {
    "standard": NabProfile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": NabProfile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": NabProfile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}

#: Share of each file's rows in NAB's probationary period (at most 750 rows).
PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class NabScore(Snapshot):
    """A detector's NAB result for one profile.

    ``score`` is normalised (null detector 0, perfect 100); ``raw_score`` is NAB's sum of
    weights; ``tp``/``fp`` count detected rows in/outside windows, ``fn``/``tn`` the rows
    not detected (probationary rows excluded); ``files`` the raw score per file (filled
    by :meth:`NabCorpus.score`, empty after :meth:`NabCorpus.optimize`).
    """

    profile: str
    threshold: float
    score: float
    raw_score: float
    tp: int
    fp: int
    fn: int
    tn: int
    files: dict[str, float]


def scaled_sigmoid(position: ArrayLike) -> np.ndarray:
    """NAB's weight of a detection at a relative ``position``: ``2 / (1 + exp(5 y)) - 1``,
    and -1 beyond ``y = 3`` (0.9866 at the window's start ``y = -1``, 0 at ``y = 0``)."""
    y = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, out)


def probation_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that NAB does not score: ``min(floor(p n), p 5000)``."""
    return int(min(math.floor(probation_percent * n_rows), probation_percent * 5000))


def _profile(profile: str | NabProfile) -> NabProfile:
    if isinstance(profile, NabProfile):
        return profile
    try:
        return NAB_PROFILES[profile]
    except (KeyError, TypeError):
        raise InvalidInputError(
            f"unknown NAB profile {profile!r}; one of {sorted(NAB_PROFILES)}"
        ) from None


class NabCorpus:
    """The files of a NAB corpus: their length and anomaly windows (inclusive row indices).

    Args:
        files: file name -> ``(n_rows, windows)``, windows a sequence of ``(first, last)``
            row indices in order, not overlapping.
        probation_percent: share of each file's first rows not scored (at most
            ``probation_percent * 5000`` rows).
    """

    def __init__(
        self,
        files: Mapping[str, tuple[int, Sequence[tuple[int, int]]]],
        *,
        probation_percent: float = PROBATION_PERCENT,
    ) -> None:
        if not 0.0 <= probation_percent < 1.0:
            raise InvalidInputError(f"probation_percent must be in [0, 1), got {probation_percent}")
        self.probation_percent = float(probation_percent)
        self.lengths: dict[str, int] = {}
        self.windows: dict[str, np.ndarray] = {}
        for name, (n_rows, windows) in files.items():
            arr = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
            if n_rows < 1:
                raise InvalidInputError(f"{name}: a file needs at least one row")
            if arr.size and (
                (arr[:, 0] > arr[:, 1]).any()
                or arr.min() < 0
                or arr.max() >= n_rows
                or (arr[1:, 0] <= arr[:-1, 1]).any()
            ):
                raise InvalidInputError(
                    f"{name}: windows must be ordered (first, last) row pairs in [0, {n_rows}) "
                    f"that do not overlap, got {arr.tolist()}"
                )
            self.lengths[name] = int(n_rows)
            self.windows[name] = arr
        self._rows: dict[str, dict[str, Any]] = {}

    @property
    def n_windows(self) -> int:
        """Windows in the corpus (the perfect detector's true positives)."""
        return sum(len(w) for w in self.windows.values())

    # ---- per-row weights ------------------------------------------------------------

    def row_weights(self, name: str, profile: str | NabProfile) -> tuple[np.ndarray, np.ndarray]:
        """``(weights, window)`` of every row of file ``name``: the profile's score of a
        detection at that row, and the index of its window (-1 outside every window, -2 in
        the probationary period)."""
        prof = _profile(profile)
        n = self._length(name)
        windows = self.windows[name]
        idx = np.arange(n, dtype=np.float64)
        weights = np.full(n, -prof.fp_weight)
        window = np.full(n, -1, dtype=np.int64)
        max_tp = float(scaled_sigmoid(-1.0))
        for k, (first, last) in enumerate(windows):
            width = float(last - first + 1)
            rows = slice(first, last + 1)
            weights[rows] = scaled_sigmoid(-(last - idx[rows] + 1.0) / width) * (
                prof.tp_weight / max_tp
            )
            window[rows] = k
            end = windows[k + 1, 0] if k + 1 < len(windows) else n
            after = slice(last + 1, end)
            # NAB divides by the width minus one: a one-row window puts later rows at inf.
            with np.errstate(divide="ignore"):
                pos = (idx[after] - last) / (width - 1.0)
            weights[after] = scaled_sigmoid(pos) * prof.fp_weight
        window[: probation_length(n, self.probation_percent)] = -2
        return weights, window

    def _length(self, name: str) -> int:
        try:
            return self.lengths[name]
        except KeyError:
            raise InvalidInputError(f"{name!r} is not a file of this corpus") from None

    def _check_scores(self, scores: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
        missing = set(self.lengths) - set(scores)
        if missing:
            raise InvalidInputError(
                f"anomaly scores missing for {len(missing)} files, e.g. {sorted(missing)[0]!r}"
            )
        out: dict[str, np.ndarray] = {}
        for name in self.lengths:
            s = np.asarray(scores[name], dtype=np.float64)
            if s.shape != (self.lengths[name],):
                raise InvalidInputError(
                    f"{name}: {self.lengths[name]} anomaly scores expected, got shape {s.shape}"
                )
            if not ((s >= 0.0) & (s <= 1.0)).all():
                raise InvalidInputError(
                    f"{name}: NAB anomaly scores must be in [0, 1] (no NaN); "
                    "convert detector scores with detector_likelihoods()"
                )
            out[name] = s
        return out

    def _corpus_rows(self, prof: NabProfile) -> dict[str, Any]:
        """Weights and global window ids of all scored rows, cached per profile."""
        cached = self._rows.get(prof.name)
        if cached is not None and cached["profile"] == prof:
            return cached
        weights, ids, keep = [], [], []
        offset = 0
        n_windows = 0
        for name in self.lengths:
            w, win = self.row_weights(name, prof)
            scored = win != -2
            # A window entirely inside the probationary period is not scored (as in NAB).
            live = np.unique(win[scored & (win >= 0)])
            remap = np.full(len(self.windows[name]) + 1, -1, dtype=np.int64)
            remap[live] = np.arange(n_windows, n_windows + live.size)
            n_windows += live.size
            weights.append(w[scored])
            ids.append(remap[win[scored]])
            keep.append(np.flatnonzero(scored) + offset)
            offset += len(w)
        rows = {
            "profile": prof,
            "weights": np.concatenate(weights),
            "ids": np.concatenate(ids),
            "keep": np.concatenate(keep),
            "n_windows": n_windows,
        }
        self._rows[prof.name] = rows
        return rows

    # ---- scoring --------------------------------------------------------------------

    def normalize(self, raw_score: float, profile: str | NabProfile) -> float:
        """``raw_score`` on NAB's scale: 0 for the null detector, 100 for a perfect one."""
        prof = _profile(profile)
        null = -prof.fn_weight * int(self._corpus_rows(prof)["n_windows"])
        perfect = prof.tp_weight * self.n_windows
        return 100.0 * (raw_score - null) / (perfect - null)

    def sweep(
        self, scores: Mapping[str, ArrayLike], profile: str | NabProfile
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(thresholds, raw_scores)``: the corpus's raw score at 1.1 (no detection) and
        at every distinct anomaly score, thresholds in descending order."""
        prof = _profile(profile)
        checked = self._check_scores(scores)
        rows = self._corpus_rows(prof)
        flat = np.concatenate([checked[name] for name in self.lengths])[rows["keep"]]
        order = np.argsort(-flat, kind="stable")
        thresholds, totals = _kernels().sweep(
            np.ascontiguousarray(flat[order]),
            np.ascontiguousarray(rows["weights"][order]),
            np.ascontiguousarray(rows["ids"][order]),
            rows["n_windows"],
            prof.fn_weight,
        )
        return thresholds, totals

    def optimize(self, scores: Mapping[str, ArrayLike], profile: str | NabProfile) -> NabScore:
        """The best threshold over the whole corpus and its score (the highest of tied ones)."""
        prof = _profile(profile)
        thresholds, totals = self.sweep(scores, prof)
        best = int(np.argmax(totals))
        return self.score(scores, prof, float(thresholds[best]))

    def score(
        self, scores: Mapping[str, ArrayLike], profile: str | NabProfile, threshold: float
    ) -> NabScore:
        """The corpus's score at ``threshold`` (a detection is a score >= threshold)."""
        prof = _profile(profile)
        checked = self._check_scores(scores)
        files: dict[str, float] = {}
        tp = fp = fn = tn = 0
        for name, s in checked.items():
            weights, window = self.row_weights(name, prof)
            scored = window != -2
            hit = (s >= threshold) & scored
            outside = window == -1
            raw = float(weights[hit & outside].sum())
            for k in np.unique(window[scored & (window >= 0)]):
                inside = hit & (window == k)
                raw += float(weights[inside].max()) if inside.any() else -prof.fn_weight
            files[name] = raw
            tp += int((hit & ~outside).sum())
            fp += int((hit & outside).sum())
            fn += int((~hit & scored & ~outside).sum())
            tn += int((~hit & scored & outside).sum())
        raw_total = math.fsum(files.values())
        return NabScore(
            profile=prof.name,
            threshold=float(threshold),
            score=self.normalize(raw_total, prof),
            raw_score=raw_total,
            tp=tp,
            fp=fp,
            fn=fn,
            tn=tn,
            files=files,
        )

    def scoreboard(self, scores: Mapping[str, ArrayLike]) -> dict[str, NabScore]:
        """:meth:`optimize` for each of NAB's three profiles."""
        return {name: self.optimize(scores, name) for name in NAB_PROFILES}


# ---- reading NAB's files ------------------------------------------------------------


def _timestamps(values: Iterable[str]) -> np.ndarray:
    try:
        return np.array([v.strip().replace(" ", "T") for v in values], dtype="datetime64[us]")
    except ValueError as exc:
        raise CorruptDataError(f"bad NAB timestamp: {exc}") from exc


def _read_csv(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    try:
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            idx = [header.index(c) for c in columns]
            cols: dict[str, list[str]] = {c: [] for c in columns}
            for row in reader:
                for c, i in zip(columns, idx, strict=True):
                    cols[c].append(row[i])
    except (OSError, StopIteration, ValueError, IndexError) as exc:
        raise CorruptDataError(f"cannot read columns {list(columns)} of {path}: {exc}") from exc
    return cols


def _floats(values: list[str], where: Path) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError as exc:
        raise CorruptDataError(f"{where}: {exc}") from exc


def window_rows(timestamps: ArrayLike, windows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """NAB windows (pairs of timestamp strings) as row indices of ``timestamps``; each
    timestamp must be one of the file's (NAB's own rule)."""
    ts = np.asarray(timestamps, dtype="datetime64[us]")
    out = []
    for first, last in windows:
        pair = []
        for t in _timestamps([first, last]):
            hits = np.flatnonzero(ts == t)
            if hits.size == 0:
                raise InvalidInputError(f"window timestamp {t} is not a timestamp of the file")
            pair.append(int(hits[0]))
        out.append((pair[0], pair[1]))
    return out


def load_nab(
    root: str | Path, *, files: Iterable[str] | None = None
) -> tuple[NabCorpus, dict[str, np.ndarray]]:
    """Read a NAB checkout: ``(corpus, values)`` from ``root/labels/combined_windows.json``
    and ``root/data/<file>`` (``files``: the relative paths to keep, default all)."""
    root = Path(root)
    try:
        labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    except (OSError, ValueError) as exc:
        raise CorruptDataError(f"cannot read NAB windows under {root}: {exc}") from exc
    names = sorted(labels) if files is None else list(files)
    spec: dict[str, tuple[int, Sequence[tuple[int, int]]]] = {}
    values: dict[str, np.ndarray] = {}
    for name in names:
        if name not in labels:
            raise InvalidInputError(f"{name!r} has no windows in {root}")
        cols = _read_csv(root / "data" / name, ["timestamp", "value"])
        ts = _timestamps(cols["timestamp"])
        spec[name] = (len(ts), window_rows(ts, labels[name]))
        values[name] = _floats(cols["value"], root / "data" / name)
    return NabCorpus(spec), values


def read_nab_results(
    directory: str | Path, detector: str, names: Iterable[str]
) -> dict[str, np.ndarray]:
    """A detector's ``anomaly_score`` column per file from NAB's ``results/<detector>/``
    layout (``<dir>/<folder>/<detector>_<file>``)."""
    directory = Path(directory)
    out = {}
    for name in names:
        folder, file = name.rsplit("/", 1) if "/" in name else ("", name)
        path = directory / folder / f"{detector}_{file}"
        out[name] = _floats(_read_csv(path, ["anomaly_score"])["anomaly_score"], path)
    return out


def detector_likelihoods(
    make: Callable[[], Any],
    values: Mapping[str, ArrayLike],
    *,
    probation_percent: float = PROBATION_PERCENT,
) -> dict[str, np.ndarray]:
    """NAB anomaly scores of a :class:`~edgekit.analytics.Detector` on every file.

    Per file, ``make()`` builds a fresh detector, ``fit`` learns it (and its threshold)
    on the probationary rows, as NAB lets every detector do, and ``score`` runs on the
    rest. A detector whose scores are already NAB anomaly scores (``nab_native = True``)
    gives them as they are (NaN as 0); any other detector's ``s`` becomes
    ``s / (s + threshold)``, 0.5 at its own threshold (``threshold`` 1 when the
    probationary rows gave no finite score to learn it from, a constant series). The
    probationary rows score 0.
    """
    out: dict[str, np.ndarray] = {}
    for name, series in values.items():
        x = np.asarray(series, dtype=np.float64)
        det = make()
        p = max(probation_length(len(x), probation_percent), 2)
        try:
            det.fit(x[:p])
        except InvalidInputError:
            if getattr(det, "threshold", 0.0) is not None:
                raise
            # Fitted, but no finite training score to learn a threshold from (a constant
            # probationary period): its scores are taken on a scale of 1.
        raw = np.nan_to_num(np.asarray(det.score(x[p:]), dtype=np.float64), nan=0.0)
        if not getattr(det, "nab_native", False):
            raw = np.clip(raw, 0.0, None)
            t = 1.0 if det.threshold is None else max(float(det.threshold), 1e-12)
            raw = raw / (raw + t)
        s = np.zeros(len(x))
        s[p:] = np.clip(raw, 0.0, 1.0)
        out[name] = s
    return out
