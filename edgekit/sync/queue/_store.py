"""The queue's LMDB environment: opening (format check and upgrade), transactions with
their retries, and map growth. :class:`Store` also holds what every transaction reads:
the settings, the clock and this process's last :class:`~._tally.Tally`."""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from edgekit.errors import CorruptDataError, InvalidInputError, QueueError, QueueFullError
from edgekit.sync._mapfile import MapFile
from edgekit.sync.backoff import Backoff
from edgekit.sync.queue._check import Guard, check_queue
from edgekit.sync.queue._layout import (
    C_BYTES,
    DB_NAMES,
    DEAD,
    FLAG_AES,
    FLAG_ERR,
    MSG_PREFIX,
    QUEUE_FORMAT,
    READABLE_FORMATS,
    U64,
    Cipher,
    Dbs,
    decode_body,
    encode_record,
    read_head,
    restate,
)
from edgekit.sync.queue._tally import Tally, Txn

__all__ = ["Durability", "Eviction", "Store", "lmdb_error"]

T = TypeVar("T")

Durability = Literal["process", "power"]
Eviction = Literal["reject", "drop_oldest", "drop_lowest_priority"]

MiB = 1 << 20
_GiB = 1 << 30
# Disk the map leaves free for leases and acks: puts do not grow the map into it, so
# that a queue that filled the disk can still be drained.
DRAIN_RESERVE = 2 * MiB
# Map space puts leave free for leases and acks. The map's disk blocks are already
# allocated (see MapFile), so a disk that something else filled cannot take it.
MAP_RESERVE = 256 * 1024


@functools.cache
def corrupt_errors() -> tuple[type[BaseException], ...]:
    """What a damaged file raises: lmdb's MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_PANIC and
    MDB_INVALID, and what parsing the bytes it returned raises."""
    import lmdb

    return (
        lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.PanicError, lmdb.InvalidError,
        struct.error, SystemError,
    )  # fmt: skip


@functools.cache
def lmdb_error() -> type[Exception]:
    import lmdb

    return lmdb.Error


