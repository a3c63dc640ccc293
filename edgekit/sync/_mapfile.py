"""The queue's LMDB data file and every change of its map size, across processes.

LMDB sets the data file's length to the map size whenever a process opens the
environment or changes its map size with a writable map (``writemap``): a process
whose idea of the size is out of date shrinks the file under another process, and
that process dies of SIGBUS when it touches a page past the new end. A writable map
over a sparse file also dies of SIGBUS when the disk fills and a hole is written.

Without ``writemap``, a commit that finds the disk full fails half-written (EIO) and
leaves the environment unusable.

So every map size change goes through :class:`MapFile`, which holds an exclusive
``flock`` on ``map.lock`` beside the data file, never sets a size below the file's
length, and first gives the file real disk blocks (``posix_fallocate``) up to the new
size: a full disk is then a :class:`~edgekit.errors.QueueFullError` at growth time,
never a crash or a broken environment later.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from edgekit.errors import QueueError, QueueFullError

__all__ = ["MapFile"]

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class MapFile:
    """Map size changes of the LMDB environment in ``directory`` (holds ``data.mdb``)."""

    def __init__(self, directory: Path) -> None:
        self.data = directory / "data.mdb"
        self.lock_path = directory / "map.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process lock on map size changes."""
        if sys.platform == "win32":  # pragma: no cover - no flock: one process per queue
            yield
            return
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise QueueError(f"cannot open {self.lock_path}: {exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # (a file system without locks)
                raise QueueError(f"cannot lock {self.lock_path}: {exc}") from exc
            yield
        finally:
            os.close(fd)  # (releases the lock)

    def length(self) -> int:
        """The data file's length in bytes (0 when it does not exist yet)."""
        try:
            return os.stat(self.data).st_size
        except FileNotFoundError:
            return 0

    def reserve(self, size: int, *, start: int | None = None) -> None:
        """Make the data file at least ``size`` bytes long, with disk blocks from
        ``start`` (default: its current length) on. Call it under :meth:`locked`,
        before mapping ``size`` bytes.

        No process maps past ``start`` (every mapping is reserved under the lock), so
        no writer races the allocation: where the file system has no ``fallocate``,
        glibc writes a zero byte into each block whose byte reads zero.

        Raises:
            QueueFullError: The disk has no room; the file is cut back to ``start``.
        """
        try:
            fd = os.open(self.data, os.O_RDWR)
        except OSError as exc:
            raise QueueError(f"cannot open {self.data}: {exc}") from exc
        try:
            old = os.fstat(fd).st_size
            start = old if start is None else min(start, old)
            try:
                if size > start and hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, start, size - start)
                elif size > old:  # pragma: no cover - macOS: sparse
                    os.ftruncate(fd, size)
            except OSError as exc:
                if os.fstat(fd).st_size > start:  # (nobody maps past it: nothing is lost)
                    os.ftruncate(fd, start)
                if exc.errno in _NO_SPACE:
                    raise QueueFullError(
                        f"no disk space for the queue's map at {self.data} "
                        f"({size:,} bytes): {exc.strerror}"
                    ) from exc
                raise QueueError(f"cannot extend {self.data}: {exc}") from exc
        finally:
            os.close(fd)
