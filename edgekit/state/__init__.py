"""Local-first replicated key-value state and device twins.

- :class:`StateStore`: durable key-value state on LMDB; every write stamped with a
  hybrid logical clock (:class:`Hlc`) and the node's id; deletes leave tombstones;
  conflicts resolved per key pattern (:mod:`edgekit.state.strategies`).
- :class:`Twin`: a device twin on a store, with AWS-shadow semantics (desired,
  reported, delta, JSON merge patches).
- ``StateSync`` (:mod:`edgekit.state.sync`): replicates a store through NATS JetStream
  KeyValue.
"""

from __future__ import annotations

from typing import Any

from edgekit.state._types import Change, Conflict, Entry
from edgekit.state.hlc import Hlc, HlcClock
from edgekit.state.store import StateStats, StateStore
from edgekit.state.strategies import STRATEGIES, ConflictPolicy
from edgekit.state.twin import Twin, merge_patch

__all__ = [
    "STRATEGIES",
    "Change",
    "Conflict",
    "ConflictPolicy",
    "Entry",
    "Hlc",
    "HlcClock",
    "StateStats",
    "StateStore",
    "StateSync",
    "StateSyncStatus",
    "SyncReport",
    "Twin",
    "merge_patch",
]

_SYNC = ("StateSync", "StateSyncStatus", "SyncReport")


def __getattr__(name: str) -> Any:
    """The replicator's names, imported on first use (edgekit.state.sync)."""
    if name in _SYNC:
        from edgekit.state import sync

        return getattr(sync, name)
    raise AttributeError(f"module 'edgekit.state' has no attribute {name!r}")
