"""Voice activity detection: Silero VAD's ONNX model, block by block, with speech segments."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.dsp._audio_input import samples, to_float
from edgekit.errors import InvalidInputError
from edgekit.infer import InferenceEngine
from edgekit.pipelines._audio import package_dir, read_wav

__all__ = ["SpeechSegment", "VoiceActivityDetector", "silero_model_path"]


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of speech, in seconds from the start of the stream."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``, in seconds."""
        return self.end_s - self.start_s


def silero_model_path() -> Path:
    """Path of ``silero_vad.onnx`` in the installed ``silero-vad`` package (found, not imported).

    Raises:
        BackendUnavailableError: silero-vad is not installed.
    """
    folder = package_dir(
        "silero_vad",
        "silero-vad (the Silero VAD model)",
        extra=None,
        hint="install it with: pip install --no-deps silero-vad (its dependencies would pull torch)",
    )
    return folder / "data" / "silero_vad.onnx"


class VoiceActivityDetector:
    """Speech segments of a stream, from Silero VAD's per-window speech probabilities.

    Audio is cut into windows of 512 samples at 16 kHz (256 at 8 kHz); each window
    runs through the model with the last 64 (32) samples of the previous window in
    front and the model's recurrent state carried, as silero's ``OnnxWrapper`` does.
    The segmentation is silero's ``get_speech_timestamps`` (without
    ``max_speech_duration_s``), made streaming: speech starts at a window whose
    probability is ``>= threshold``; it ends where a run of windows below
    ``threshold - 0.15`` begins that lasts ``min_silence_s``; segments not longer than
    ``min_speech_s`` are dropped; each kept segment is widened by ``speech_pad_s`` on
    both sides (split in the middle when two segments are closer than twice that).

    Args:
        threshold: speech probability threshold (0..1).
        min_speech_s: shortest segment kept, in seconds.
        min_silence_s: silence that ends a segment, in seconds.
        speech_pad_s: padding added to each side of a segment, in seconds.
        sr: sample rate: 16000 or 8000 Hz.
        model: path of a Silero VAD ONNX model, or an :class:`~edgekit.infer.InferenceEngine`
            already holding one (detectors can share it: the recurrent state lives in the
            detector); default: ``silero_vad.onnx`` of the installed ``silero-vad``
            package (``pip install --no-deps silero-vad``).

    Raises:
        InvalidInputError: a bad argument.
        BackendUnavailableError: onnxruntime (extra ``onnx``) or silero-vad is missing.

    Example:
        >>> vad = VoiceActivityDetector()  # doctest: +SKIP
        >>> vad.segments("speech.wav")  # doctest: +SKIP
        [SpeechSegment(start_s=0.97, end_s=2.53)]
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_speech_s: float = 0.25,
        min_silence_s: float = 0.1,
        speech_pad_s: float = 0.03,
        sr: int = 16000,
        model: str | os.PathLike[str] | InferenceEngine | None = None,
    ) -> None:
        if sr not in (8000, 16000):
            raise InvalidInputError(f"sr must be 16000 or 8000 Hz (Silero VAD's rates), not {sr!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidInputError(f"threshold must be a number, not {threshold!r}")
        if not 0 <= threshold <= 1:
            raise InvalidInputError(f"threshold must be in [0, 1], not {threshold!r}")
        for label, value in (
            ("min_speech_s", min_speech_s),
            ("min_silence_s", min_silence_s),
            ("speech_pad_s", speech_pad_s),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidInputError(f"{label} must be >= 0 seconds, not {value!r}")
        self.threshold = float(threshold)
        self.neg_threshold = max(self.threshold - 0.15, 0.01)
        self.min_speech_s = float(min_speech_s)
        self.min_silence_s = float(min_silence_s)
        self.speech_pad_s = float(speech_pad_s)
        self.sr = sr
        self.window = 512 if sr == 16000 else 256
        self.context_size = 64 if sr == 16000 else 32
        if isinstance(model, InferenceEngine):
            self.engine = model
            self.path = Path(model.model_name)
        else:
            self.path = Path(model) if model is not None else silero_model_path()
            self.engine = InferenceEngine(self.path, backend="onnxruntime", warmup=0)
        names = {t.name for t in self.engine.inputs}
        if names != {"input", "state", "sr"}:
            raise InvalidInputError(
                f"{self.path.name} is not a Silero VAD v5 model (inputs input, state, sr); "
                f"got {sorted(names)}"
            )
        # Thresholds in samples, as silero computes them (floats).
        self._min_speech = sr * self.min_speech_s
        self._min_silence = sr * self.min_silence_s
        self._pad = sr * self.speech_pad_s
        self._sr_feed = np.array(sr, dtype=np.int64)
        self.reset()

    def __repr__(self) -> str:
        return (
            f"VoiceActivityDetector(threshold={self.threshold}, min_speech_s={self.min_speech_s}, "
            f"min_silence_s={self.min_silence_s}, speech_pad_s={self.speech_pad_s}, sr={self.sr})"
        )

    # -- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Start a new stream: model state, context, buffered samples, segments and clock."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.context_size, dtype=np.float32)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._samples = 0  # samples received
        self._windows = 0  # windows run
        self._triggered = False
        self._start = 0
        self._temp_end = 0
        self._held: list[int] | None = None  # a finished segment [start, end] awaiting padding
        self._emitted_end = 0
        self._probability = 0.0

    @property
    def speaking(self) -> bool:
        """True while inside a speech segment (speech started, silence not yet long enough)."""
        return self._triggered

    @property
    def probability(self) -> float:
        """Speech probability of the latest window."""
        return self._probability

    @property
    def time_s(self) -> float:
        """Seconds of audio received since the last :meth:`reset`."""
        return self._samples / self.sr

    # -- model ---------------------------------------------------------------------------

    def _as_float(self, block: Any) -> np.ndarray:
        x = samples(block, "audio", allow_empty=True)
        # Always a new array: the remainder is kept in _buffer past the caller's block.
        return to_float(x) if x.dtype == np.int16 else x.astype(np.float32)

    def _prob(self, chunk: np.ndarray) -> float:
        x = np.concatenate([self._context, chunk])[None]
        out = self.engine.run({"input": x, "state": self._state, "sr": self._sr_feed})
        self._state = out["stateN"]
        self._context = x[0, -self.context_size :]
        return float(out["output"].item())

    # -- segmentation (silero's get_speech_timestamps, streaming) -------------------------

    def _finish(self, start: int, end: int, out: list[SpeechSegment]) -> None:
        """A raw segment ended: pad the one held before it and hold this one."""
        held = self._held
        if held is not None:
            gap = start - held[1]
            if gap < 2 * self._pad:
                held[1] += int(gap // 2)
                start = int(max(0, start - gap // 2))
            else:
                held[1] = int(held[1] + self._pad)
                start = int(max(0, start - self._pad))
            out.append(self._segment(held))
        else:
            start = int(max(0, start - self._pad))
        self._held = [start, end]

    def _release(self, now: int, out: list[SpeechSegment]) -> None:
        """Emit the held segment once no later segment can come within twice the padding."""
        held = self._held
        if held is not None and now - held[1] >= 2 * self._pad:
            held[1] = int(held[1] + self._pad)
            out.append(self._segment(held))
            self._held = None

    def _segment(self, bounds: list[int]) -> SpeechSegment:
        return SpeechSegment(bounds[0] / self.sr, bounds[1] / self.sr)

    def _step(self, prob: float, out: list[SpeechSegment]) -> None:
        cur = self.window * self._windows
        self._windows += 1
        self._probability = prob
        if prob >= self.threshold and self._temp_end:
            self._temp_end = 0
        if prob >= self.threshold and not self._triggered:
            self._triggered = True
            self._start = cur
            return
        if prob < self.neg_threshold and self._triggered:
            if not self._temp_end:
                self._temp_end = cur
            if cur - self._temp_end < self._min_silence:
                return
            end = self._temp_end
            if end - self._start > self._min_speech:
                self._finish(self._start, end, out)
            self._temp_end = 0
            self._triggered = False
        if not self._triggered:
            # The next segment cannot start before the next window.
            self._release(self.window * self._windows, out)

    # -- public streaming API -------------------------------------------------------------

    def process(self, block: np.ndarray | bytes) -> list[SpeechSegment]:
        """Feed audio (int16 PCM, float in [-1, 1], or PCM bytes) at ``sr`` Hz; return the
        segments completed by it (each segment is returned once).

        A segment is complete when the silence after it lasted ``min_silence_s`` and
        no later speech can still change its padding.
        """
        samples = self._as_float(block)
        self._samples += samples.shape[0]
        buf = np.concatenate([self._buffer, samples]) if self._buffer.shape[0] else samples
        n = buf.shape[0] // self.window
        out: list[SpeechSegment] = []
        w = self.window
        for i in range(n):
            self._step(self._prob(buf[i * w : (i + 1) * w]), out)
        self._buffer = buf[n * w :].copy()
        return out

    def flush(self) -> list[SpeechSegment]:
        """End the stream: run the last partial window (zero-padded, as silero does) and
        return the segments still open or held. Then :meth:`reset`.
        """
        out: list[SpeechSegment] = []
        total = self._samples
        if self._buffer.shape[0]:
            chunk = np.zeros(self.window, dtype=np.float32)
            chunk[: self._buffer.shape[0]] = self._buffer
            self._buffer = self._buffer[:0]
            self._step(self._prob(chunk), out)
        if self._triggered and total - self._start > self._min_speech:
            self._finish(self._start, total, out)
        if self._held is not None:
            self._held[1] = int(min(total, self._held[1] + self._pad))
            out.append(self._segment(self._held))
            self._held = None
        self.reset()
        return out

    def segments(self, audio: str | os.PathLike[str] | np.ndarray | bytes) -> list[SpeechSegment]:
        """Speech segments of a whole clip: a WAV path (mono 16-bit at ``sr`` Hz) or samples.

        The clip is a stream of its own (the detector is reset before and after).
        """
        samples = read_wav(audio, sr=self.sr) if isinstance(audio, (str, os.PathLike)) else audio
        self.reset()
        try:
            return self.process(samples) + self.flush()
        finally:
            self.reset()

    def scores(self, audio: str | os.PathLike[str] | np.ndarray | bytes) -> np.ndarray:
        """Speech probability of every window of a whole clip (the last one zero-padded).

        The clip is a stream of its own (the detector is reset before and after).

        Returns:
            float64 array, one value per ``window`` samples (32 ms at 16 kHz).
        """
        samples = read_wav(audio, sr=self.sr) if isinstance(audio, (str, os.PathLike)) else audio
        x = self._as_float(samples)
        self.reset()
        try:
            n = -(-x.shape[0] // self.window)
            padded = np.zeros(n * self.window, dtype=np.float32)
            padded[: x.shape[0]] = x
            w = self.window
            return np.array([self._prob(padded[i * w : (i + 1) * w]) for i in range(n)])
        finally:
            self.reset()
