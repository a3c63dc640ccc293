"""Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).

An :class:`Hlc` stamp is ``(wall_ms, logical)``: the largest physical time (ms since the
epoch) the node has seen, and a counter that orders events within one such millisecond.
Stamps compare as tuples; the writing node's id breaks ties outside the stamp. The stamps
of one :class:`HlcClock` strictly increase, and a stamp made after ``observe(remote)`` is
greater than ``remote``: an event that causally follows another always carries the greater
stamp, whatever the nodes' physical clocks say. ``wall_ms`` stays within ``max_drift_s``
of the largest physical clock in the system, because a remote stamp further ahead than
that is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from edgekit.errors import StateError

__all__ = ["Hlc", "HlcClock"]


class Hlc(NamedTuple):
    """One hybrid logical clock stamp; ordered as a tuple."""

    wall_ms: int
    """Physical part: milliseconds since the epoch."""
    logical: int
    """Counter of events within ``wall_ms``."""


_new = tuple.__new__  # (Hlc's own __new__ is a Python function: slower per stamp)


class HlcClock:
    """The hybrid logical clock of one node.

    Args:
        clock: Physical time in seconds since the epoch (tests pass a clock they control).
        max_drift_s: How far (seconds) a remote stamp may be ahead of ``clock`` before
            :meth:`observe` refuses it.
    """

    def __init__(
        self, clock: Callable[[], float] = time.time, *, max_drift_s: float = 300.0
    ) -> None:
        if not max_drift_s > 0:
            raise StateError(f"max_drift_s must be positive, not {max_drift_s!r}")
        self._clock = clock
        self.max_drift_s = max_drift_s
        self._last = Hlc(0, 0)
        self._lock = threading.Lock()

    @property
    def last(self) -> Hlc:
        """The last stamp this clock gave or observed."""
        return self._last

    def physical_ms(self) -> int:
        """The physical clock in milliseconds since the epoch."""
        return int(self._clock() * 1000)

    def now(self) -> Hlc:
        """A new stamp for a local event, greater than every stamp given or observed."""
        pt = int(self._clock() * 1000)
        with self._lock:
            last = self._last
            stamp = _new(Hlc, (pt, 0) if pt > last[0] else (last[0], last[1] + 1))
            self._last = stamp
            return stamp

    def observe(self, remote: Hlc) -> Hlc:
        """Merge a remote stamp (a receive event); returns the clock's new stamp, greater
        than both ``remote`` and every earlier stamp.

        Raises:
            StateError: ``remote`` is more than ``max_drift_s`` ahead of the physical clock.
        """
        pt = int(self._clock() * 1000)
        rw, rl = int(remote[0]), int(remote[1])
        if rw - pt > self.max_drift_s * 1000:
            raise StateError(
                f"remote clock stamp {rw} ms is {(rw - pt) / 1000:.1f} s ahead of this node's "
                f"clock (max_drift_s={self.max_drift_s}): fix the clock of the node that wrote it"
            )
        with self._lock:
            lw, ll = self._last
            wall = max(lw, rw, pt)
            if wall == lw and wall == rw:
                logical = max(ll, rl) + 1
            elif wall == lw:
                logical = ll + 1
            elif wall == rw:
                logical = rl + 1
            else:
                logical = 0
            self._last = Hlc(wall, logical)
            return self._last

    def advance(self, floor: Hlc) -> None:
        """Raise the clock to at least ``floor`` (a stamp this node stored before) with no
        drift check: a store reopened after the wall clock went back keeps its order."""
        with self._lock:
            if floor > self._last:
                self._last = Hlc(int(floor[0]), int(floor[1]))

    def __repr__(self) -> str:
        return f"HlcClock(last={tuple(self._last)}, max_drift_s={self.max_drift_s})"
