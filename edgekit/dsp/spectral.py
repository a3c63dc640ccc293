"""librosa-compatible spectral features: STFT, mel spectrogram, MFCC, dB conversion.

Parameter names, defaults and conventions follow librosa 0.11 (``librosa.stft``,
``librosa.feature.melspectrogram``, ``librosa.feature.mfcc``,
``librosa.power_to_db``, ``librosa.filters.mel``). Input is one channel: a 1-D
float32/float64 array (int16 PCM is accepted and scaled by 1/32768 to float32).
Outputs have the input's float precision (float32 for float32 and int16 input).
The work runs in numba kernels in float64 with the FFT of ``numpy.fft`` inside
numba (provided by ``rocket-fft``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from edgekit.dsp._validate import float_audio, kernels, positive_float, positive_int
from edgekit.errors import InvalidInputError

__all__ = [
    "fft_frequencies",
    "get_window",
    "hz_to_mel",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "stft",
]

_PAD_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum", "reflect", "symmetric", "wrap", "empty")  # fmt: skip
_COSINE_WINDOWS = {
    "hann": (0.5, 0.5),
    "hanning": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.50, 0.08),
    "boxcar": (1.0,),
    "rectangular": (1.0,),
    "ones": (1.0,),
}


def hz_to_mel(frequencies: Any, *, htk: bool = False) -> Any:
    """Hz to mels (Slaney's auditory toolbox scale, or HTK's with ``htk=True``)."""
    f = np.asanyarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    if f.ndim:
        log_t = f >= min_log_hz
        mels[log_t] = min_log_mel + np.log(f[log_t] / min_log_hz) / logstep
    elif f >= min_log_hz:
        mels = min_log_mel + np.log(f / min_log_hz) / logstep
    return mels


def mel_to_hz(mels: Any, *, htk: bool = False) -> Any:
    """Mels to Hz, the inverse of :func:`hz_to_mel`."""
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    if m.ndim:
        log_t = m >= min_log_mel
        freqs[log_t] = min_log_hz * np.exp(logstep * (m[log_t] - min_log_mel))
    elif m >= min_log_mel:
        freqs = min_log_hz * np.exp(logstep * (m - min_log_mel))
    return freqs


def mel_frequencies(
    n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False
) -> np.ndarray:
    """``n_mels`` frequencies (Hz) evenly spaced on the mel scale from ``fmin`` to ``fmax``."""
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    out: np.ndarray = mel_to_hz(mels, htk=htk)
    return out


def fft_frequencies(*, sr: float = 22050, n_fft: int = 2048) -> np.ndarray:
    """Centre frequencies (Hz) of the ``1 + n_fft // 2`` rFFT bins."""
    return np.fft.rfftfreq(n=n_fft, d=1.0 / sr)


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | float | None = "slaney",
    dtype: Any = np.float32,
) -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, 1 + n_fft // 2)``, as ``librosa.filters.mel``.

    Args:
        sr: sample rate (Hz).
        n_fft: FFT length (samples).
        n_mels: number of mel bands.
        fmin: lowest frequency (Hz).
        fmax: highest frequency (Hz); ``sr / 2`` when None.
        htk: HTK mel scale instead of Slaney's.
        norm: ``"slaney"`` (area normalisation), None, or a p-norm order per filter.
        dtype: output dtype (librosa's default float32 rounds the weights).
    """
    sr = positive_float(sr, "sr")
    n_fft = positive_int(n_fft, "n_fft")
    n_mels = positive_int(n_mels, "n_mels")
    basis: np.ndarray = _mel_basis(
        sr, n_fft, n_mels, float(fmin), fmax, bool(htk), norm, np.dtype(dtype)
    )
    result: np.ndarray = basis.copy()
    return result


@functools.lru_cache(maxsize=64)
def _mel_basis(
    sr: float,
    n_fft: int,
    n_mels: int,
    fmin: float,
    fmax: float | None,
    htk: bool,
    norm: str | float | None,
    dtype: np.dtype[Any],
) -> np.ndarray:
    if fmax is None:
        fmax = sr / 2
    if not (0.0 <= fmin < fmax):
        raise InvalidInputError(f"need 0 <= fmin < fmax, got fmin={fmin}, fmax={fmax}")
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=dtype)
    fftfreqs = fft_frequencies(sr=sr, n_fft=n_fft)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=float(fmax), htk=htk)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    if isinstance(norm, str):
        if norm != "slaney":
            raise InvalidInputError(f"unsupported norm={norm!r}; use 'slaney', None or a number")
        enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
        weights *= enorm[:, np.newaxis]
    elif norm is not None:
        order = float(norm)
        if order == np.inf:
            length = np.max(np.abs(weights), axis=-1, keepdims=True)
        elif order == 0:
            length = np.sum(weights != 0, axis=-1, keepdims=True).astype(weights.dtype)
        else:
            length = np.sum(np.abs(weights) ** order, axis=-1, keepdims=True) ** (1.0 / order)
        small = length < np.finfo(weights.dtype).tiny
        weights = weights / np.where(small, 1.0, length).astype(weights.dtype)
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=64)
def _sparse_basis(*key: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, values, offset) of each filter's non-zero run."""
    starts, lens, offs, vals = [], [], [], []
    pos = 0
    for row in np.asarray(_mel_basis(*key), dtype=np.float64):
        nz = np.flatnonzero(row)
        if nz.size == 0:
            start, length = 0, 0
        else:
            start, length = int(nz[0]), int(nz[-1] - nz[0] + 1)
        starts.append(start)
        lens.append(length)
        offs.append(pos)
        vals.append(row[start : start + length])
        pos += length
    values = np.concatenate(vals) if vals else np.zeros(0)
    return (
        np.asarray(starts, dtype=np.int64),
        np.asarray(lens, dtype=np.int64),
        np.ascontiguousarray(values, dtype=np.float64),
        np.asarray(offs, dtype=np.int64),
    )


def get_window(window: Any, win_length: int) -> np.ndarray:
    """A periodic window of ``win_length`` samples (float64), as ``scipy.signal.get_window``.

    ``window`` is a name (``"hann"``, ``"hamming"``, ``"blackman"``, ``"boxcar"``) or
    an array of exactly ``win_length`` values.
    """
    if isinstance(window, str):
        coeffs = _COSINE_WINDOWS.get(window)
        if coeffs is None:
            raise InvalidInputError(
                f"unknown window {window!r}; use one of {sorted(_COSINE_WINDOWS)} or an array"
            )
        fac = np.linspace(-np.pi, np.pi, win_length + 1)[:-1]
        w = np.zeros(win_length)
        for k, a in enumerate(coeffs):
            w += a * np.cos(k * fac)
        return w
    arr = np.asarray(window, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != win_length:
        raise InvalidInputError(
            f"window array must be 1-D of length win_length={win_length}, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InvalidInputError("window contains NaN or infinity")
    return arr


@functools.lru_cache(maxsize=64)
def _window_cached(window: Any, win_length: int, n_fft: int) -> tuple[np.ndarray, int, int]:
    return _padded_window(window, win_length, n_fft)


def _padded_window(window: Any, win_length: int, n_fft: int) -> tuple[np.ndarray, int, int]:
    w = get_window(window, win_length)
    lpad = (n_fft - win_length) // 2
    out = np.zeros(n_fft)
    out[lpad : lpad + win_length] = w
    return out, lpad, lpad + win_length


def _frame_setup(
    n_fft: Any, hop_length: Any, win_length: Any, window: Any
) -> tuple[int, int, np.ndarray, int, int]:
    n_fft = positive_int(n_fft, "n_fft")
    win_length = n_fft if win_length is None else positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise InvalidInputError(f"win_length={win_length} must be <= n_fft={n_fft}")
    hop = win_length // 4 if hop_length is None else positive_int(hop_length, "hop_length")
    if isinstance(window, str):
        w, lo, hi = _window_cached(window, win_length, n_fft)
    else:
        w, lo, hi = _padded_window(window, win_length, n_fft)
    return n_fft, hop, w, lo, hi


def _pad(
    y: np.ndarray, n_fft: int, hop: int, center: bool, pad_mode: str
) -> tuple[np.ndarray, int, int]:
    """(samples, offset of frame 0, number of frames); zero padding happens in the kernels."""
    if center:
        if pad_mode not in _PAD_MODES:
            raise InvalidInputError(f"unknown pad_mode {pad_mode!r}; use one of {_PAD_MODES}")
        if pad_mode == "reflect" and y.shape[0] < 2:
            raise InvalidInputError("reflect padding needs at least 2 samples")
        half = n_fft // 2
        n_frames = 1 + (y.shape[0] + 2 * half - n_fft) // hop
        if pad_mode == "constant":
            return np.ascontiguousarray(y), -half, n_frames
        padded = np.pad(y, half, mode=pad_mode)  # type: ignore[call-overload]
        return np.ascontiguousarray(padded), 0, n_frames
    if y.shape[0] < n_fft:
        raise InvalidInputError(
            f"y has {y.shape[0]} samples, fewer than n_fft={n_fft} (with center=False)"
        )
    return np.ascontiguousarray(y), 0, 1 + (y.shape[0] - n_fft) // hop


def stft(
    y: np.ndarray,
    *,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Any = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> np.ndarray:
    """Short-time Fourier transform, shape ``(1 + n_fft // 2, n_frames)``, as ``librosa.stft``.

    Args:
        y: mono samples (float32/float64; int16 is scaled to [-1, 1)).
        n_fft: FFT length (samples).
        hop_length: samples between frames; ``win_length // 4`` when None.
        win_length: window length (samples, centred in ``n_fft``); ``n_fft`` when None.
        window: window name or array of ``win_length`` values.
        center: pad ``n_fft // 2`` samples on both sides so frame t is centred at ``t * hop``.
        pad_mode: ``numpy.pad`` mode used when ``center`` (librosa's default ``"constant"``: zeros).

    Returns:
        complex64 for float32 input, complex128 for float64.
    """
    y = float_audio(y)
    n_fft, hop, w, lo, hi = _frame_setup(n_fft, hop_length, win_length, window)
    yp, offset, n_frames = _pad(y, n_fft, hop, center, pad_mode)
    spec: np.ndarray = kernels().stft_frames(yp, offset, w, lo, hi, n_fft, hop, n_frames)
    return spec.astype(np.complex64) if y.dtype == np.float32 else spec


def _power_value(power: Any) -> float:
    return positive_float(power, "power")


def melspectrogram(
    *,
    y: np.ndarray | None = None,
    sr: float = 22050,
    S: np.ndarray | None = None,
    n_fft: int = 2048,
    hop_length: int = 512,
    win_length: int | None = None,
    window: Any = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    **kwargs: Any,
) -> np.ndarray:
    """Mel-scaled spectrogram ``(n_mels, n_frames)``, as ``librosa.feature.melspectrogram``.

    Args:
        y: mono samples; or give ``S``.
        sr: sample rate (Hz).
        S: a precomputed (power) spectrogram ``(1 + n_fft // 2, n_frames)`` instead of ``y``.
        n_fft: FFT length (samples).
        hop_length: samples between frames.
        win_length: window length (samples); ``n_fft`` when None.
        window: window name or array.
        center: centre frames (pad ``n_fft // 2`` on both sides with ``pad_mode``).
        pad_mode: ``numpy.pad`` mode for ``center``.
        power: exponent of the magnitude (2: power, 1: magnitude).
        **kwargs: mel filter options of :func:`mel_filterbank` (``n_mels``, ``fmin``,
            ``fmax``, ``htk``, ``norm``, ``dtype``).
    """
    sr = positive_float(sr, "sr")
    bad = set(kwargs) - {"n_mels", "fmin", "fmax", "htk", "norm", "dtype"}
    if bad:
        raise InvalidInputError(f"unexpected keyword arguments: {sorted(bad)}")
    if S is not None:
        return _mel_from_spectrogram(S, sr, kwargs)
    if y is None:
        raise InvalidInputError("give y (samples) or S (a spectrogram)")
    y = float_audio(y)
    args = (sr, n_fft, hop_length, win_length, window, center, pad_mode, power)
    plan = _memo(("mel", args, tuple(sorted(kwargs.items()))), lambda: _mel_plan(*args, kwargs))
    n_fft, hop, w, lo, hi, bstart, blen, bvals, boff, center, pad_mode, power = plan
    yp, offset, n_frames = _pad(y, n_fft, hop, center, pad_mode)
    mel: np.ndarray = kernels().mel_spectrogram(
        yp, offset, w, lo, hi, n_fft, hop, n_frames, power, bstart, blen, bvals, boff
    )
    return mel.astype(np.float32) if y.dtype == np.float32 else mel


def _basis_for(sr: float, n_fft: int, kwargs: dict[str, Any]) -> np.ndarray:
    return _mel_basis(*_basis_key(sr, n_fft, kwargs))


def _basis_key(sr: float, n_fft: int, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    n_mels = positive_int(kwargs.get("n_mels", 128), "n_mels")
    fmax = kwargs.get("fmax")
    norm = kwargs.get("norm", "slaney")
    if norm is not None and not isinstance(norm, str):
        norm = float(norm)
    return (
        sr,
        n_fft,
        n_mels,
        float(kwargs.get("fmin", 0.0)),
        None if fmax is None else float(fmax),
        bool(kwargs.get("htk", False)),
        norm,
        np.dtype(kwargs.get("dtype", np.float32)),
    )


def _mel_plan(
    sr: float,
    n_fft: Any,
    hop_length: Any,
    win_length: Any,
    window: Any,
    center: Any,
    pad_mode: Any,
    power: Any,
    kwargs: dict[str, Any],
) -> tuple[Any, ...]:
    n_fft, hop, w, lo, hi = _frame_setup(n_fft, hop_length, win_length, window)
    bstart, blen, bvals, boff = _sparse_basis(*_basis_key(sr, n_fft, kwargs))
    if pad_mode not in _PAD_MODES:
        raise InvalidInputError(f"unknown pad_mode {pad_mode!r}; use one of {_PAD_MODES}")
    return (
        n_fft,
        hop,
        w,
        lo,
        hi,
        bstart,
        blen,
        bvals,
        boff,
        bool(center),
        pad_mode,
        _power_value(power),
    )


def _mel_from_spectrogram(S: Any, sr: float, kwargs: dict[str, Any]) -> np.ndarray:
    S = _spectrogram_input(S, "S")
    n_fft = 2 * (S.shape[0] - 1)
    basis = _basis_for(sr, n_fft, kwargs)
    out: np.ndarray = np.einsum("ft,mf->mt", S, basis, optimize=True)
    return out


def _spectrogram_input(S: Any, name: str) -> np.ndarray:
    if not isinstance(S, np.ndarray):
        raise InvalidInputError(f"{name} must be a numpy array, got {type(S).__name__}")
    if S.dtype not in (np.float32, np.float64):
        raise InvalidInputError(f"{name} must be float32 or float64, got {S.dtype}")
    if S.ndim != 2 or S.size == 0:
        raise InvalidInputError(
            f"{name} must be a non-empty 2-D (features, frames) array, got shape {S.shape}"
        )
    if not np.isfinite(S).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    return S


def power_to_db(
    S: np.ndarray,
    *,
    ref: float | Callable[[np.ndarray], Any] = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Power to decibels, ``10 log10(max(amin, S) / ref)``, as ``librosa.power_to_db``.

    Args:
        S: a power spectrogram (float32/float64, any shape).
        ref: reference power (or a function of ``S`` such as ``np.max``).
        amin: smallest power considered (avoids log of 0).
        top_db: floor the result at ``max - top_db`` dB; None disables it. Streaming
            classes never apply it (it would make a frame depend on the future).
    """
    if not isinstance(S, np.ndarray) or S.dtype not in (np.float32, np.float64) or S.size == 0:
        raise InvalidInputError("S must be a non-empty float32 or float64 array")
    if not np.isfinite(S).all():
        raise InvalidInputError("S contains NaN or infinity")
    amin = positive_float(amin, "amin")
    ref_value = float(np.abs(ref(S))) if callable(ref) else abs(float(ref))
    if top_db is not None and (not np.isfinite(top_db) or top_db < 0):
        raise InvalidInputError(f"top_db must be a non-negative number or None, got {top_db}")
    ref_db = 10.0 * np.log10(max(amin, ref_value))
    out = np.array(S, dtype=np.float64, order="C", copy=True)
    kernels().power_to_db_inplace(out, amin, ref_db, -1.0 if top_db is None else float(top_db))
    return out.astype(S.dtype, copy=False)


@functools.lru_cache(maxsize=32)
def _dct_matrix(n_out: int, n_in: int, norm: str | None) -> np.ndarray:
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    mat = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2.0 * n_in))
    if norm == "ortho":
        mat[0] *= np.sqrt(1.0 / (4.0 * n_in))
        mat[1:] *= np.sqrt(1.0 / (2.0 * n_in))
    mat.setflags(write=False)
    result: np.ndarray = mat
    return result


def _dct_for(n_mfcc: Any, n_mels: int, dct_type: Any, norm: Any, lifter: Any) -> np.ndarray:
    n_mfcc = positive_int(n_mfcc, "n_mfcc")
    if dct_type != 2:
        raise InvalidInputError(f"only dct_type=2 is supported, got {dct_type!r}")
    if norm not in ("ortho", None):
        raise InvalidInputError(f"norm must be 'ortho' or None, got {norm!r}")
    if n_mfcc > n_mels:
        raise InvalidInputError(f"n_mfcc={n_mfcc} must be <= n_mels={n_mels}")
    mat = _dct_matrix(n_mfcc, n_mels, norm)
    lifter = float(lifter)
    if lifter < 0 or not np.isfinite(lifter):
        raise InvalidInputError(f"lifter must be a non-negative number, got {lifter}")
    if lifter > 0:
        li = np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter)
        mat = mat * (1 + (lifter / 2) * li)[:, None]
    return mat


def mfcc(
    *,
    y: np.ndarray | None = None,
    sr: float = 22050,
    S: np.ndarray | None = None,
    n_mfcc: int = 20,
    dct_type: int = 2,
    norm: str | None = "ortho",
    lifter: float = 0,
    mel_norm: str | float | None = "slaney",
    top_db: float | None = 80.0,
    **kwargs: Any,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients ``(n_mfcc, n_frames)``, as ``librosa.feature.mfcc``.

    Args:
        y: mono samples; or give ``S``.
        sr: sample rate (Hz).
        S: a precomputed log-power mel spectrogram (dB) instead of ``y``.
        n_mfcc: number of coefficients.
        dct_type: only 2 (DCT-II).
        norm: ``"ortho"`` or None (DCT normalisation).
        lifter: cepstral liftering coefficient (0: none).
        mel_norm: the mel filters' ``norm``.
        top_db: the ``power_to_db`` floor (edgekit extension; librosa always uses 80).
        **kwargs: :func:`melspectrogram` options (``n_fft``, ``hop_length``,
            ``win_length``, ``window``, ``center``, ``pad_mode``, ``power``, ``n_mels``,
            ``fmin``, ``fmax``, ``htk``).
    """
    if S is not None:
        S = _spectrogram_input(S, "S")
        mat = _dct_for(n_mfcc, S.shape[0], dct_type, norm, lifter)
        cep: np.ndarray = kernels().dct_rows(np.ascontiguousarray(S, dtype=np.float64), mat)
        return cep.astype(S.dtype, copy=False)
    if y is None:
        raise InvalidInputError("give y (samples) or S (a log-power mel spectrogram)")
    y = float_audio(y)
    args = (sr, n_mfcc, dct_type, norm, lifter, mel_norm, top_db)
    plan = _memo(("mfcc", args, tuple(sorted(kwargs.items()))), lambda: _mfcc_plan(*args, kwargs))
    n_fft, hop, w, lo, hi, bstart, blen, bvals, boff, mat, center, pad_mode, power, floor = plan
    yp, offset, n_frames = _pad(y, n_fft, hop, center, pad_mode)
    out: np.ndarray = kernels().mfcc_features(
        yp, offset, w, lo, hi, n_fft, hop, n_frames, power, bstart, blen, bvals, boff, 1e-10,
        0.0, floor, mat,
    )  # fmt: skip
    result: np.ndarray = out.astype(np.float32) if y.dtype == np.float32 else out
    return result


_PLANS: dict[Any, Any] = {}


def _memo(key: Any, build: Callable[[], Any]) -> Any:
    """``build()`` once per hashable ``key`` (validated argument sets only; a few dozen kept)."""
    try:
        return _PLANS[key]
    except KeyError:
        pass
    except TypeError:  # unhashable argument (a window array): no caching
        return build()
    plan = build()
    if len(_PLANS) >= 64:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _mfcc_plan(
    sr: Any,
    n_mfcc: Any,
    dct_type: Any,
    norm: Any,
    lifter: Any,
    mel_norm: Any,
    top_db: Any,
    kwargs: dict[str, Any],
) -> tuple[Any, ...]:
    sr = positive_float(sr, "sr")
    frame_keys = {"n_fft", "hop_length", "win_length", "window", "center", "pad_mode", "power"}
    mel_keys = {"n_mels", "fmin", "fmax", "htk", "dtype"}
    bad = set(kwargs) - frame_keys - mel_keys
    if bad:
        raise InvalidInputError(f"unexpected keyword arguments: {sorted(bad)}")
    n_fft, hop, w, lo, hi = _frame_setup(
        kwargs.get("n_fft", 2048), kwargs.get("hop_length", 512), kwargs.get("win_length"),
        kwargs.get("window", "hann"),
    )  # fmt: skip
    mel_kwargs = {k: kwargs[k] for k in mel_keys if k in kwargs}
    mel_kwargs["norm"] = mel_norm
    key = _basis_key(sr, n_fft, mel_kwargs)
    bstart, blen, bvals, boff = _sparse_basis(*key)
    mat = _dct_for(n_mfcc, bstart.shape[0], dct_type, norm, lifter)
    if top_db is not None and (not np.isfinite(top_db) or top_db < 0):
        raise InvalidInputError(f"top_db must be a non-negative number or None, got {top_db}")
    pad_mode = kwargs.get("pad_mode", "constant")
    if pad_mode not in _PAD_MODES:
        raise InvalidInputError(f"unknown pad_mode {pad_mode!r}; use one of {_PAD_MODES}")
    return (
        n_fft, hop, w, lo, hi, bstart, blen, bvals, boff, mat, bool(kwargs.get("center", True)),
        pad_mode, _power_value(kwargs.get("power", 2.0)), -1.0 if top_db is None else float(top_db),
    )  # fmt: skip
