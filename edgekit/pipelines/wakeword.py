"""Wake-word detection: microWakeWord models on the TFLite Micro frontend, block by block."""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.dsp import MicroFrontend
from edgekit.dsp._audio_input import pcm_int16
from edgekit.errors import InvalidInputError, ModelLoadError
from edgekit.infer import InferenceEngine
from edgekit.pipelines._audio import read_wav

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_WINDOW",
    "MODELS_DIR",
    "WAKE_WORD_MODELS",
    "Detection",
    "WakeWordDetector",
]

#: The microWakeWord models edgekit ships (those of ``pymicro-wakeword`` 2.5.0), by name.
WAKE_WORD_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")
#: Folder of those models: ``<name>.tflite`` and its microWakeWord ``<name>.json``.
MODELS_DIR = Path(__file__).parent / "models"
#: Probability cutoff of a model without a JSON config beside it.
DEFAULT_CUTOFF = 0.5
#: Sliding-window length (model steps) of a model without a JSON config beside it.
DEFAULT_WINDOW = 5

_SR = 16000
_HOP = 160  # samples per feature frame (10 ms)
_WIN = 480  # samples of the first feature frame (30 ms)


@dataclass(frozen=True)
class Detection:
    """A wake word heard in a stream.

    Attributes:
        name: The model's name (``"hey_jarvis"``).
        time_s: When it was detected: the end of the audio of the model step whose
            sliding-window average crossed the cutoff, in seconds from the start of
            the stream (from the last :meth:`WakeWordDetector.reset`).
        probability: That sliding-window average probability (0..1).
    """

    name: str
    time_s: float
    probability: float


