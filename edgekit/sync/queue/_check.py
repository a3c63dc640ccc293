"""Checking and salvaging a queue file in child processes.

LMDB has no page checksums: a damaged page can make it abort the process (an
``IS_LEAF`` assertion, SIGABRT) or read garbage. So the structure is walked in a child
process first (every database with a cursor, every record's header and checksum); an
abort there becomes a :class:`~edgekit.errors.CorruptDataError` here, naming the way
out: :func:`salvage_queue`, which copies every record that still reads into a new
queue, one child process per walk, resuming past the damage when a walk dies.

Unclean shutdowns and truncation are noticed with a side file, ``edgekit-queue.json``
beside ``data.mdb`` (see :class:`Guard`): the data file's length as last known (the file
only grows: its disk blocks are reserved as the map grows) and whether a process still
had the queue open. Each process that opens the queue holds a shared ``flock`` on
``open.lock`` until it closes it: the first to open after every holder died without
closing it finds the side file still marked open and checks the queue first.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit._snapshot import Snapshot
from edgekit.errors import CorruptDataError, QueueError

__all__ = ["Guard", "QueueCheck", "SalvageReport", "check_queue"]

SIDE_FILE = "edgekit-queue.json"
# The child loads this module and _layout by file, without the edgekit.sync package
# (whose transports and engine take most of a second to import).
_CHILD = """
import sys, importlib.util
root = sys.argv[1]
sys.path.insert(0, root)
def load(name):
    spec = importlib.util.spec_from_file_location(
        "_edgekit_queue_" + name, f"{root}/edgekit/sync/queue/_{name}.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
check = load("check")
check.L = load("layout")
sys.exit(check._child(sys.argv[2:]))
"""
L: Any = None  # the _layout module (set by the child; imported on first use here)


def _layout() -> Any:
    global L
    if L is None:
        from edgekit.sync.queue import _layout as layout

        L = layout
    return L


_ERROR = 3  # the child's exit status when lmdb or the walk raised (not an abort)


@dataclass(frozen=True)
class QueueCheck(Snapshot):
    """What :func:`check_queue` found (the structure held: it raised otherwise).

    Attributes:
        records: Message records read (dead letters included).
        corrupt_records: Records whose header or checksum fails (each is quarantined
            into the dead letters when a lease or peek reaches it).
        entries: Entries walked in every database.
        duration_s: Seconds the walk took.
    """

    records: int
    corrupt_records: int
    entries: int
    duration_s: float


@dataclass(frozen=True)
class SalvageReport(Snapshot):
    """What :func:`salvage_queue` copied.

    Attributes:
        saved: Messages copied into the new queue (dead letters included).
        dead_letters: Of those, dead letters (kept dead, with their reason).
        lost: Records that could not be read (damaged, or on pages a walk could not
            pass), as far as the last id of the old queue tells.
        walks: Child processes it took (more than one: a walk died on damage).
    """

    saved: int
    dead_letters: int
    lost: int
    walks: int


def _root() -> str:
    return str(Path(__file__).resolve().parents[3])


def _run(args: list[str], timeout: float, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONFAULTHANDLER="")
    try:
        return subprocess.run(
            [sys.executable, "-c", _CHILD, _root(), *args],
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise QueueError(f"the queue check did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise QueueError(f"cannot start the queue check process: {exc}") from exc


def _died(code: int) -> str:
    with contextlib.suppress(ValueError):
        return f"LMDB crashed ({signal.Signals(-code).name})"
    return f"LMDB crashed (signal {-code})"


def _way_out(path: Path) -> str:
    return f"copy what still reads with `edgekit queue salvage {path} NEW` (salvage_queue)"


def check_queue(path: str | os.PathLike[str], *, timeout: float = 600.0) -> QueueCheck:
    """Walk the queue at ``path`` in a child process: every database with a cursor,
    every record's header and checksum.

    Raises:
        CorruptDataError: LMDB crashed or failed on the file (the message names the
            database and the way out), or the data file was truncated.
        QueueError: The child could not run or did not finish within ``timeout`` s.
    """
    path = Path(path)
    Guard(path).check_length()
    done = _run(["check", str(path)], timeout)
    lines = done.stdout.decode(errors="replace").splitlines()
    if done.returncode == 0 and lines and lines[-1].startswith("{"):
        return QueueCheck(**json.loads(lines[-1]))
    detail = done.stderr.decode(errors="replace").strip().splitlines() or [""]
    if done.returncode > 0 and done.returncode != _ERROR:
        raise QueueError(f"the check of the queue at {path} failed: {detail[-1]}")
    where = next((ln[5:] for ln in reversed(lines) if ln.startswith("walk ")), "environment")
    why = detail[-1] if done.returncode == _ERROR else _died(done.returncode)
    raise CorruptDataError(
        f"the queue at {path} is damaged: {why} while reading its {where} database; "
        + _way_out(path)
    )


# -- the child ---------------------------------------------------------------------------


def _open_readonly(path: str) -> Any:
    import lmdb

    return lmdb.open(
        path, readonly=True, lock=True, max_dbs=len(_layout().DB_NAMES) + 1, create=False
    )


def _walk(path: str) -> dict[str, Any]:
    lay = _layout()
    start = time.perf_counter()
    env = _open_readonly(path)
    records = corrupt = entries = 0
    with env.begin() as txn:
        print("walk main", flush=True)
        for key, value in txn.cursor():
            entries += 1
            if key[:1] == lay.MSG_PREFIX:
                records += 1
                try:
                    lay.verify(value, lay.read_head(value))
                except (CorruptDataError, struct.error, UnicodeDecodeError):
                    corrupt += 1
        for name in lay.DB_NAMES:
            print(f"walk {name}", flush=True)
            try:
                db = env.open_db(name.encode(), txn=txn, create=False)
            except Exception:
                continue
            for _ in txn.cursor(db=db):
                entries += 1
    env.close()
    return {
        "records": records,
        "corrupt_records": corrupt,
        "entries": entries,
        "duration_s": round(time.perf_counter() - start, 6),
    }


def _emit(out: Any, item: tuple[Any, ...]) -> None:
    data = pickle.dumps(item)
    out.write(struct.pack(">I", len(data)) + data)  # (unbuffered: an abort loses nothing sent)


def _copy_from(path: str, start: int, key: bytes | None) -> None:
    """Send (id, Message or None, dead reason, last error) of each record from id
    ``start`` on; None: the record does not decode."""
    lay = _layout()
    out = os.fdopen(sys.stdout.fileno(), "wb", buffering=0)
    env = _open_readonly(path)
    cipher = lay.Cipher(key) if key is not None else None
    with env.begin() as txn:
        meta = env.open_db(b"meta", txn=txn, create=False)
        dead = env.open_db(b"dead", txn=txn, create=False)
        qid = bytes(txn.get(b"queue_id", db=meta) or b"")
        cursor = txn.cursor()
        if not cursor.set_range(lay.MSG_PREFIX + lay.U64.pack(start)):
            return
        for skey, record in cursor:
            seq = lay.U64.unpack_from(skey, 1)[0]
            try:
                head = lay.read_head(record)
                payload, headers = lay.decode_body(record, head, seq, cipher, qid)
                item = (head.topic.decode(), head.priority, head.key.decode() or None, headers)
                why = error = None
                if head.state == lay.DEAD:
                    _, why, error = lay.dead_info(bytes(txn.get(skey[1:], db=dead) or b""))
                    why = why or "dead letter (no reason recorded)"
                _emit(out, (seq, (payload, *item), why, error))
            except (CorruptDataError, struct.error, UnicodeDecodeError) as exc:
                _emit(out, (seq, None, str(exc), None))


def _count(path: str) -> int:
    """The records in the main database, from its B-tree header (no walk)."""
    env = _open_readonly(path)
    with env.begin() as txn:
        names = 0
        for name in _layout().DB_NAMES:
            with contextlib.suppress(Exception):  # (lmdb.NotFoundError)
                env.open_db(name.encode(), txn=txn, create=False)
                names += 1
        return int(txn.stat(env.open_db(None))["entries"]) - names


def _child(argv: list[str]) -> int:
    import lmdb

    command, path = argv[0], argv[1]
    try:
        if command == "check":
            print(json.dumps(_walk(path)), flush=True)
        elif command == "copy":
            key = sys.stdin.buffer.read() or None
            _copy_from(path, int(argv[2]), key)
        elif command == "count":
            print(_count(path), flush=True)
    except (lmdb.Error, CorruptDataError, struct.error, SystemError, MemoryError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return _ERROR
    return 0


# -- salvage -----------------------------------------------------------------------------


def _frames(data: bytes) -> list[tuple[Any, ...]]:
    out = []
    at = 0
    while at + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, at)
        if at + 4 + n > len(data):
            break  # cut by the crash
        out.append(pickle.loads(data[at + 4 : at + 4 + n]))
        at += 4 + n
    return out


class Guard:
    """The side file and the open lock of the queue in ``directory`` (see the module
    docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.side = directory / SIDE_FILE
        self.data = directory / "data.mdb"
        self.fd: int | None = None

    def read(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.side.read_text()))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CorruptDataError(
                f"{self.side} does not read ({exc}): delete it to open the queue unchecked"
            ) from exc

    def write(self, **fields: Any) -> None:
        state = self.read()
        state.update(fields)
        tmp = self.side.with_suffix(".tmp")
        with contextlib.suppress(OSError):  # (a read-only directory: nothing to record)
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.side)

    def check_length(self) -> None:
        """Raise CorruptDataError when the data file is shorter than it was."""
        known = int(self.read().get("data_bytes", 0))
        try:
            length = os.stat(self.data).st_size
        except FileNotFoundError:
            length = 0
        if length < known:
            gone = "is missing" if not self.data.exists() else f"is {length:,} bytes"
            raise CorruptDataError(
                f"the queue at {self.directory} was truncated: data.mdb {gone}, it was "
                f"{known:,} bytes; {_way_out(self.directory)}, or delete {self.side} "
                "to open what is left as it is"
            )

    def grew(self, length: int) -> None:
        """Record the data file's new length."""
        if length > int(self.read().get("data_bytes", 0)):
            self.write(data_bytes=length)

    def open(self) -> bool:
        """Take the open lock; True when this is the first opener after every earlier
        one died with the queue open (check it before use)."""
        import fcntl

        self.check_length()
        lock = self.directory / "open.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise QueueError(f"cannot open {lock}: {exc}") from exc
        try:
            first = True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                first = False
            unclean = first and bool(self.read().get("open"))
            if first:
                self.write(open=True)
            fcntl.flock(fd, fcntl.LOCK_SH)  # (waits for a first opener's check)
        except OSError as exc:  # (a file system without locks)
            os.close(fd)
            raise QueueError(f"cannot lock {lock}: {exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return unclean

    def close(self, clean: bool = True) -> None:
        """Release the open lock; the last to close marks the queue closed (unless the
        open failed: ``clean=False`` leaves it to be checked again)."""
        import fcntl

        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if clean:
                self.write(open=False)
        except OSError:
            pass  # another process has it open (or no locks: nothing to record)
        finally:
            os.close(fd)
