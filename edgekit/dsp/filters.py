"""IIR filtering in second-order sections (scipy-compatible), Butterworth design, pre-emphasis."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.dsp._audio_input import checked_block
from edgekit.dsp._validate import audio, kernels, positive_float, positive_int
from edgekit.errors import InvalidInputError

__all__ = ["SosFilter", "butter", "preemphasis", "sosfilt"]

_F64 = np.dtype(np.float64)
_BTYPES = {
    "lowpass": "lowpass", "low": "lowpass", "lp": "lowpass",
    "highpass": "highpass", "high": "highpass", "hp": "highpass",
    "bandpass": "bandpass", "band": "bandpass", "bp": "bandpass",
    "bandstop": "bandstop", "stop": "bandstop", "bs": "bandstop",
}  # fmt: skip


def _check_sos(sos: Any) -> np.ndarray:
    try:
        arr = np.array(sos, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"sos must be an (n_sections, 6) array of numbers: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] != 6 or arr.shape[0] == 0:
        raise InvalidInputError(f"sos must have shape (n_sections, 6), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError("sos contains NaN or infinity")
    if not np.all(arr[:, 3] == 1.0):
        raise InvalidInputError("sos[:, 3] (each section's a0) must be 1")
    return arr


def _check_zi(zi: Any, n_sections: int) -> np.ndarray:
    arr = np.array(zi, dtype=np.float64, order="C", copy=True)
    if arr.shape != (n_sections, 2):
        raise InvalidInputError(f"zi must have shape ({n_sections}, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError("zi contains NaN or infinity")
    return arr


def sosfilt(sos: Any, x: np.ndarray, zi: Any = None) -> Any:
    """Filter ``x`` with second-order sections, as ``scipy.signal.sosfilt`` (1-D).

    Args:
        sos: ``(n_sections, 6)`` rows ``[b0, b1, b2, 1, a1, a2]``.
        x: samples (float32/float64; int16 is scaled by 1/32768).
        zi: initial state ``(n_sections, 2)``; when given, the final state is returned too.

    Returns:
        ``y`` (float64 for float64 input, float32 otherwise), or ``(y, zf)`` with ``zi``.
    """
    sos_arr = _check_sos(sos)
    x = audio(x, "x")
    state = np.zeros((sos_arr.shape[0], 2)) if zi is None else _check_zi(zi, sos_arr.shape[0])
    k = kernels()
    fn = k.sosfilt_f64 if x.dtype == _F64 else k.sosfilt_f32
    y = fn(sos_arr, np.ascontiguousarray(x), state)
    return y if zi is None else (y, state)


class SosFilter:
    """Streaming :func:`sosfilt`: the state carries from block to block.

    Filtering blocks one after the other gives the same samples as one
    :func:`sosfilt` call on the concatenated signal.

    Args:
        sos: ``(n_sections, 6)`` second-order sections (e.g. from :func:`butter`).
        zi: initial state ``(n_sections, 2)``; zeros when None.
    """

    def __init__(self, sos: Any, zi: Any = None) -> None:
        self.sos = _check_sos(sos)
        n = self.sos.shape[0]
        self._zi0 = np.zeros((n, 2)) if zi is None else _check_zi(zi, n)
        self.zi = self._zi0.copy()
        k = kernels()
        self._f64 = k.sosfilt_f64
        self._f32 = k.sosfilt_f32

    def reset(self) -> None:
        """Return to the initial state."""
        self.zi[:] = self._zi0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Filter one block (int16 scaled by 1/32768, float32 or float64)."""
        block = checked_block(block)
        fn = self._f64 if block.dtype is _F64 else self._f32
        y: np.ndarray = fn(self.sos, block, self.zi)
        if not y.shape[0]:
            raise InvalidInputError(
                "block contains NaN or infinity (the filter state is unchanged)"
            )
        return y