def _resolve(model: str | os.PathLike[str]) -> tuple[Path, dict[str, Any] | None]:
    """The .tflite path of ``model`` and its JSON config (or None)."""
    if isinstance(model, str) and model in WAKE_WORD_MODELS:
        model = MODELS_DIR / f"{model}.json"
    if not isinstance(model, (str, os.PathLike)):
        raise InvalidInputError(
            f"model must be a name {WAKE_WORD_MODELS} or a path, not {type(model).__name__}"
        )
    path = Path(model)
    if not path.exists():
        if isinstance(model, str) and os.sep not in model and not path.suffix:
            raise InvalidInputError(
                f"unknown wake-word model {model!r}: use one of {WAKE_WORD_MODELS} or a .tflite path"
            )
        raise ModelLoadError(f"model file {str(path)!r} does not exist")
    config_path = path if path.suffix == ".json" else path.with_suffix(".json")
    config: dict[str, Any] | None = None
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            if not isinstance(config, dict):
                raise TypeError("not a JSON object")
            micro = config["micro"]
            float(micro["probability_cutoff"])
            int(micro["sliding_window_size"])
            tflite = config_path.parent / str(config["model"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ModelLoadError(
                f"{config_path}: not a microWakeWord config (needs model and "
                f"micro.probability_cutoff / sliding_window_size): {exc}"
            ) from exc
        if path.suffix == ".json":
            path = tflite
    return path, config


class WakeWordDetector:
    """Detects a wake word in 16 kHz int16 audio with a microWakeWord model.

    The pipeline is pymicro-wakeword's: :class:`~edgekit.dsp.MicroFrontend` features
    (scaled by 0.0390625), quantized to the model's int8 input by
    :class:`~edgekit.infer.InferenceEngine` (``quantized=False``), fed ``stride``
    feature frames at a time (the model's input length, 3 frames = 30 ms) to the
    stateful model; the model's probability is averaged over the last ``window``
    steps, and a step whose average is above ``cutoff`` is a positive decision.
    A positive decision is reported as a :class:`Detection` unless it comes within
    ``refractory_s`` seconds (stream time) of the last reported one, as
    wyoming-microwakeword does; the model and its window are not reset.

    Args:
        model: a model name (``"alexa"``, ``"hey_jarvis"``, ``"hey_mycroft"``,
            ``"okay_nabu"``: microWakeWord models shipped inside edgekit), or
            the path of a ``.tflite`` model (its ``.json`` config beside it is read
            when present) or of a microWakeWord ``.json`` config.
        cutoff: probability cutoff (0..1); default: the config's ``probability_cutoff``,
            else :data:`DEFAULT_CUTOFF`.
        window: sliding-window length in model steps; default: the config's
            ``sliding_window_size``, else :data:`DEFAULT_WINDOW`.
        refractory_s: seconds after a reported detection during which positive
            decisions are not reported again (0 reports every positive step).

    Raises:
        InvalidInputError: an unknown model name or a bad argument.
        ModelLoadError: the model or its config cannot be read, or the model does
            not take ``[1, stride, 40]`` int8 features.
        BackendUnavailableError: LiteRT (extra ``litert``) is not installed.

    Example:
        >>> detector = WakeWordDetector("hey_jarvis")  # doctest: +SKIP
        >>> detector.detect_file("command.wav")  # doctest: +SKIP
        [Detection(name='hey_jarvis', time_s=1.37, probability=0.98)]
    """

    sample_rate: int = _SR

    def __init__(
        self,
        model: str | os.PathLike[str] = "hey_jarvis",
        *,
        cutoff: float | None = None,
        window: int | None = None,
        refractory_s: float = 2.0,
    ) -> None:
        path, config = _resolve(model)
        micro = config["micro"] if config else {}
        if cutoff is None:
            cutoff = float(micro.get("probability_cutoff", DEFAULT_CUTOFF))
        if window is None:
            window = int(micro.get("sliding_window_size", DEFAULT_WINDOW))
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 <= cutoff <= 1:
            raise InvalidInputError(f"cutoff must be a probability in [0, 1], not {cutoff!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise InvalidInputError(f"window must be a positive int (model steps), not {window!r}")
        if not refractory_s >= 0:
            raise InvalidInputError(f"refractory_s must be >= 0 seconds, not {refractory_s!r}")
        self.path = path
        self.name = Path(str(config["model"])).stem if config else path.stem
        self.wake_word: str = str(config.get("wake_word", self.name)) if config else self.name
        self.cutoff = float(cutoff)
        self.window = window
        self.refractory_s = float(refractory_s)
        # TFLite's built-in int8 kernels, as pymicro-wakeword's own libtensorflowlite_c
        # runs them: the XNNPACK delegate rounds differently (outputs differ by up to
        # 12/256 on speech), which would change decisions near the cutoff.
        self.engine = InferenceEngine(
            path,
            backend="litert",
            warmup=0,
            litert_options={"op_resolver": "builtin_without_default_delegates"},
        )
        inp = self.engine.inputs
        out = self.engine.outputs
        if (
            len(inp) != 1
            or inp[0].rank != 3
            or inp[0].shape[0] != 1
            or inp[0].shape[2] != MicroFrontend.num_channels
            or not isinstance(inp[0].shape[1], int)
            or inp[0].quantization is None
            or len(out) != 1
        ):
            raise ModelLoadError(
                f"{path.name} is not a microWakeWord model: expected one quantized input "
                f"[1, stride, 40] and one output, got "
                + "; ".join(t.describe() for t in (*inp, *out))
            )
        #: Feature frames per model step (the model's input length; 3 = 30 ms).
        self.stride: int = inp[0].shape[1]
        self._output = out[0].name
        self._frontend = MicroFrontend()
        self._pending = np.zeros((0, MicroFrontend.num_channels), dtype=np.float32)
        self._probs: deque[float] = deque(maxlen=window)
        self._features = 0
        self._steps = 0
        self._last_report: float | None = None
        self._probability = 0.0

    # -- properties ----------------------------------------------------------------------

    @property
    def step_s(self) -> float:
        """Seconds of audio per model step (``stride`` x 10 ms)."""
        return self.stride * _HOP / _SR

    @property
    def probability(self) -> float:
        """Sliding-window average after the latest step (0.0 until the window is full)."""
        return self._probability

    @property
    def steps(self) -> int:
        """Model steps run since the last :meth:`reset`."""
        return self._steps

    def step_times(self, n_steps: int) -> np.ndarray:
        """End times (seconds from the stream start) of the first ``n_steps`` model steps.

        The time axis of :meth:`scores`: step ``k`` ends at
        ``(160 * (stride * (k + 1) - 1) + 480) / 16000`` seconds.
        """
        k = np.arange(n_steps, dtype=np.float64)
        return (_HOP * (self.stride * (k + 1) - 1) + _WIN) / _SR

    def __repr__(self) -> str:
        return (
            f"WakeWordDetector({self.name!r}, cutoff={self.cutoff}, window={self.window}, "
            f"stride={self.stride}, refractory_s={self.refractory_s})"
        )

    # -- streaming -----------------------------------------------------------------------

    def reset(self) -> None:
        """Start a new stream: frontend, buffered features, window, model state and clock."""
        self._frontend.reset()
        self._pending = self._pending[:0]
        self._probs.clear()
        self.engine.reset()
        self._features = 0
        self._steps = 0
        self._last_report = None
        self._probability = 0.0

    def _run_steps(self, samples: np.ndarray) -> list[tuple[float, float, float | None]]:
        """(step end time s, raw probability, window average or None) of each step completed."""
        if not samples.shape[0]:
            return []
        features = self._frontend.process_float(samples)
        if not features.shape[0]:
            return []
        if self._pending.shape[0]:
            features = np.concatenate([self._pending, features])
        stride = self.stride
        n_steps = features.shape[0] // stride
        out: list[tuple[float, float, float | None]] = []
        run = self.engine.run
        name = self._output
        probs = self._probs
        for k in range(n_steps):
            chunk = features[k * stride : (k + 1) * stride][None]
            prob = float(run(chunk, quantized=False)[name].item())
            probs.append(prob)
            self._features += stride
            self._steps += 1
            time_s = (_HOP * (self._features - 1) + _WIN) / _SR
            mean = sum(probs) / len(probs) if len(probs) == self.window else None
            self._probability = 0.0 if mean is None else mean
            out.append((time_s, prob, mean))
        self._pending = features[n_steps * stride :].copy()
        return out

    def process(self, block: np.ndarray | bytes) -> list[Detection]:
        """Feed int16 samples at 16 kHz (any number, or PCM bytes); return the detections they complete.

        Raises:
            InvalidInputError: not 1-D int16 samples (or bytes of even length).
        """
        samples = pcm_int16(block)
        found: list[Detection] = []
        for time_s, _, mean in self._run_steps(samples):
            if mean is None or mean <= self.cutoff:
                continue
            last = self._last_report
            if last is not None and time_s - last < self.refractory_s:
                continue
            self._last_report = time_s
            found.append(Detection(self.name, time_s, mean))
        return found

    def detect_file(self, path: str | os.PathLike[str]) -> list[Detection]:
        """Detections in a 16 kHz mono 16-bit WAV file, as a stream of its own.

        The detector is reset before and after, so times count from the file's start.

        Raises:
            InvalidInputError: the file is missing or not 16 kHz mono 16-bit PCM WAV.
        """
        samples = read_wav(path, sr=_SR)
        return self.detect(samples)

    def detect(self, samples: np.ndarray | bytes) -> list[Detection]:
        """Detections in a whole clip of int16 samples, as a stream of its own (reset before and after)."""
        samples = pcm_int16(samples)
        self.reset()
        try:
            return self.process(samples)
        finally:
            self.reset()

    def scores(self, samples: np.ndarray | bytes, *, averaged: bool = False) -> np.ndarray:
        """Per-step probabilities of a whole clip (one per model step), for plotting.

        The clip is a stream of its own: the detector is reset before and after.
        :meth:`step_times` gives each step's time.

        Args:
            samples: int16 samples at 16 kHz, or PCM bytes.
            averaged: return the sliding-window averages the decisions compare with
                ``cutoff`` (0.0 until the window is full, as pymicro-wakeword's
                ``process_streaming_prob``) instead of the model's raw probabilities.

        Returns:
            float64 array of shape ``(n_steps,)``.
        """
        samples = pcm_int16(samples)
        self.reset()
        try:
            steps = self._run_steps(samples)
        finally:
            self.reset()
        if averaged:
            return np.array([0.0 if m is None else m for _, _, m in steps], dtype=np.float64)
        return np.array([p for _, p, _ in steps], dtype=np.float64)
