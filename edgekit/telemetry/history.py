"""The last hour of a few figures, for the status page's plots: a bounded ring of samples.

:class:`History` reads each sample from a ``Telemetry.status()`` dict (queue depth, the
sync engine's sent rate, the inference latency p50 and p99) and keeps at most
``span_s / interval_s`` of them, so its memory is bounded whatever runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from edgekit.errors import InvalidInputError

__all__ = ["SERIES", "History"]

#: The plotted series: name -> (status section, field), with the unit in the name.
SERIES: dict[str, tuple[str, str]] = {
    "queue_depth": ("queue", "depth"),
    "sync_messages_per_s": ("sync", "messages_per_s"),
    "infer_p50_us": ("infer", "p50_us"),
    "infer_p99_us": ("infer", "p99_us"),
}


def pick(status: Mapping[str, Any], section: str, field: str) -> float | None:
    """``status[section][field]`` as a float, or None where the section or field is absent."""
    found = status.get(section)
    value = found.get(field) if isinstance(found, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class History:
    """The last ``span_s`` seconds of :data:`SERIES`, one sample every ``interval_s`` at most.

    Args:
        span_s: How far back the ring reaches, in seconds (default one hour).
        interval_s: Shortest time between two samples, in seconds; an :meth:`add` sooner
            than that after the last sample is ignored.
        clock: Seconds since the epoch (default :func:`time.time`); tests pass their own.

    Thread-safe: the server adds from its loop, readers may be anywhere.
    """

    def __init__(
        self,
        *,
        span_s: float = 3600.0,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_s > 0 or not span_s >= interval_s:
            raise InvalidInputError(
                f"History needs interval_s > 0 and span_s >= interval_s, "
                f"not interval_s={interval_s!r}, span_s={span_s!r}"
            )
        self.span_s = float(span_s)
        self.interval_s = float(interval_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._rows: deque[tuple[float, tuple[float | None, ...]]] = deque(
            maxlen=int(span_s / interval_s) + 1
        )

    def __len__(self) -> int:
        return len(self._rows)

    def due(self) -> bool:
        """Whether a sample taken now would be kept (``interval_s`` since the last one)."""
        with self._lock:
            return not self._rows or self.clock() - self._rows[-1][0] >= self.interval_s

    def add(self, status: Mapping[str, Any]) -> bool:
        """Sample ``status`` (a ``Telemetry.status()`` dict) at ``clock()`` if due; True if kept."""
        now = self.clock()
        row = tuple(pick(status, section, field) for section, field in SERIES.values())
        with self._lock:
            if self._rows and now - self._rows[-1][0] < self.interval_s:
                return False
            self._rows.append((now, row))
            while self._rows and self._rows[0][0] < now - self.span_s:
                self._rows.popleft()
            return True

    def since(self, t: float | None = None) -> dict[str, list[float | None]]:
        """The samples taken after ``t`` (every one for None), as columns: ``t`` (seconds
        since the epoch) and one list per series of :data:`SERIES` (None where absent)."""
        with self._lock:
            rows = [r for r in self._rows if t is None or r[0] > t]
        out: dict[str, list[float | None]] = {"t": [r[0] for r in rows]}
        for i, name in enumerate(SERIES):
            out[name] = [r[1][i] for r in rows]
        return out