def preemphasis(
    y: np.ndarray, *, coef: float = 0.97, zi: float | None = None, return_zf: bool = False
) -> Any:
    """Pre-emphasis ``y[n] - coef * y[n-1]``, as ``librosa.effects.preemphasis`` (1-D).

    Args:
        y: samples (float32/float64; int16 is scaled by 1/32768).
        coef: pre-emphasis coefficient.
        zi: initial filter state (added to the first output); librosa's default
            ``2 * y[0] - y[1]`` when None.
        return_zf: also return the final state, to continue on the next block.
    """
    y = audio(y, "y")
    coef_f = float(coef)
    if not np.isfinite(coef_f):
        raise InvalidInputError(f"coef must be finite, got {coef!r}")
    scale = 1.0 / 32768.0 if y.dtype == np.int16 else 1.0
    if zi is None:
        zi_v = (2.0 * float(y[0]) - float(y[1])) * scale if y.shape[0] > 1 else float(y[0]) * scale
    else:
        zi_v = float(np.asarray(zi, dtype=np.float64).reshape(-1)[0])
        if not np.isfinite(zi_v):
            raise InvalidInputError("zi is not finite")
    state = np.array([zi_v])
    k = kernels()
    fn = k.preemphasis_f64 if y.dtype == _F64 else k.preemphasis_f32
    out = fn(np.ascontiguousarray(y), coef_f, state)
    if return_zf:
        return out, state.astype(out.dtype)
    return out


# --- Butterworth design (bilinear transform, scipy's zpk2sos pairing) ---------


def butter(order: int, cutoff: Any, btype: str = "lowpass", sr: float = 2.0) -> np.ndarray:
    """Digital Butterworth filter as second-order sections, as ``scipy.signal.butter(..., output="sos")``.

    Args:
        order: filter order.
        cutoff: cutoff frequency (Hz), or a ``(low, high)`` pair for band filters.
        btype: ``"lowpass"``, ``"highpass"``, ``"bandpass"`` or ``"bandstop"``.
        sr: sample rate (Hz); with the default 2.0, ``cutoff`` is relative to Nyquist.

    Returns:
        ``(n_sections, 6)`` float64 array for :func:`sosfilt` / :class:`SosFilter`.
    """
    order = positive_int(order, "order")
    sr = positive_float(sr, "sr")
    kind = _BTYPES.get(btype) if isinstance(btype, str) else None
    if kind is None:
        raise InvalidInputError(
            f"btype must be one of {sorted(set(_BTYPES.values()))}, got {btype!r}"
        )
    wn = np.atleast_1d(np.asarray(cutoff, dtype=np.float64))
    band = kind in ("bandpass", "bandstop")
    if wn.shape != ((2,) if band else (1,)):
        what = "a (low, high) pair" if band else "one frequency"
        raise InvalidInputError(f"{kind} needs cutoff as {what}, got {cutoff!r}")
    wn = 2.0 * wn / sr
    if not np.all(np.isfinite(wn)) or np.any(wn <= 0) or np.any(wn >= 1):
        raise InvalidInputError(f"cutoff must be in (0, sr/2) = (0, {sr / 2}), got {cutoff!r}")
    if band and not wn[0] < wn[1]:
        raise InvalidInputError(f"band cutoffs must be increasing, got {cutoff!r}")
    # analog prototype
    m = np.arange(-order + 1, order, 2)
    p = -np.exp(1j * np.pi * m / (2 * order))
    z = np.zeros(0, dtype=complex)
    k = 1.0
    fs = 2.0
    warped = 2 * fs * np.tan(np.pi * wn / fs)
    degree = len(p) - len(z)
    if kind == "lowpass":
        z, p, k = z * warped[0], p * warped[0], k * warped[0] ** degree
    elif kind == "highpass":
        wo = warped[0]
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z = np.append(wo / z, np.zeros(degree))
        p = wo / p
    else:
        bw = warped[1] - warped[0]
        wo = np.sqrt(warped[0] * warped[1])
        if kind == "bandpass":
            z_lp, p_lp = z * bw / 2, p * bw / 2
            k = k * bw**degree
            z = np.append(
                np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2))),
                np.zeros(degree),
            )
            p = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
        else:
            k = k * np.real(np.prod(-z) / np.prod(-p))
            z_hp, p_hp = (bw / 2) / z, (bw / 2) / p
            z = np.concatenate(
                (
                    z_hp + np.sqrt(z_hp**2 - wo**2),
                    z_hp - np.sqrt(z_hp**2 - wo**2),
                    np.full(degree, +1j * wo),
                    np.full(degree, -1j * wo),
                )
            )
            p = np.concatenate((p_hp + np.sqrt(p_hp**2 - wo**2), p_hp - np.sqrt(p_hp**2 - wo**2)))
    # bilinear transform
    fs2 = 2.0 * fs
    degree = len(p) - len(z)
    k = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    z = np.append((fs2 + z) / (fs2 - z), -np.ones(degree))
    p = (fs2 + p) / (fs2 - p)
    return _zpk2sos(z, p, float(k))


