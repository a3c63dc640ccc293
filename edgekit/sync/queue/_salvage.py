"""Salvage: copy what still reads from a damaged queue into a new one (each walk of the
old file in a child process, see :mod:`edgekit.sync.queue._check`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from edgekit.errors import InvalidInputError
from edgekit.sync.queue import _leases
from edgekit.sync.queue._check import SalvageReport, _frames, _run
from edgekit.sync.queue._queue import SyncQueue

__all__ = ["salvage_queue"]


def _bury(store: Any, seq: int, reason: str, error: str | None, t: Any) -> None:
    _leases.bury(store, t, seq, reason, error)


def salvage_queue(
    path: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    encryption_key: bytes | None = None,
    timeout: float = 600.0,
) -> SalvageReport:
    """Copy every message of the queue at ``path`` that still reads into a new queue at
    ``new`` (which must not exist): live messages as ready ones (their topic, priority,
    key and headers; new ids and put times, a fresh attempt count), dead letters as dead
    letters with their reason. The old queue is only read.

    Each walk runs in a child process; when one dies on a damaged page, the next starts
    past it (at the next id, then twice as far each time it dies again).

    Raises:
        InvalidInputError: ``new`` exists.
        QueueError: A child could not run or did not finish within ``timeout`` s.
    """
    path, new = Path(path), Path(new)
    if new.exists():
        raise InvalidInputError(f"{new} exists: salvage copies into a new queue directory")
    key = bytes(encryption_key) if encryption_key is not None else b""
    done = _run(["count", str(path)], timeout)
    stored = int(done.stdout.strip() or 0) if done.returncode == 0 else 0
    saved = dead_count = unread = walks = 0
    start, jump, last_seen = 1, 1, 0
    sizes = ids = 0  # bytes and ids read: how many ids a page holds
    with SyncQueue(new, encryption_key=encryption_key) as q:
        store = q._store
        while True:
            walks += 1
            done = _run(["copy", str(path), str(start)], timeout, key)
            frames = _frames(done.stdout)
            sizes += len(done.stdout)
            ids += frames[-1][0] - start + 1 if frames else 0
            for seq, message, why, error in frames:
                start = seq + 1
                if message is None:
                    unread += 1
                    continue
                payload, topic, priority, mkey, headers = message
                new_id = q.put(payload, topic=topic, priority=priority, key=mkey, headers=headers)
                saved += 1
                if why is not None:  # a dead letter stays one, with its reason
                    store.write(functools.partial(_bury, store, new_id, why, error))
                    dead_count += 1
            if done.returncode == 0 or (stored and saved + unread >= stored):
                break
            # Past the page the walk died on (about a page's worth of ids), farther each
            # time it dies again (a branch page covers many).
            per_page = max(1, ids * 4096 // max(sizes, 1))
            jump = per_page if start > last_seen else jump * 2
            last_seen = start
            start += jump
            if jump > 1 << 62:
                break
    lost = max(stored - saved, unread)
    return SalvageReport(saved=saved, dead_letters=dead_count, lost=lost, walks=walks)


# -- the side file -----------------------------------------------------------------------
