"""Ready applications composed from the layers (wake word, voice activity, sensor uplink).

- :class:`WakeWordDetector`: microWakeWord models on :class:`edgekit.dsp.MicroFrontend`
  features through :class:`edgekit.infer.InferenceEngine`; the same decisions as
  pymicro-wakeword. Yields :class:`Detection` events.
- :class:`VoiceActivityDetector`: Silero VAD through :class:`edgekit.infer.InferenceEngine`,
  state carried across blocks; yields :class:`SpeechSegment` spans.
- :class:`AnomalyMonitor`: a fitted :mod:`edgekit.analytics` detector on sensor readings,
  each alarm put on a :class:`edgekit.sync.SyncQueue` (readings optionally teed to a
  :class:`SensorUplink`).
- :class:`SensorUplink`: readings compressed by :class:`edgekit.codec.SeriesEncoder`,
  framed onto a :class:`edgekit.sync.SyncQueue` with topic and idempotency key.

This is the one package (besides the CLI) that imports across layers. Importing it
imports no runtime and no numba: models load, and kernels compile, on first use.
"""

from __future__ import annotations

from edgekit.pipelines.anomaly import ALARM_CONTENT_TYPE, AnomalyMonitor, AnomalyMonitorStats
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
    "ALARM_CONTENT_TYPE",
    "DEFAULT_CUTOFF",
    "DEFAULT_WINDOW",
    "SERIES_CONTENT_TYPE",
    "WAKE_WORD_MODELS",
    "AnomalyMonitor",
    "AnomalyMonitorStats",
    "Detection",
    "SensorUplink",
    "SpeechSegment",
    "VoiceActivityDetector",
    "WakeWordDetector",
    "silero_model_path",
]