def _conjugate_split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(complex values with positive imaginary part, real values), sorted as scipy does."""
    values = np.atleast_1d(values)
    if values.size == 0:
        return values, values
    tol = 100 * np.finfo(np.float64).eps
    values = values[np.lexsort((abs(values.imag), values.real))]
    real_mask = abs(values.imag) <= tol * abs(values)
    reals = values[real_mask].real
    if real_mask.all():
        return np.array([]), reals
    rest = values[~real_mask]
    pos = rest[rest.imag > 0]
    neg = rest[rest.imag < 0]
    if len(pos) != len(neg):
        raise InvalidInputError("complex value without its conjugate")
    same = np.diff(pos.real) <= tol * abs(pos[:-1])
    edges = np.diff(np.concatenate(([0], same, [0])))
    for start, stop in zip(np.nonzero(edges > 0)[0], np.nonzero(edges < 0)[0] + 1, strict=True):
        for chunk in (pos[start:stop], neg[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    return (pos + neg.conj()) / 2, reals


def _section(zeros: list[complex], poles: list[complex]) -> np.ndarray:
    row = np.zeros(6)
    b = np.atleast_1d(np.real_if_close(np.poly(zeros))) if zeros else np.array([1.0])
    a = np.atleast_1d(np.real_if_close(np.poly(poles))) if poles else np.array([1.0])
    row[3 - len(b) : 3] = np.real(b)
    row[6 - len(a) : 6] = np.real(a)
    return row


def _nearest(values: np.ndarray, target: complex, which: str) -> int:
    order = np.argsort(np.abs(values - target))
    if which == "any":
        return int(order[0])
    mask = np.isreal(values[order])
    if which == "complex":
        mask = ~mask
    return int(order[np.nonzero(mask)[0][0]])


def _zpk2sos(z: np.ndarray, p: np.ndarray, k: float) -> np.ndarray:
    """Digital zeros/poles/gain to sections with scipy's "nearest" pairing (worst poles last)."""
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p = np.concatenate((p, [0.0]))
        z = np.concatenate((z, [0.0]))
    z = np.concatenate(_conjugate_split(z))
    p = np.concatenate(_conjugate_split(p))
    sos = np.zeros((n_sections, 6))

    def worst(values: np.ndarray) -> int:
        return int(np.argmin(np.abs(1 - np.abs(values))))

    for si in range(n_sections - 1, -1, -1):
        i1 = worst(p)
        p1 = p[i1]
        p = np.delete(p, i1)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            iz = _nearest(z, p1, "real")
            z1 = z[iz]
            z = np.delete(z, iz)
            sos[si] = _section([z1, 0], [p1, 0])
        elif (
            len(p) + 1 == len(z)
            and not np.isreal(p1)
            and np.isreal(p).sum() == 1
            and np.isreal(z).sum() == 1
        ):
            iz = _nearest(z, p1, "complex")
            z1 = z[iz]
            z = np.delete(z, iz)
            sos[si] = _section([z1, z1.conj()], [p1, p1.conj()])
        else:
            if np.isreal(p1):
                reals = np.flatnonzero(np.isreal(p))
                i2 = int(reals[worst(p[reals])])
                p2 = p[i2]
                p = np.delete(p, i2)
            else:
                p2 = p1.conj()
            if len(z) > 0:
                iz = _nearest(z, p1, "any")
                z1 = z[iz]
                z = np.delete(z, iz)
                if not np.isreal(z1):
                    sos[si] = _section([z1, z1.conj()], [p1, p2])
                elif len(z) > 0:
                    iz2 = _nearest(z, p1, "real")
                    z2 = z[iz2]
                    z = np.delete(z, iz2)
                    sos[si] = _section([z1, z2], [p1, p2])
                else:
                    sos[si] = _section([z1], [p1, p2])
            else:
                sos[si] = _section([], [p1, p2])
    sos[0][:3] *= k
    return sos
