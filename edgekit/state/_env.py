"""The store's LMDB environment: the directory, its open lock and side file, the map.

A store directory holds ``data.mdb``/``lock.mdb`` (LMDB), ``open.lock`` (an exclusive
``flock`` held while a process has the store open: one process at a time) and
``state.json`` (what the directory is, its format, the data file's largest length, so
that a truncated file is refused instead of read as a smaller store).

The map is writable (``writemap``): a commit writes its pages into the shared mapping,
which lives in the kernel's page cache and survives the process being killed. The file
gets real disk blocks (``posix_fallocate``) under the whole map before it is mapped, so a
full disk is an error when the map grows, never a SIGBUS on a write.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from edgekit.errors import CorruptDataError, StateError

__all__ = ["DB_NAMES", "KIND", "STORE_FORMAT", "Durability", "Env"]

Durability = Literal["none", "process", "power"]

KIND = "edgekit.state"
STORE_FORMAT = 1
DB_NAMES = ("entries", "base", "conflicts", "meta")
_INITIAL_MAP = 4 << 20
_MAX_STEP = 1 << 30


class Env:
    """The open LMDB environment of the store in ``path``.

    Raises:
        StateError: The directory is another process's open store, or not a state store.
        CorruptDataError: The data file does not hold a valid LMDB environment or was cut.
    """

    def __init__(self, path: Path, durability: Durability) -> None:
        import lmdb

        self.path = path
        if path.exists() and not path.is_dir():
            raise StateError(f"{path} is a file, not a state store directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the state store directory {path}: {exc}") from exc
        self.data = path / "data.mdb"
        self.side = path / "state.json"
        self._fd = self._lock()
        try:
            side = self._read_side()
            length = self._length()
            if int(side.get("data_bytes", 0)) > length:
                raise CorruptDataError(
                    f"the state store at {path} was truncated: data.mdb is {length:,} bytes, "
                    f"it was {int(side['data_bytes']):,}; delete {self.side} to open what is left"
                )
            map_size = max(_INITIAL_MAP, length)
            sync = durability == "power"
            try:
                self.env = lmdb.open(
                    str(path),
                    map_size=map_size,
                    max_dbs=len(DB_NAMES) + 1,
                    sync=sync,
                    metasync=sync,
                    writemap=True,
                    lock=True,
                    max_spare_txns=4,
                )
            except (lmdb.InvalidError, lmdb.CorruptedError, lmdb.VersionMismatchError) as exc:
                raise CorruptDataError(
                    f"{path} does not hold a valid state store (LMDB: {exc})"
                ) from exc
            except lmdb.Error as exc:
                raise StateError(f"cannot open the state store at {path}: {exc}") from exc
            try:
                self._reserve(int(self.env.info()["map_size"]), 0)
            except BaseException:
                self.env.close()
                raise
            self._write_side(side)
        except BaseException:
            os.close(self._fd)
            raise

    def _lock(self) -> int:
        lock = self.path / "open.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(f"cannot open {lock}: {exc}") from exc
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StateError(
                    f"the state store at {self.path} is open in another StateStore (this "
                    "process or another): one opener at a time"
                ) from None
            except OSError as exc:
                os.close(fd)
                raise StateError(f"cannot lock {lock}: {exc}") from exc
        return fd

    def _read_side(self) -> dict[str, Any]:
        try:
            side = json.loads(self.side.read_text())
        except FileNotFoundError:
            if self._length() > 0:
                return {}  # (written before the side file: the meta database says more)
            return {"kind": KIND, "format": STORE_FORMAT}
        except (OSError, ValueError) as exc:
            raise CorruptDataError(
                f"{self.side} does not read ({exc}): delete it to open the store unchecked"
            ) from exc
        if not isinstance(side, dict) or side.get("kind") != KIND:
            raise StateError(
                f"{self.path} is not an edgekit state store ({self.side} says otherwise)"
            )
        if side.get("format") != STORE_FORMAT:
            raise StateError(
                f"{self.path}: state store format {side.get('format')!r}, this edgekit reads "
                f"format {STORE_FORMAT} (a newer edgekit wrote it)"
            )
        return side

    def _write_side(self, side: dict[str, Any]) -> None:
        side = {**side, "kind": KIND, "format": STORE_FORMAT, "data_bytes": self._length()}
        tmp = self.side.with_suffix(".tmp")
        with contextlib.suppress(OSError):  # (a read-only directory: nothing to record)
            tmp.write_text(json.dumps(side))
            os.replace(tmp, self.side)

    def _length(self) -> int:
        try:
            return os.stat(self.data).st_size
        except FileNotFoundError:
            return 0

    def _reserve(self, size: int, start: int) -> None:
        """Give data.mdb disk blocks from ``start`` up to ``size`` bytes (blocks already
        there keep their bytes)."""
        if size <= start:
            return
        try:
            fd = os.open(self.data, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(f"cannot open {self.data}: {exc}") from exc
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, start, size - start)
            else:  # pragma: no cover - macOS: a sparse file
                os.ftruncate(fd, size)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise StateError(
                f"the state store at {self.path} cannot grow to {size:,} bytes: {exc}"
            ) from exc
        finally:
            os.close(fd)

    def grow(self) -> None:
        """Double the map (at most 1 GiB more), with disk blocks under it first.

        Raises:
            StateError: The disk has no room.
        """
        current = int(self.env.info()["map_size"])
        new = current + min(current, _MAX_STEP)
        self._reserve(new, self._length())
        self.env.set_mapsize(new)
        self._write_side({})

    def used_bytes(self) -> int:
        """Bytes of the map in use (up to the last page written)."""
        return (int(self.env.info()["last_pgno"]) + 1) * int(self.env.stat()["psize"])

    def close(self) -> None:
        try:
            self.env.close()
            self._write_side({})
        finally:
            os.close(self._fd)