class Store:
    """An open queue environment and the settings its transactions read.

    Attributes:
        env: The LMDB environment; ``dbs``: its databases.
        lock: Held around every transaction of this process.
        committed: The counters this process's last write left, or None (see _tally).
        now_ns: The queue's clock, in nanoseconds since the epoch.
        queue_id: The queue's id, as stored; ``queue_name``: as a str.
    """

    def __init__(
        self,
        path: Path,
        *,
        map_size: int,
        durability: Durability,
        max_bytes: int | None,
        eviction: Eviction,
        compress_threshold: int | None,
        max_attempts: int,
        backoff: Backoff,
        dedup_window: float,
        now_ns: Callable[[], int],
    ) -> None:
        self.path = path
        self.durability: Durability = durability
        self.max_bytes = max_bytes
        self.eviction: Eviction = eviction
        self.compress_threshold = compress_threshold
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.dedup_window = dedup_window
        self.now_ns = now_ns
        self.lock = threading.RLock()
        self.closed = False
        self.committed: Tally | None = None
        self.cipher: Cipher | None = None
        self.topic_names: dict[bytes, str] = {}  # (lease's decode cache)
        self.put_budget = 0  # bytes puts may add before the map's free space is measured
        if self.path.exists() and not self.path.is_dir():
            raise CorruptDataError(
                f"{self.path} is a file, not a queue directory (an LMDB environment)"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.guard = Guard(self.path)
        try:
            if self.guard.open() and self.guard.data.exists():
                check_queue(self.path)  # the last process died with it open: walk it first
            self.env = self._open_env(map_size)
            try:
                self.dbs = self._open_dbs()
                self.queue_id: bytes = self.write(self._init_meta_txn)
            except BaseException:
                self.env.close()
                raise
        except BaseException:
            self.guard.close(clean=False)  # (a damaged file stays due for a check)
            raise
        self.queue_name = self.queue_id.decode()

    # -- opening --------------------------------------------------------------------

    def _open_env(self, map_size: int) -> Any:
        import lmdb

        sync = self.durability == "power"
        # "process": the map is written in place and never flushed by us; the kernel's
        # page cache keeps every committed page through a kill -9. The file has disk
        # blocks under the whole map (see MapFile).
        self.map_file = MapFile(self.path)
        with self.map_file.locked():
            length = self.map_file.length()
            map_size = max(map_size, length)
            try:
                env = lmdb.open(
                    str(self.path),
                    map_size=map_size,
                    max_dbs=len(DB_NAMES) + 1,
                    sync=sync,
                    metasync=sync,
                    lock=True,
                    writemap=not sync,
                    max_spare_txns=2,
                )
            except (lmdb.InvalidError, lmdb.CorruptedError, lmdb.VersionMismatchError) as exc:
                raise CorruptDataError(
                    f"{self.path} does not hold a valid LMDB environment: {exc}; copy what "
                    f"still reads with `edgekit queue salvage {self.path} NEW`"
                ) from exc
            except lmdb.Error as exc:
                raise QueueError(f"cannot open the queue at {self.path}: {exc}") from exc
            try:
                # LMDB made the file map_size long: blocks under what it added.
                self.map_file.reserve(int(env.info()["map_size"]), start=length)
                self.guard.grew(self.map_file.length())
                env.reader_check()
            except BaseException:
                env.close()
                raise
            return env

    def _open_dbs(self) -> Dbs:
        import lmdb

        for _ in range(16):
            try:
                dbs = {name: self.env.open_db(name.encode()) for name in DB_NAMES}
                dbs["msgs"] = self.env.open_db(None)  # the main database
                return Dbs(dbs)
            except lmdb.MapResizedError:
                self.set_map_size(0)  # another process grew the map: adopt its size
            except corrupt_errors() as exc:
                raise self.corrupt(exc) from exc
            except lmdb.Error as exc:
                raise QueueError(f"cannot open the queue at {self.path}: {exc}") from exc
        raise QueueError(f"cannot open the queue at {self.path}: its map keeps being resized")

    def _init_meta_txn(self, t: Txn) -> bytes:
        meta = self.dbs.meta
        version = t.txn.get(b"format", db=meta)
        if version is None:
            if t.txn.cursor(self.dbs.msgs).set_range(MSG_PREFIX) or self._format_1_msgs(t):
                raise CorruptDataError(f"{self.path} has messages but no format marker")
            t.txn.put(b"format", str(QUEUE_FORMAT).encode(), db=meta)
            qid = uuid.uuid4().hex[:16].encode()
            t.txn.put(b"queue_id", qid, db=meta)
            return qid
        if version not in READABLE_FORMATS:
            raise CorruptDataError(
                f"{self.path}: unknown queue format {bytes(version)!r} (this edgekit reads "
                f"formats {', '.join(f.decode() for f in READABLE_FORMATS)}: a newer "
                "edgekit wrote it)"
            )
        if version != str(QUEUE_FORMAT).encode():
            self._upgrade_format_1(t)
        qid = t.txn.get(b"queue_id", db=meta)
        if qid is None:
            raise CorruptDataError(f"{self.path}: queue id is missing")
        return bytes(qid)

    def _format_1_msgs(self, t: Txn) -> Any:
        """Format 1's ``msgs`` database, or None."""
        import lmdb

        try:
            return self.env.open_db(b"msgs", txn=t.txn, create=False)
        except lmdb.NotFoundError:
            return None

    def _upgrade_format_1(self, t: Txn) -> None:
        """Format 1 -> 2 in one transaction: records move from the ``msgs`` database to
        the main one; the counters, always current in format 1, are format 2's with no
        uncounted puts (see _tally). Format 1 code refuses the queue afterwards."""
        old = self._format_1_msgs(t)
        if old is not None:
            t.txn.cursor(self.dbs.msgs).putmulti(
                ((MSG_PREFIX + bytes(k), bytes(v)) for k, v in t.txn.cursor(old)), True, True, True
            )
            t.txn.drop(old, delete=True)
        t.txn.put(b"format", str(QUEUE_FORMAT).encode(), db=self.dbs.meta)

    def set_key(self, key: bytes | None, migrate: bool = False) -> None:
        """Check ``key`` against the queue's (set it on a new queue); None: unencrypted.
        ``migrate``: encrypt the queue's unencrypted records with ``key``.

        Raises:
            InvalidInputError: The key is wrong, the queue is encrypted and ``key`` is
                None, or it holds unencrypted messages and ``migrate`` is False.
        """
        if key is None:
            if self.read(lambda txn: txn.get(b"keycheck", db=self.dbs.meta)) is not None:
                raise InvalidInputError(
                    f"the queue at {self.path} is encrypted: pass its encryption_key"
                )
            return
        self.cipher = Cipher(key)
        self.write(functools.partial(self._check_key_txn, migrate=migrate))

    def _check_key_txn(self, t: Txn, migrate: bool) -> None:
        assert self.cipher is not None
        meta = self.dbs.meta
        check = t.txn.get(b"keycheck", db=meta)
        if check is None:
            if not migrate and t.txn.cursor(self.dbs.msgs).set_range(MSG_PREFIX):
                raise InvalidInputError(
                    f"the queue at {self.path} holds unencrypted messages: open it without "
                    "encryption_key, or pass migrate=True to encrypt them with this key"
                )
            t.txn.put(b"keycheck", self.cipher.encrypt(Cipher.CHECK, self.queue_id), db=meta)
        elif self.cipher.decrypt(check, self.queue_id) != Cipher.CHECK:
            raise InvalidInputError(
                f"wrong encryption_key for the queue at {self.path}: it was created with another key"
            )
        if migrate:
            self._encrypt_records(t)

    def _encrypt_records(self, t: Txn) -> None:
        """Encrypt every unencrypted record in place (same id, state, attempts, times);
        a record that does not decode is left as it is (a lease quarantines it)."""
        t.put_ready()
        cursor = t.txn.cursor(self.dbs.msgs)
        if not cursor.set_range(MSG_PREFIX):
            return
        new: list[tuple[bytes, bytes]] = []
        for skey, record in cursor:
            try:
                head = read_head(record)
                if head.flags & FLAG_AES:
                    continue
                seq = U64.unpack_from(skey, 1)[0]
                payload, headers = decode_body(record, head, seq, None, self.queue_id)
            except CorruptDataError:
                continue
            sealed = encode_record(
                seq=seq, payload=payload, topic=head.topic, key=head.key, headers=headers,
                priority=head.priority, created_us=head.created_us,
                compress_threshold=self.compress_threshold, cipher=self.cipher,
                queue_id=self.queue_id,
            )  # fmt: skip
            fresh = read_head(sealed)
            fresh.state, fresh.attempts, fresh.deadline_us = (
                head.state,
                head.attempts,
                head.deadline_us,
            )
            fresh.flags |= head.flags & FLAG_ERR
            new.append((bytes(skey), restate(sealed, fresh)))
            grown = len(sealed) - len(record)
            t.counters[C_BYTES] += grown
            if head.state != DEAD:
                t.topic_add(head.topic, 0, grown)
        for skey, sealed in new:
            t.txn.put(skey, sealed, db=self.dbs.msgs)

    # -- transactions ----------------------------------------------------------------

    def corrupt(self, exc: BaseException) -> CorruptDataError:
        """The error for damage found while reading the environment."""
        return CorruptDataError(
            f"the queue at {self.path} is damaged ({type(exc).__name__}: {exc}); check it "
            f"with `edgekit queue check {self.path}`, copy what still reads with "
            f"`edgekit queue salvage {self.path} NEW`"
        )

    def check_open(self) -> None:
        if self.closed:
            raise QueueError(f"the queue at {self.path} is closed")

    def write(
        self,
        fn: Callable[[Txn], T],
        deferrable: bool = False,
        puts: bool = False,
        nbytes: int = 0,
    ) -> T:
        """Run ``fn`` in a write transaction, growing the map when it is full (a
        transaction of ``puts``, of about ``nbytes`` payload bytes, leaves the last
        ``DRAIN_RESERVE`` bytes of disk and ``MAP_RESERVE`` bytes of map).
        ``deferrable``: a put transaction, which may leave the counters behind."""
        import lmdb

        with self.lock:
            self.check_open()
            if puts:
                self.keep_room(nbytes)
            for _ in range(64):
                try:
                    with self.env.begin(write=True) as txn:
                        t = Txn(txn, self.dbs, self.committed, deferrable)
                        result = fn(t)
                        written = t.flush()
                    self.committed = t.committed(written)
                    return result
                except lmdb.MapFullError as exc:
                    self._grow(exc, puts)
                except lmdb.MapResizedError:
                    self.set_map_size(0)
                except corrupt_errors() as exc:
                    raise self.corrupt(exc) from exc
                except lmdb.Error as exc:
                    raise QueueError(f"queue at {self.path}: {exc}") from exc
            raise QueueError(f"queue at {self.path}: could not commit after growing the map")

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn`` in a read transaction."""
        import lmdb

        with self.lock:
            self.check_open()
            for _ in range(4):
                try:
                    with self.env.begin() as txn:
                        return fn(txn)
                except lmdb.MapResizedError:
                    self.set_map_size(0)
                except corrupt_errors() as exc:
                    raise self.corrupt(exc) from exc
                except lmdb.Error as exc:
                    raise QueueError(f"queue at {self.path}: {exc}") from exc
            raise QueueError(f"queue at {self.path}: map keeps being resized")

    # -- the map -----------------------------------------------------------------------

    def keep_room(self, nbytes: int) -> None:
        """Before a put of about ``nbytes`` payload bytes: keep ``MAP_RESERVE`` bytes of
        the map free for leases and acks, growing the map when they would go. The free
        space is measured once the puts since the last measure may have used half of
        what was above the reserve. Hold ``self.lock``, with no transaction open.

        Raises:
            QueueFullError: The map cannot grow (disk or address space) and the put would
                take the reserve.
        """
        self.put_budget -= nbytes + 256  # (256: a record's share of index and page space)
        if self.put_budget >= 0:
            return
        for _ in range(64):
            free = self._free_bytes() - nbytes - MAP_RESERVE
            if free >= 0:
                self.put_budget = free // 2
                return
            self._grow(None, puts=True)
        raise QueueFullError(f"queue at {self.path}: could not keep room for leases and acks")

    def _free_bytes(self) -> int:
        """Bytes of the map no database uses (free-list pages count as free)."""
        dbs = self.dbs

        def used_pages(txn: Any) -> int:
            pages = 3  # the two meta pages and a free-list page
            for db in (dbs.msgs, dbs.ready, dbs.timers, dbs.dead, dbs.keys, dbs.kexp,
                       dbs.topics, dbs.meta, dbs.errors):  # fmt: skip
                st = txn.stat(db)
                pages += st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"]
            return int(pages)

        psize = int(self.env.stat()["psize"])
        return int(self.env.info()["map_size"]) - self.read(used_pages) * psize

    def _grow(self, exc: Exception | None, puts: bool = False) -> None:
        current = int(self.env.info()["map_size"])
        if self.map_file.length() > current:  # another process grew it: adopt that first
            self.set_map_size(0)
            return
        limit = self._map_limit() - (DRAIN_RESERVE if puts else 0)
        if current >= limit:
            try:
                st = os.statvfs(self.path)
                why = f"the disk has {st.f_bavail * st.f_frsize:,} bytes free"
            except OSError:
                why = "the disk is full"
            if puts:
                why += f" and puts leave {DRAIN_RESERVE:,} bytes of it for leases and acks"
            raise QueueFullError(
                f"the queue at {self.path} cannot grow its map past its {current:,} bytes: " + why
            ) from exc
        self.set_map_size(min(current + min(current, _GiB), limit))

    def set_map_size(self, size: int) -> None:
        """Map ``size`` bytes of the data file, or more when another process made it
        longer (0: adopt its length). Hold ``self.lock``, with no transaction open.

        Raises:
            QueueFullError: The disk has no room for ``size`` bytes.
        """
        import lmdb

        with self.map_file.locked():
            size = max(size, self.map_file.length())
            self.map_file.reserve(size)
            self.guard.grew(self.map_file.length())
            try:
                self.env.set_mapsize(size)
            except lmdb.Error as exc:
                raise QueueFullError(
                    f"the queue at {self.path} cannot grow its map: {exc}"
                ) from exc

    def _map_limit(self) -> int:
        try:
            st = os.statvfs(self.path)
            disk = st.f_bavail * st.f_frsize + self.map_file.length()
        except OSError:
            disk = 1 << 40
        if self.max_bytes is not None:
            return int(min(disk, max(8 * self.max_bytes, 64 * MiB) + 64 * MiB))
        return int(disk)

    def reserve(self, nbytes: int) -> None:
        """Grow the map ahead of a large transaction (a failed one would be redone)."""
        if nbytes < 4 * MiB:
            return
        with self.lock:
            self.check_open()
            info = self.env.info()
            used = (int(info["last_pgno"]) + 1) * int(self.env.stat()["psize"])
            want = used + 3 * nbytes + 16 * MiB
            size = int(info["map_size"])
            if want > size:
                new = size
                while new < want:
                    new *= 2
                new = min(new, self._map_limit() - DRAIN_RESERVE)
                if new > size:
                    with contextlib.suppress(QueueFullError):  # the write will grow or fail
                        self.set_map_size(new)

    def map_size(self) -> int:
        """The LMDB map size in bytes."""
        return int(self.env.info()["map_size"])

    # -- life cycle --------------------------------------------------------------------

    def sync(self) -> None:
        """Flush to disk now (an fsync)."""
        with self.lock:
            self.check_open()
            self.env.sync(True)

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.env.close()
                self.guard.close()
