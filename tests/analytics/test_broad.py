"""edgekit.analytics.broad: BROAD's error measures; on the full BROAD trials (when
../shared/data/broad is there) the filters reproduce the published per-trial RMSE."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgekit.analytics import (
    BroadErrors,
    Madgwick,
    Mahony,
    RobustAhrs,
    broad_error_angles,
    broad_errors,
)
from edgekit.errors import InvalidInputError

BROAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "broad"


def qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ])  # fmt: skip


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    return np.array([math.cos(angle / 2), *(math.sin(angle / 2) * axis)])


def matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def test_heading_and_inclination_split_a_known_error() -> None:
    """error = heading psi about z after a tilt theta about a horizontal axis: the measures
    give psi and theta back, and the total is the angle of the whole rotation matrix."""
    rng = np.random.default_rng(3)
    est, truth, expect = [], [], []
    for _ in range(200):
        psi = rng.uniform(-3.0, 3.0)
        theta = rng.uniform(0.0, 3.0)
        phi = rng.uniform(0, 2 * np.pi)
        err = qmul(axis_angle(np.array([0, 0, 1.0]), psi),
                   axis_angle(np.array([math.cos(phi), math.sin(phi), 0.0]), theta))  # fmt: skip
        t = rng.normal(size=4)
        t /= np.linalg.norm(t)
        est.append(qmul(err, t))
        truth.append(t)
        r = matrix(err)
        total = math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1))
        expect.append((total, abs(psi), theta))
    got = broad_error_angles(np.array(est), np.array(truth))
    assert np.allclose(got, np.array(expect), atol=1e-7)
    # the inclination is the tilt of the error's vertical
    tilt = [math.acos(np.clip(matrix(qmul(e, t * [1, -1, -1, -1]))[2, 2], -1, 1))
            for e, t in zip(est, truth, strict=True)]  # fmt: skip
    assert np.allclose(got[:, 2], tilt, atol=1e-7)


def test_rmse_over_movement_in_degrees() -> None:
    truth = np.tile([1.0, 0.0, 0.0, 0.0], (4, 1))
    est = np.array([axis_angle(np.array([0, 0, 1.0]), math.radians(a)) for a in (1, 2, 3, 90)])
    e = broad_errors(est, truth, np.array([True, True, True, False]))
    assert isinstance(e, BroadErrors)
    assert e.heading_rmse_deg == pytest.approx(math.sqrt((1 + 4 + 9) / 3))
    assert e.total_rmse_deg == pytest.approx(e.heading_rmse_deg)
    assert e.inclination_rmse_deg == pytest.approx(0.0, abs=1e-6)
    assert set(e.as_dict()) == {"total_rmse_deg", "heading_rmse_deg", "inclination_rmse_deg"}
    # sign and scale of the quaternions do not matter
    assert broad_errors(-2 * est, truth, [1, 1, 1, 0]) == pytest.approx(e)


def test_bad_input() -> None:
    q = np.tile([1.0, 0, 0, 0], (3, 1))
    for call in (
        lambda: broad_errors(q[:, :3], q),
        lambda: broad_errors(q, q[:2]),
        lambda: broad_errors(q, q, [True, False]),
        lambda: broad_errors(q, q, [False, False, False]),
        lambda: broad_errors("q", q),
    ):
        with pytest.raises(InvalidInputError):
            call()


# -- the full trials -----------------------------------------------------------------------


def trials() -> list[str]:
    if not BROAD.is_dir():
        return []
    return sorted(p.stem for p in BROAD.glob("*.mat"))


@pytest.mark.skipif(not trials(), reason="BROAD is not in ../shared/data/broad")
def test_published_figures_on_every_trial() -> None:
    """Madgwick (variant c2012, beta 0.12) and Mahony (0.74, 0.0012) equal BROAD's published
    per-trial RMSE within 0.01 deg; the robust filter averages at most 3.5 deg."""
    import scipy.io as scipy_io

    published = {
        kind: json.loads((BROAD / f"results_{kind}_average_rmse.json").read_text())["trials"]
        for kind in ("madgwick", "mahony")
    }
    robust = []
    for name in trials():
        m = scipy_io.loadmat(BROAD / f"{name}.mat")
        fs = float(m["sampling_rate"][0, 0])
        data = [np.ascontiguousarray(m[k], dtype=np.float64) for k in ("imu_gyr", "imu_acc", "imu_mag")]  # fmt: skip
        truth, movement = m["opt_quat"], m["movement"].ravel().astype(bool)
        for kind, f in (("madgwick", Madgwick(0.12, fs, variant="c2012")),
                        ("mahony", Mahony(0.74, 0.0012, fs))):  # fmt: skip
            e = broad_errors(f.update_batch(*data), truth, movement)
            for key, value in published[kind][name]["tagp_parameters"].items():
                assert getattr(e, key) == pytest.approx(value, abs=0.01), (name, kind, key)
        robust.append(broad_errors(RobustAhrs(fs).update_batch(*data), truth, movement))
    assert np.mean([e.total_rmse_deg for e in robust]) <= 3.5
