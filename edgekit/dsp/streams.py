"""Streaming mel / log-mel / MFCC features: blocks of any size in, finished frames out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from edgekit._jit import kernel_view
from edgekit.dsp._validate import AUDIO_DTYPES, kernels, positive_float, positive_int
from edgekit.dsp.spectral import _basis_key, _dct_for, _frame_setup, _sparse_basis
from edgekit.errors import InvalidInputError

__all__ = ["FeatureStream", "MelStream", "MfccStream"]

_KINDS = {"mel": 0, "log_mel": 1, "mfcc": 2}
_F64 = np.dtype(np.float64)


class FeatureStream:
    """Mel, log-mel (dB) or MFCC frames of a signal that arrives block by block.

    Every call returns the frames completed by the block, shape
    ``(n_features, n_new_frames)``; concatenating the outputs along axis 1 gives
    exactly what the batch function returns for the whole signal with
    ``center=False`` (``melspectrogram``, ``power_to_db(..., top_db=None)``,
    ``mfcc(..., top_db=None)``), whatever the block sizes.

    There is no ``top_db`` clipping: librosa floors dB values at the loudest frame
    of the whole clip minus ``top_db``, which would make a frame depend on the
    future. Frames are not centred (no padding): frame ``t`` covers samples
    ``[t * hop_length, t * hop_length + n_fft)``.

    Blocks are int16 PCM (scaled by 1/32768), float32 or float64; the output is
    float64 for float64 blocks and float32 otherwise.

    Args:
        kind: ``"mel"`` (power), ``"log_mel"`` (dB) or ``"mfcc"``.
        sr: sample rate (Hz).
        n_fft: FFT length (samples).
        hop_length: samples between frames.
        win_length: window length (samples); ``n_fft`` when None.
        window: window name or array.
        power: magnitude exponent.
        n_mels: mel bands.
        fmin: lowest frequency (Hz).
        fmax: highest frequency (Hz); ``sr / 2`` when None.
        htk: HTK mel scale.
        norm: mel filter normalisation (``"slaney"``, None or a p-norm order).
        n_mfcc: MFCC coefficients (``kind="mfcc"``).
        dct_norm: ``"ortho"`` or None.
        lifter: cepstral liftering (0: none).
        ref: dB reference power.
        amin: smallest power considered (dB kinds).
        block_size: if set, every block must have exactly this many samples.
    """

    def __init__(
        self,
        kind: str = "mel",
        *,
        sr: float = 22050,
        n_fft: int = 2048,
        hop_length: int = 512,
        win_length: int | None = None,
        window: Any = "hann",
        power: float = 2.0,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm: str | float | None = "slaney",
        n_mfcc: int = 20,
        dct_norm: str | None = "ortho",
        lifter: float = 0.0,
        ref: float = 1.0,
        amin: float = 1e-10,
        block_size: int | None = None,
    ) -> None:
        if kind not in _KINDS:
            raise InvalidInputError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
        self.kind = kind
        self.sr = positive_float(sr, "sr")
        n_fft_i, hop, w, lo, hi = _frame_setup(n_fft, hop_length, win_length, window)
        self.n_fft = n_fft_i
        self.hop_length = hop
        self.block_size = None if block_size is None else positive_int(block_size, "block_size")
        key = _basis_key(
            self.sr,
            n_fft_i,
            {"n_mels": n_mels, "fmin": fmin, "fmax": fmax, "htk": htk, "norm": norm},
        )
        bstart, blen, bvals, boff = _sparse_basis(*key)
        n_mels_i = int(bstart.shape[0])
        if kind == "mfcc":
            dct = _dct_for(n_mfcc, n_mels_i, 2, dct_norm, lifter)
            n_mfcc_i = int(dct.shape[0])
        else:
            dct = np.zeros((0, n_mels_i))
            n_mfcc_i = 0
        self.n_features = n_mfcc_i if kind == "mfcc" else n_mels_i
        power_f = positive_float(power, "power")
        amin_f = positive_float(amin, "amin")
        ref_db = 10.0 * np.log10(max(amin_f, abs(float(ref))))
        k = kernels()
        self._ip = np.concatenate(
            [
                np.array(
                    [_KINDS[kind], n_fft_i, hop, lo, hi, n_mels_i, n_mfcc_i, self.block_size or 0],
                    dtype=np.int64,
                ),
                bstart,
                blen,
                boff,
            ]
        )
        self._fp = np.concatenate([np.array([power_f, amin_f, ref_db]), w, bvals, dct.ravel()])
        self._buf = np.zeros(n_fft_i)
        self._state = np.zeros(1, dtype=np.int64)
        self._f64: Callable[..., np.ndarray] = k.feature_stream_f64
        self._f32: Callable[..., np.ndarray] = k.feature_stream_f32

    def reset(self) -> None:
        """Drop buffered samples; the next block starts a new signal."""
        self._state[0] = 0

    @property
    def pending_samples(self) -> int:
        """Samples buffered towards the next frame."""
        return int(self._state[0])

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed one block; return the frames it completes, ``(n_features, n_new_frames)``."""
        if (
            type(block) is not np.ndarray
            or block.ndim != 1
            or block.dtype not in AUDIO_DTYPES
            or not block.shape[0]
            or (self.block_size is not None and block.shape[0] != self.block_size)
            or not block.flags.c_contiguous
            or not block.flags.writeable
        ):
            block = self._coerce(block)
        fn = self._f64 if block.dtype is _F64 else self._f32
        out = fn(block, self._buf, self._state, self._fp, self._ip)
        if out.shape[0] == 0:
            raise InvalidInputError(
                "block contains NaN or infinity (the stream state is unchanged)"
            )
        return out

    def _coerce(self, block: Any) -> np.ndarray:
        """A valid block as a C-contiguous array, or InvalidInputError with the reason."""
        if (
            isinstance(block, np.ndarray)
            and block.ndim == 1
            and block.dtype in AUDIO_DTYPES
            and block.shape[0]
            and (self.block_size is None or block.shape[0] == self.block_size)
        ):
            return kernel_view(np.ascontiguousarray(block))  # (see edgekit._jit.kernel_view)
        self._reject(block)

    def _reject(self, block: Any) -> NoReturn:
        if not isinstance(block, np.ndarray):
            raise InvalidInputError(f"block must be a numpy array, got {type(block).__name__}")
        if block.dtype not in AUDIO_DTYPES:
            raise InvalidInputError(f"block must be int16, float32 or float64, got {block.dtype}")
        if block.ndim != 1:
            raise InvalidInputError(f"block must be 1-D (mono), got shape {block.shape}")
        if block.shape[0] == 0:
            raise InvalidInputError("block is empty")
        raise InvalidInputError(
            f"block has {block.shape[0]} samples; this stream takes blocks of {self.block_size}"
        )


class MelStream(FeatureStream):
    """:class:`FeatureStream` of mel power frames (``log=True``: dB frames); same arguments."""

    def __init__(self, *, log: bool = False, **kwargs: Any) -> None:
        super().__init__("log_mel" if log else "mel", **kwargs)


class MfccStream(FeatureStream):
    """:class:`FeatureStream` of MFCC frames; same arguments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("mfcc", **kwargs)
