"""SyncQueue: a durable, bounded, multi-process store-and-forward queue on LMDB.

The package, by what each part holds:

- ``_layout``: the on-disk format (structs, header offsets, keys, records).
- ``_store``: the LMDB environment, its transactions and map growth.
- ``_tally``: the write transaction and its counters (one ``note_put`` for every put).
- ``_index``: the ready index (runs of ids) and the timers index.
- ``_group``: group commit under ``durability="power"``.
- ``_puts`` and ``_leases``: each call's transaction.
- ``_queue``: the :class:`SyncQueue` facade; ``_types``: Message and QueueStats.
- ``_check``: checking a damaged file in a child process; the side file. ``_salvage``:
  copying what still reads into a new queue.
"""

from __future__ import annotations

from edgekit.sync.queue._check import QueueCheck, SalvageReport, check_queue
from edgekit.sync.queue._queue import SyncQueue
from edgekit.sync.queue._salvage import salvage_queue
from edgekit.sync.queue._types import Message, QueueStats

__all__ = [
    "Message",
    "QueueCheck",
    "QueueStats",
    "SalvageReport",
    "SyncQueue",
    "check_queue",
    "salvage_queue",
]
