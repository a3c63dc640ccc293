""":class:`TelemetryRecorder`: samples the metrics every N seconds into codec series frames
and puts them on a :class:`~edgekit.sync.SyncQueue` topic, so the history of an offline
week arrives when the link returns (the queue keeps it; the sync engine ships it).

A frame's payload (:func:`decode_telemetry` reads it)::

    b"EKT1"  u32 little-endian n  zlib(JSON list of the n series names)  series record frame

The series names are Prometheus sample names with their labels
(``edgekit_queue_messages{queue="q",topic="t"}``); the record frame
(:func:`edgekit.codec.encode_series`) holds the timestamps (int64 milliseconds since the
epoch) and a ``(samples, n)`` float64 array of values, compressed series by series. A frame
closes after ``samples_per_frame`` samples, or earlier when the set of series changes.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from edgekit._snapshot import Snapshot
from edgekit.errors import CorruptDataError, EdgekitError, InvalidInputError

if TYPE_CHECKING:
    from edgekit.sync import SyncQueue
    from edgekit.telemetry.metrics import Family
    from edgekit.telemetry.observe import Telemetry

__all__ = ["MAGIC", "RecorderStats", "TelemetryFrame", "TelemetryRecorder", "decode_telemetry"]

MAGIC = b"EKT1"
_HEAD = struct.Struct("<4sI")


@dataclass(frozen=True)
class RecorderStats(Snapshot):
    """What a :class:`TelemetryRecorder` did (a table in Jupyter).

    Attributes:
        samples: Samples taken.
        frames: Frames put on the queue.
        frame_bytes: Bytes of those frames (payloads as put).
        errors: Samples that could not be read, and puts the queue refused (the frame is
            kept and put again with the next one, up to ``max_pending_frames``).
        pending: Samples not yet in a frame.
        held_frames: Frames waiting for the queue to accept them.
        dropped_frames: Frames given up because more than ``max_pending_frames`` waited.
        series: Series in the current frame.
        last_sample_at: When the last sample was taken (the recorder's clock), or None.
    """

    derived = ("bytes_per_sample",)

    samples: int
    frames: int
    frame_bytes: int
    errors: int
    pending: int
    held_frames: int
    dropped_frames: int
    series: int
    last_sample_at: float | None

    @property
    def bytes_per_sample(self) -> float:
        """Frame bytes per framed sample (0.0 before the first frame)."""
        framed = self.samples - self.pending
        return self.frame_bytes / framed if framed > 0 and self.frames else 0.0


@dataclass(frozen=True)
class TelemetryFrame:
    """A decoded frame: ``values[i, j]`` is series ``names[j]`` at ``timestamps_ms[i]``."""

    names: list[str]
    timestamps_ms: np.ndarray
    values: np.ndarray = field(repr=False)

    def rows(self) -> list[dict[str, float]]:
        """One dict per sample: ``{"time": seconds since the epoch, name: value, ...}``
        (NaN, a series absent from a sample, left out)."""
        out = []
        for t, row in zip(self.timestamps_ms.tolist(), self.values.tolist(), strict=True):
            sample = {"time": t / 1000.0}
            sample.update((n, v) for n, v in zip(self.names, row, strict=True) if v == v)
            out.append(sample)
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def series_name(name: str, labels: dict[str, str]) -> str:
    """A sample's name as Prometheus writes it: ``name{a="x",b="y"}`` (labels sorted)."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def flat_samples(families: list[Family]) -> dict[str, float]:
    """Every sample of ``families`` as ``{series name: value}``."""
    return {series_name(f.name, labels): value for f in families for labels, value in f.samples}


def encode_telemetry(names: list[str], timestamps_ms: np.ndarray, values: np.ndarray) -> bytes:
    """A frame's payload (see the module docstring)."""
    from edgekit.codec import encode_series

    head = zlib.compress(json.dumps(names, separators=(",", ":")).encode(), 6)
    return _HEAD.pack(MAGIC, len(head)) + head + encode_series(timestamps_ms, values)


def decode_telemetry(payload: bytes | bytearray | memoryview) -> TelemetryFrame:
    """The names, timestamps and values of a frame the recorder put on the queue.

    Raises:
        CorruptDataError: ``payload`` is not a telemetry frame.
    """
    from edgekit.codec import decode_series

    data = bytes(payload)
    if len(data) < _HEAD.size or data[:4] != MAGIC:
        raise CorruptDataError("not a telemetry frame: it does not start with b'EKT1'")
    _, size = _HEAD.unpack_from(data)
    end = _HEAD.size + size
    if end > len(data):
        raise CorruptDataError("telemetry frame: the names run past the payload")
    try:
        names = json.loads(zlib.decompress(data[_HEAD.size : end]))
    except (zlib.error, ValueError) as exc:
        raise CorruptDataError(f"telemetry frame: the names do not decode ({exc})") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CorruptDataError("telemetry frame: the names are not a list of strings")
    ts, vs = decode_series(data[end:])
    if vs.ndim == 1:
        vs = vs.reshape(-1, 1)
    if vs.shape[1] != len(names):
        raise CorruptDataError(
            f"telemetry frame: {len(names)} names but {vs.shape[1]} series of values"
        )
    return TelemetryFrame(names, ts, vs)


class TelemetryRecorder:
    """Samples ``telemetry``'s metrics every ``interval_s`` into series frames on ``queue``.

    Use :meth:`start` / :meth:`stop` (a daemon thread), or call :meth:`sample` yourself
    (a simulation with its own clock does). :meth:`stop` and :meth:`flush` put the
    samples still pending as a last, shorter frame.

    Args:
        telemetry: What to sample (:meth:`Telemetry.families`).
        queue: The queue the frames go on.
        interval_s: Seconds between samples of the background thread.
        topic: The queue topic of the frames.
        clock: Wall clock of the samples' timestamps, seconds since the epoch.
        samples_per_frame: Samples in a frame (60 at 10 s: a frame each 10 minutes).
        health: Include device health (``edgekit_health_*``).
        priority: Queue priority of the frames.
        max_pending_frames: Frames kept while the queue refuses them (a full queue that
            rejects); beyond that the oldest is dropped and counted.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        queue: SyncQueue,
        *,
        interval_s: float = 10.0,
        topic: str = "edgekit/telemetry",
        clock: Callable[[], float] = time.time,
        samples_per_frame: int = 60,
        health: bool = True,
        priority: int = 0,
        max_pending_frames: int = 16,
    ) -> None:
        if not interval_s > 0:
            raise InvalidInputError(f"interval_s must be > 0, not {interval_s!r}")
        if not isinstance(samples_per_frame, int) or samples_per_frame < 1:
            raise InvalidInputError(
                f"samples_per_frame must be a positive int, not {samples_per_frame!r}"
            )
        if not callable(clock):
            raise InvalidInputError("clock must be a callable returning seconds since the epoch")
        self.telemetry = telemetry
        self.queue = queue
        self.interval_s = float(interval_s)
        self.topic = topic
        self.clock = clock
        self.samples_per_frame = samples_per_frame
        self.health = health
        self.priority = priority
        self.max_pending_frames = max_pending_frames
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._ts: list[int] = []
        self._rows: list[list[float]] = []
        self._held: list[bytes] = []
        self._samples = self._frames = self._frame_bytes = self._errors = self._dropped = 0
        self._last_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Take one sample now; returns how many frames were put on the queue (0 or 1,
        more when held frames went through)."""
        try:
            flat = flat_samples(self.telemetry.families(health=self.health))
        except EdgekitError:
            with self._lock:
                self._errors += 1
            return 0
        now = self.clock()
        with self._lock:
            put = 0
            if self._rows and flat.keys() != self._index.keys():
                put += self._close()
            if not self._rows:
                self._names = list(flat)
                self._index = {n: i for i, n in enumerate(self._names)}
            self._ts.append(round(now * 1000))
            self._rows.append([flat[n] for n in self._names])
            self._samples += 1
            self._last_at = now
            if len(self._rows) >= self.samples_per_frame:
                put += self._close()
            return put

    def _close(self) -> int:
        """Frame the pending samples and put every held frame; returns the frames put."""
        if self._rows:
            ts = np.asarray(self._ts, dtype=np.int64)
            vs = np.asarray(self._rows, dtype=np.float64).reshape(len(self._rows), -1)
            self._held.append(encode_telemetry(self._names, ts, vs))
            self._ts, self._rows = [], []
        put = 0
        while self._held:
            frame = self._held[0]
            try:
                self.queue.put(frame, topic=self.topic, priority=self.priority)
            except EdgekitError:
                self._errors += 1
                break
            self._held.pop(0)
            self._frames += 1
            self._frame_bytes += len(frame)
            put += 1
        while len(self._held) > self.max_pending_frames:
            self._held.pop(0)
            self._dropped += 1
        return put

    def flush(self) -> int:
        """Put the pending samples as a frame now; returns the frames put."""
        with self._lock:
            return self._close()

    def stats(self) -> RecorderStats:
        """Samples, frames and their bytes, errors, what is pending."""
        with self._lock:
            return RecorderStats(
                samples=self._samples,
                frames=self._frames,
                frame_bytes=self._frame_bytes,
                errors=self._errors,
                pending=len(self._rows),
                held_frames=len(self._held),
                dropped_frames=self._dropped,
                series=len(self._names),
                last_sample_at=self._last_at,
            )

    # -- background thread -----------------------------------------------------------------

    def start(self) -> TelemetryRecorder:
        """Sample every ``interval_s`` in a daemon thread until :meth:`stop`; returns self."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="edgekit-telemetry-recorder", daemon=True
            )
            self._thread.start()
        return self

    def _loop(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval_s
            if self._stop.wait(max(next_at - time.monotonic(), 0.0)):
                return
            try:
                self.sample()
            except Exception:  # a closed queue: counted, the recorder goes on
                with self._lock:
                    self._errors += 1

    def stop(self) -> None:
        """Stop the thread and put the pending samples as a last frame."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def __enter__(self) -> TelemetryRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
