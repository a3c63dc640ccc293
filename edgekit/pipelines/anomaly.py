"""Anomaly monitor: a detector on sensor readings, alarms put on a store-and-forward queue."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit._snapshot import Snapshot
from edgekit.analytics._detector import Detector
from edgekit.errors import InvalidInputError, QueueFullError
from edgekit.pipelines.uplink import SensorUplink
from edgekit.sync import SyncQueue

__all__ = ["ALARM_CONTENT_TYPE", "AnomalyMonitor", "AnomalyMonitorStats"]

#: ``content-type`` header of the alarm messages an :class:`AnomalyMonitor` puts.
ALARM_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class AnomalyMonitorStats(Snapshot):
    """What an :class:`AnomalyMonitor` has seen: readings, alarms, the last score."""

    readings: int
    alarms: int
    alarms_put: int
    pending_alarms: int
    alarm_on: bool
    last_score: float


class AnomalyMonitor:
    """Runs a fitted detector on sensor readings and puts each alarm on a queue.

    ::

        monitor = AnomalyMonitor(ContextNovelty().fit(normal), queue, topic="alarms",
                                 source="pump-3/temp", uplink=SensorUplink(queue, topic="temp"))
        monitor.append(time.time_ns(), reading)  # in the sensor loop

    Each reading goes through ``detector.update`` (with the detector's hysteresis); when
    the alarm turns on, one message is put on ``queue`` with ``topic``: a JSON object
    ``{"source", "t", "value", "score", "threshold"}``, headers ``content-type``,
    ``source``, ``t``, and the idempotency key ``"<source>:<t>"`` (a host replaying its
    readings after a crash does not raise an alarm twice). An alarm the queue refuses
    (``QueueFullError``) is kept and put again, in order, by the next :meth:`append` or
    :meth:`flush`; the error is raised to the caller. With ``uplink``, every reading is
    also appended to that :class:`SensorUplink` (the raw series ships too), after the
    detector has seen it: a frame the queue refuses does not hold the alarms back.

    Args:
        detector: a fitted :class:`~edgekit.analytics.Detector` (univariate for scalar
            readings, else rows of its ``n_features``).
        queue: the :class:`~edgekit.sync.SyncQueue` to put alarms on.
        topic: topic of the alarm messages.
        source: the sensor's name, in every alarm and its key.
        uplink: a :class:`SensorUplink` that gets every reading as well.
        priority: queue priority of the alarms (default 1: ahead of plain readings).
    """

    def __init__(
        self,
        detector: Detector,
        queue: SyncQueue,
        *,
        topic: str = "anomaly",
        source: str = "sensor",
        uplink: SensorUplink | None = None,
        priority: int = 1,
    ) -> None:
        if not isinstance(detector, Detector):
            raise InvalidInputError(
                f"detector must be an edgekit.analytics Detector, not {type(detector).__name__}"
            )
        if detector.threshold is None:
            raise InvalidInputError("the detector has no threshold: fit() it or set threshold")
        if not isinstance(queue, SyncQueue):
            raise InvalidInputError(f"queue must be a SyncQueue, not {type(queue).__name__}")
        if not isinstance(topic, str) or not topic:
            raise InvalidInputError("topic must be a non-empty str")
        if not isinstance(source, str) or not source or len(source.encode()) > 160:
            raise InvalidInputError("source must be a non-empty str of at most 160 bytes")
        if uplink is not None and not isinstance(uplink, SensorUplink):
            raise InvalidInputError(f"uplink must be a SensorUplink, not {type(uplink).__name__}")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidInputError(f"priority must be an int, not {priority!r}")
        self.detector = detector
        self.queue = queue
        self.topic = topic
        self.source = source
        self.uplink = uplink
        self.priority = priority
        self._outbox: list[tuple[bytes, int]] = []  # (payload, t)
        self._readings = 0
        self._alarms = 0
        self._alarms_put = 0
        self._alarm_on = False
        self._last_score = math.nan

    def __repr__(self) -> str:
        return (
            f"AnomalyMonitor({type(self.detector).__name__}, topic={self.topic!r}, "
            f"source={self.source!r}, alarms={self._alarms})"
        )

    def append(self, t: Any, value: Any) -> list[int]:
        """Check one reading (scalars) or many (arrays); returns the queue ids of the alarms
        it put.

        Args:
            t: integer timestamp(s), for example ``time.time_ns()``.
            value: the reading(s): ``(n,)`` for a univariate detector, ``(n, d)`` rows else.

        Raises:
            InvalidInputError: wrong shapes, non-integer timestamps, bad values.
            QueueFullError: the queue refused an alarm (it is kept and retried).
        """
        ts = np.atleast_1d(np.asarray(t))
        if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.integer):
            raise InvalidInputError(f"timestamps must be integers, got dtype {ts.dtype}")
        try:
            vs = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"readings must be numbers: {exc}") from exc
        univariate = self.detector.univariate
        vs = np.atleast_1d(vs) if univariate else (vs[None, :] if vs.ndim == 1 else vs)
        if vs.shape[0] != ts.shape[0] or (univariate and vs.ndim != 1):
            raise InvalidInputError(
                f"{ts.shape[0]} timestamps for readings of shape {np.shape(value)}"
            )
        for ti, vi in zip(ts.tolist(), vs, strict=True):
            score, alarm = self.detector.update(float(vi) if univariate else vi)
            self._readings += 1
            self._last_score = float(score)
            if alarm and not self._alarm_on:
                self._alarms += 1
                self._outbox.append((self._payload(ti, vi, score), ti))
            self._alarm_on = bool(alarm)
        refused: QueueFullError | None = None
        if self.uplink is not None:
            try:
                self.uplink.append(t, value)
            except QueueFullError as exc:  # the uplink keeps its frame; alarms still go
                refused = exc
        ids = self._send()
        if refused is not None:
            raise refused
        return ids

    def flush(self) -> list[int]:
        """Put the alarms the queue refused before (and flush the uplink); their ids."""
        if self.uplink is not None:
            self.uplink.flush()
        return self._send()

    def stats(self) -> AnomalyMonitorStats:
        """Readings checked, alarms raised and put, the alarm state and the last score."""
        return AnomalyMonitorStats(
            readings=self._readings,
            alarms=self._alarms,
            alarms_put=self._alarms_put,
            pending_alarms=len(self._outbox),
            alarm_on=self._alarm_on,
            last_score=self._last_score,
        )

    def _payload(self, t: int, value: Any, score: float) -> bytes:
        v = float(value) if self.detector.univariate else [float(x) for x in value]
        return json.dumps(
            {
                "source": self.source,
                "t": t,
                "value": v,
                "score": float(score),
                "threshold": self.detector.threshold,
            },
            allow_nan=False,
        ).encode()

    def _send(self) -> list[int]:
        ids: list[int] = []
        while self._outbox:
            payload, t = self._outbox[0]
            msg_id = self.queue.put(
                payload,
                topic=self.topic,
                priority=self.priority,
                key=f"{self.source}:{t}",
                headers={"content-type": ALARM_CONTENT_TYPE, "source": self.source, "t": str(t)},
            )
            self._outbox.pop(0)
            ids.append(msg_id)
            self._alarms_put += 1
        return ids
