"""Ready applications composed from the layers (wake word, voice activity, sensor uplink).

- :class:`WakeWordDetector`: microWakeWord models on :class:`edgekit.dsp.MicroFrontend`
  features through :class:`edgekit.infer.InferenceEngine`; the same decisions as
  pymicro-wakeword. Yields :class:`Detection` events.
- :class:`VoiceActivityDetector`: Silero VAD through :class:`edgekit.infer.InferenceEngine`,
  state carried across blocks; yields :class:`SpeechSegment` spans.
- :class:`SensorUplink`: readings compressed by :class:`edgekit.codec.SeriesEncoder`,
  framed onto a :class:`edgekit.sync.SyncQueue` with topic and idempotency key.

This is the one package (besides the CLI) that imports across layers. Importing it
imports no runtime and no numba: models load, and kernels compile, on first use.
"""

from __future__ import annotations

from edgekit.pipelines.uplink import SERIES_CONTENT_TYPE, SensorUplink
from edgekit.pipelines.vad import SpeechSegment, VoiceActivityDetector, silero_model_path
from edgekit.pipelines.wakeword import (
    DEFAULT_CUTOFF,
    DEFAULT_WINDOW,
    WAKE_WORD_MODELS,
    Detection,
    WakeWordDetector,
)

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_WINDOW",
    "SERIES_CONTENT_TYPE",
    "WAKE_WORD_MODELS",
    "Detection",
    "SensorUplink",
    "SpeechSegment",
    "VoiceActivityDetector",
    "WakeWordDetector",
    "silero_model_path",
]
