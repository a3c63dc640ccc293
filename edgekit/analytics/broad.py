"""BROAD's error measures for orientation estimates (Laidig et al., "BROAD - A Benchmark
for Robust Inertial Orientation Estimation", Data 6(7), 2021).

Both the estimate and the ground truth are ENU quaternions ``(w, x, y, z)`` rotating
sensor into earth coordinates (the filters of :mod:`edgekit.analytics.fusion` give
ENU; BROAD's evaluation turns the north-west-up output of Madgwick's C code into ENU
with a quarter turn about z first). The error quaternion expressed in the earth frame,
``e = q_est * conj(q_true)``, splits into

- total error: its whole rotation angle, ``2 acos(|e_w|)``;
- heading error: its rotation about the vertical, ``2 atan(|e_z / e_w|)``;
- inclination error: the rest (the tilt of the vertical), ``2 acos(sqrt(e_w^2 + e_z^2))``,

and each is reduced to a root mean square over the movement samples (those the trial
marks in ``movement``; samples whose error is NaN are left out), in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgekit._snapshot import Snapshot
from edgekit.errors import InvalidInputError

__all__ = ["BroadErrors", "broad_error_angles", "broad_errors"]


@dataclass(frozen=True)
class BroadErrors(Snapshot):
    """BROAD's three RMSE figures of one trial, degrees."""

    total_rmse_deg: float
    heading_rmse_deg: float
    inclination_rmse_deg: float


def _quats(name: str, q: ArrayLike) -> NDArray[np.float64]:
    try:
        a = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numbers, shape (n, 4): {exc}") from exc
    if a.ndim != 2 or a.shape[1] != 4:
        raise InvalidInputError(f"{name} must have shape (n, 4) (w, x, y, z), got {a.shape}")
    return a


def broad_error_angles(estimate: ArrayLike, truth: ArrayLike) -> NDArray[np.float64]:
    """Per-sample total, heading and inclination errors, radians, shape (n, 3)."""
    q = _quats("estimate", estimate)
    t = _quats("truth", truth)
    if q.shape != t.shape:
        raise InvalidInputError(f"estimate {q.shape} and truth {t.shape} differ in shape")
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    aw, ax, ay, az = q.T
    bw, bx, by, bz = t.T
    bx, by, bz = -bx, -by, -bz  # conj(truth)
    ew = aw * bw - ax * bx - ay * by - az * bz
    ex = aw * bx + ax * bw + ay * bz - az * by
    ey = aw * by - ax * bz + ay * bw + az * bx
    ez = aw * bz + ax * by - ay * bx + az * bw
    n = np.sqrt(ew * ew + ex * ex + ey * ey + ez * ez)
    ew = ew / n
    ez = ez / n
    out = np.empty((q.shape[0], 3))
    out[:, 0] = 2.0 * np.arccos(np.clip(np.abs(ew), 0.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 1] = 2.0 * np.arctan(np.abs(ez / ew))
    out[:, 2] = 2.0 * np.arccos(np.clip(np.sqrt(ew * ew + ez * ez), 0.0, 1.0))
    return out


def broad_errors(
    estimate: ArrayLike, truth: ArrayLike, movement: ArrayLike | None = None
) -> BroadErrors:
    """BROAD's total, heading and inclination RMSE (degrees) of ENU ``estimate`` against
    ``truth``, both (n, 4), over the samples where ``movement`` (n,) is true (all when
    None)."""
    angles = broad_error_angles(estimate, truth)
    if movement is not None:
        mask = np.asarray(movement).reshape(-1)
        if mask.shape[0] != angles.shape[0]:
            raise InvalidInputError(f"movement has {mask.shape[0]} samples, the estimate {angles.shape[0]}")  # fmt: skip
        angles = angles[mask.astype(bool)]
    if angles.shape[0] == 0:
        raise InvalidInputError("no samples to score (movement selects none)")
    with np.errstate(invalid="ignore"):
        rmse = np.degrees(np.sqrt(np.nanmean(angles * angles, axis=0)))
    return BroadErrors(float(rmse[0]), float(rmse[1]), float(rmse[2]))
