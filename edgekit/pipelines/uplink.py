"""Sensor uplink: a compressed sensor series framed onto a store-and-forward queue."""

from __future__ import annotations

from typing import Any

import numpy as np
import xxhash

from edgekit.codec import SeriesEncoder
from edgekit.errors import InvalidInputError
from edgekit.sync import SyncQueue

__all__ = ["SERIES_CONTENT_TYPE", "SensorUplink"]

#: ``content-type`` header of the messages a :class:`SensorUplink` puts.
SERIES_CONTENT_TYPE = "application/x-edgekit-series"


class SensorUplink:
    """Appends sensor readings, compresses them in frames and puts each frame on a queue.

    A sensor loop is three lines::

        uplink = SensorUplink(queue, topic="temp")
        uplink.append(time.time_ns(), reading)   # in the loop
        uplink.flush()                           # at the end (or on shutdown)

    Every ``frame_points`` samples become one :func:`edgekit.codec.encode_series`
    frame (:func:`edgekit.codec.decode_series` reads it back) put on ``queue`` with
    ``topic``, headers ``content-type``, ``points``, ``t0`` and ``t1`` (first and last
    timestamp), and an idempotency key
    ``"<key_prefix>:<t0>:<t1>:<n>:<xxh3-64 of the frame>"``, so a frame put twice (a
    host that replays its readings after a crash) is stored once. A frame the queue
    refuses (``QueueFullError``, a closed queue) is kept and put again, in order,
    by the next :meth:`append` or :meth:`flush`; the error is raised to the caller.

    Args:
        queue: the :class:`~edgekit.sync.SyncQueue` to put frames on.
        topic: topic of every frame.
        frame_points: samples per frame (more compress better; fewer arrive sooner).
        key_prefix: first part of each frame's idempotency key; default: ``topic``.
        channels: ``None`` for scalar readings, else values per sample.
        value_dtype: dtype of the values (default float64).
        timestamp_dtype: integer dtype of the timestamps (default int64, e.g. ns).
        priority: queue priority of the frames.
        level: compression level, as for :func:`edgekit.codec.compress`.
    """

    def __init__(
        self,
        queue: SyncQueue,
        *,
        topic: str,
        frame_points: int = 256,
        key_prefix: str | None = None,
        channels: int | None = None,
        value_dtype: Any = np.float64,
        timestamp_dtype: Any = np.int64,
        priority: int = 0,
        level: int | None = None,
    ) -> None:
        if not isinstance(queue, SyncQueue):
            raise InvalidInputError(f"queue must be a SyncQueue, not {type(queue).__name__}")
        if not isinstance(topic, str) or not topic:
            raise InvalidInputError("topic must be a non-empty str")
        prefix = topic if key_prefix is None else key_prefix
        if not isinstance(prefix, str) or not prefix or len(prefix.encode()) > 160:
            raise InvalidInputError("key_prefix must be a non-empty str of at most 160 bytes")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidInputError(f"priority must be an int, not {priority!r}")
        self.queue = queue
        self.topic = topic
        self.key_prefix = prefix
        self.priority = priority
        self.encoder = SeriesEncoder(
            frame_points,
            channels=channels,
            timestamp_dtype=timestamp_dtype,
            value_dtype=value_dtype,
            level=level,
        )
        self._first_t: int | None = None  # first timestamp of the frame being filled
        self._last_t: int | None = None  # last timestamp appended to it
        self._outbox: list[tuple[bytes, int, int, int]] = []  # (frame, t0, t1, points)
        self.frames_put = 0
        self.points_put = 0
        self.bytes_put = 0

    @property
    def frame_points(self) -> int:
        """Samples per frame."""
        return self.encoder.points_per_frame

    @property
    def pending_points(self) -> int:
        """Samples appended but not yet framed."""
        return self.encoder.pending

    @property
    def pending_frames(self) -> int:
        """Frames the queue refused so far, kept to be put again."""
        return len(self._outbox)

    def __repr__(self) -> str:
        return (
            f"SensorUplink(topic={self.topic!r}, frame_points={self.frame_points}, "
            f"frames_put={self.frames_put}, pending_points={self.pending_points})"
        )

    def append(self, t: Any, value: Any) -> list[int]:
        """Append one reading (scalars) or many (arrays); returns the queue ids of the frames it put.

        Args:
            t: integer timestamp(s), for example ``time.time_ns()``.
            value: the reading(s); ``(n, channels)`` for multi-channel readings.

        Raises:
            InvalidInputError: wrong shapes or dtypes (non-integer timestamps).
            QueueFullError: the queue refused a frame (it is kept and retried).
        """
        ts = np.atleast_1d(np.asarray(t))
        before = self.encoder.pending
        frames = self.encoder.append(t, value)  # validates
        if ts.shape[0] and before == 0:
            self._first_t = int(ts[0])
        pos = 0
        for frame in frames:
            take = self.frame_points - before
            t0 = self._first_t if self._first_t is not None else int(ts[0])
            t1 = int(ts[pos + take - 1])
            self._outbox.append((frame, t0, t1, self.frame_points))
            pos += take
            before = 0
            self._first_t = int(ts[pos]) if pos < ts.shape[0] else None
        if self.encoder.pending and ts.shape[0]:
            self._last_t = int(ts[-1])
        return self._send()

    def flush(self) -> list[int]:
        """Frame the pending readings now and put every waiting frame; returns their queue ids.

        Raises:
            QueueFullError: the queue refused a frame (it is kept and retried).
        """
        n = self.encoder.pending
        frame = self.encoder.flush()
        if frame is not None:
            assert self._first_t is not None and self._last_t is not None
            self._outbox.append((frame, self._first_t, self._last_t, n))
            self._first_t = self._last_t = None
        return self._send()

    close = flush

    def __enter__(self) -> SensorUplink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def _send(self) -> list[int]:
        ids: list[int] = []
        while self._outbox:
            frame, t0, t1, n = self._outbox[0]
            key = f"{self.key_prefix}:{t0}:{t1}:{n}:{xxhash.xxh3_64_hexdigest(frame)}"
            headers = {
                "content-type": SERIES_CONTENT_TYPE,
                "points": str(n),
                "t0": str(t0),
                "t1": str(t1),
            }
            msg_id = self.queue.put(
                frame, topic=self.topic, priority=self.priority, key=key, headers=headers
            )
            self._outbox.pop(0)
            ids.append(msg_id)
            self.frames_put += 1
            self.points_put += n
            self.bytes_put += len(frame)
        return ids
