""":class:`StateStore`: local-first replicated key-value state on LMDB.

Every write gets a hybrid logical clock stamp (:mod:`edgekit.state.hlc`) and this node's
id; deletes leave tombstones. Local writes stay *pending* until a replicator
(``StateSync``, or the host) confirms them with :meth:`StateStore.mark_synced`; remote
entries come in through :meth:`StateStore.apply_remote`, which resolves true conflicts
three-way against the key's last synced base with the key's strategy
(:mod:`edgekit.state.strategies`). The store never touches the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import operator
import struct
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from edgekit._snapshot import Snapshot
from edgekit.errors import CorruptDataError, EdgekitError, InvalidInputError, StateError
from edgekit.state._codec import (
    F_DELETED,
    F_PENDING,
    F_SIBLINGS,
    HEAD,
    HLC_KEY,
    U64,
    check_key,
    check_node_id,
    decode,
    encode,
    encode_value,
    loads,
)
from edgekit.state._env import DB_NAMES, KIND, STORE_FORMAT, Durability, Env
from edgekit.state._types import Change, Conflict, Entry
from edgekit.state.hlc import Hlc, HlcClock
from edgekit.state.strategies import ConflictPolicy, Strategy, resolve, strategy_name

__all__ = ["Change", "Conflict", "Entry", "StateStats", "StateStore"]

T = TypeVar("T")
_log = logging.getLogger("edgekit.state")

# What reading a damaged file raises: LMDB's errors, and what decoding its bytes raises
# (ValueError covers UnicodeDecodeError and JSONDecodeError; InvalidInputError is one too,
# and is passed through as it is).
_DAMAGE = (
    lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.PanicError, lmdb.InvalidError,
    struct.error, IndexError, ValueError,
)  # fmt: skip
_pack_head = HEAD.pack
_unpack_head = HEAD.unpack_from
_HEAD_SIZE = HEAD.size
_UNLIMITED = 1 << 62
_WALL_MS_MAX = 7_258_118_400_000  # 2200-01-01: a stamp past it is damage
_HANDED_MAX = 100_000


@dataclass(frozen=True)
class StateStats(Snapshot):
    """What a :class:`StateStore` holds.

    ``keys``: live keys; ``tombstones``: deleted keys not yet collected; ``pending``:
    local changes not yet confirmed by the remote; ``conflicts``: true conflicts resolved
    so far, by strategy; ``used_bytes``: the data file's pages in use.
    """

    node_id: str
    keys: int
    tombstones: int
    pending: int
    conflicts: dict[str, int]
    used_bytes: int
    map_bytes: int
    durability: str


_by_stamp = operator.itemgetter(1)  # (key, (hlc, node)) -> (hlc, node)


def _previous(key: str, old: bytes | None) -> Entry | None:
    """The entry a key held before a write (None: none, or it did not decode)."""
    if old is None:
        return None
    try:
        return decode(key, old)[0]
    except CorruptDataError:
        return None


# What a write stages for once it commits (StateStore._commit): the key, the change of
# the live and the tombstone counts, and the key's (hlc, node) when it is now pending,
# None when it is not.
_Staged = tuple[str, int, int, "tuple[Hlc, str] | None"]


def _counts(old: bytes | None, deleted: bool) -> tuple[int, int]:
    """How a write of a tombstone (``deleted``) or a value over ``old`` changes the live
    and tombstone counts."""
    live, dead = (0, 1) if deleted else (1, 0)
    if old is not None:
        if old[:1] and old[0] & F_DELETED:
            dead -= 1
        else:
            live -= 1
    return live, dead


def _value_of(record: bytes) -> Any:
    """The value of a live entry's record, without building the entry."""
    value = loads(record[14 + record[13] :])
    return value[0] if record[0] & F_SIBLINGS else value


class StateStore:
    """Replicated key-value state, durable on local disk.

    Args:
        path: The store's directory (created).
        node_id: This node's id (1 to 64 of ``A-Z a-z 0-9 _ -``); stored on first open
            (a random 12-hex id when not given); a different id later is refused.
        conflict: The strategy of every key, or ``{pattern: strategy}`` (see
            :mod:`edgekit.state.strategies`).
        durability: ``"process"`` (and ``"none"``, the same here): a write that returned
            survives a crash or kill -9 of the process; ``"power"``: also a power cut
            (an fsync per write).
        max_value_bytes: The largest value a local write may store, as JSON bytes.
        tombstone_horizon_s: Tombstones of deletes the remote confirmed are collected
            this many seconds after the delete. Keep it longer than any replica stays
            away: a replica that was away longer may bring a deleted key back.
        clock: Physical time, seconds since the epoch (the HLC's, the conflict log's and
            the tombstone horizon's).
        max_conflicts: How many conflicts the log keeps (the latest).

    A store is open in one :class:`StateStore` at a time (a second gets StateError). Every
    method blocks and is safe to call from any thread.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        node_id: str | None = None,
        conflict: Strategy | Mapping[str, Strategy] = "lww",
        durability: Durability = "process",
        max_value_bytes: int = 256 * 1024,
        tombstone_horizon_s: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
        max_conflicts: int = 1000,
    ) -> None:
        if durability not in ("none", "process", "power"):
            raise InvalidInputError(
                f"durability must be 'none', 'process' or 'power', not {durability!r}"
            )
        if node_id is not None:
            check_node_id(node_id)
        if not (isinstance(max_value_bytes, int) and max_value_bytes > 0):
            raise InvalidInputError(
                f"max_value_bytes must be a positive int, not {max_value_bytes!r}"
            )
        if not tombstone_horizon_s > 0:
            raise InvalidInputError(
                f"tombstone_horizon_s must be positive, not {tombstone_horizon_s!r}"
            )
        if not (isinstance(max_conflicts, int) and max_conflicts > 0):
            raise InvalidInputError(f"max_conflicts must be a positive int, not {max_conflicts!r}")
        self.path = Path(path)
        self.durability: Durability = durability
        self.max_value_bytes = max_value_bytes
        self.tombstone_horizon_s = float(tombstone_horizon_s)
        self.max_conflicts = max_conflicts
        self.policy = ConflictPolicy(conflict)
        self.clock = HlcClock(clock)
        self._time = clock
        self._lock = threading.RLock()
        self._closed = False
        self._subs: list[Callable[[Change], None]] = []
        self._batch = 0
        self._deferred: list[Change] = []
        self._handed: dict[tuple[str, Hlc], Entry] = {}
        self._streams: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Change | None]]] = []
        self._env = Env(self.path, durability)
        self._begin = self._env.env.begin
        try:
            self._open(node_id)
        except BaseException:
            self._env.close()
            raise

    # -- opening ---------------------------------------------------------------------

    def _open(self, node_id: str | None) -> None:
        env = self._env.env
        try:
            with env.begin() as txn:
                stray = [
                    bytes(k).decode(errors="replace")
                    for k, _ in txn.cursor()
                    if bytes(k).decode(errors="replace") not in DB_NAMES
                ]
            if stray:
                raise StateError(
                    f"{self.path} is not an edgekit state store (it holds {', '.join(stray[:3])})"
                )
            dbs = {name: env.open_db(name.encode()) for name in DB_NAMES}
        except lmdb.Error as exc:
            raise CorruptDataError(f"the state store at {self.path} is damaged: {exc}") from exc
        self._entries, self._base = dbs["entries"], dbs["base"]
        self._conf, self._meta = dbs["conflicts"], dbs["meta"]
        self.node_id: str = self._write(lambda txn: self._init_meta(txn, node_id))
        self._node_b = self.node_id.encode()
        self._node_len = len(self._node_b)
        self._count()
        self.collect_tombstones()

    def _init_meta(self, txn: Any, node_id: str | None) -> str:
        meta = self._meta
        fmt = txn.get(b"format", db=meta)
        if fmt is None:
            if txn.stat(self._entries)["entries"]:
                raise CorruptDataError(f"{self.path} holds entries but no format marker")
            txn.put(b"format", str(STORE_FORMAT).encode(), db=meta)
            txn.put(b"kind", KIND.encode(), db=meta)
        elif bytes(fmt) != str(STORE_FORMAT).encode():
            raise StateError(
                f"{self.path}: state store format {bytes(fmt)!r}, this edgekit reads "
                f"format {STORE_FORMAT} (a newer edgekit wrote it)"
            )
        stored = txn.get(b"node_id", db=meta)
        if stored is None:
            node = node_id or uuid.uuid4().hex[:12]
            txn.put(b"node_id", node.encode(), db=meta)
        else:
            node = bytes(stored).decode()
            if node_id is not None and node_id != node:
                raise StateError(
                    f"the state store at {self.path} belongs to node {node!r}, not {node_id!r}: "
                    "a node keeps its id (open it without node_id)"
                )
        floor = txn.get(b"hlc", db=meta)
        if floor is not None:
            self.clock.advance(Hlc(*HLC_KEY.unpack(floor)))
        cur = txn.cursor(self._conf)
        self._conf_seq = U64.unpack(cur.key())[0] if cur.last() else 0
        counts = txn.get(b"conflict_counts", db=meta)
        self._conf_counts: dict[str, int] = json.loads(bytes(counts)) if counts else {}
        return node

    def _count(self) -> None:
        """Count live keys and tombstones, list the pending ones and raise the clock to
        the latest stamp stored (once, at open)."""
        live = dead = 0
        pending: dict[str, tuple[Hlc, str]] = {}
        latest = (0, 0)

        def walk(txn: Any) -> None:
            nonlocal live, dead, latest
            for k, rec in txn.cursor(self._entries):
                if len(rec) < _HEAD_SIZE:
                    live += 1  # (damaged: reading it says so)
                    continue
                flags, wall, logical, nlen = _unpack_head(rec)
                if flags & F_DELETED:
                    dead += 1
                else:
                    live += 1
                if wall < _WALL_MS_MAX:  # (a damaged stamp must not drag the clock)
                    latest = max(latest, (wall, logical))
                if flags & F_PENDING:
                    node = bytes(rec[_HEAD_SIZE : _HEAD_SIZE + nlen]).decode(errors="replace")
                    pending[bytes(k).decode(errors="replace")] = (Hlc(wall, logical), node)

        self._read(walk)
        self._live, self._dead, self._pending = live, dead, pending
        self.clock.advance(Hlc(*latest))

    # -- transactions ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StateError(f"the state store at {self.path} is closed")

    def _write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(txn)`` in a write transaction, growing the map when it is full."""
        with self._lock:
            self._check_open()
            for _ in range(32):
                try:
                    with self._env.env.begin(write=True) as txn:
                        return fn(txn)
                except lmdb.MapFullError:
                    self._env.grow()
                except _DAMAGE as exc:
                    raise self._damaged(exc) from exc
                except lmdb.Error as exc:
                    raise StateError(f"state store at {self.path}: {exc}") from exc
            raise StateError(f"state store at {self.path}: could not commit after growing the map")

    def _damaged(self, exc: BaseException) -> EdgekitError:
        """The error for damage found in the store (an EdgekitError raised on purpose
        inside a transaction stays as it is)."""
        if isinstance(exc, EdgekitError):
            return exc
        return CorruptDataError(
            f"the state store at {self.path} is damaged ({type(exc).__name__}: {exc}); the "
            "keys that still read (get() each of keys()) can be copied into a new store"
        )

    def _read(self, fn: Callable[[Any], T]) -> T:
        self._check_open()
        try:
            with self._env.env.begin() as txn:
                return fn(txn)
        except _DAMAGE as exc:
            raise self._damaged(exc) from exc
        except lmdb.Error as exc:
            if self._closed:
                raise StateError(f"the state store at {self.path} is closed") from exc
            raise StateError(f"state store at {self.path}: {exc}") from exc

    def _write_staged(self, fn: Callable[[Any, list[_Staged]], T]) -> T:
        """:meth:`_write` of ``fn(txn, staged)``; what ``fn`` staged is applied to the
        counters and the pending keys once the transaction committed."""
        staged: list[_Staged] = []

        def run(txn: Any) -> T:
            staged.clear()  # (a retry after growing the map starts over)
            return fn(txn, staged)

        with self._lock:
            result = self._write(run)
            self._commit(staged)
        return result

    def _get(self, kb: bytes) -> bytes | None:
        rec: bytes | None = self._read(lambda txn: txn.get(kb, db=self._entries))
        return rec

    def _floor(self, txn: Any) -> None:
        """Store the clock, so that a reopened store stamps after everything it saw."""
        last = self.clock.last
        txn.put(b"hlc", HLC_KEY.pack(last[0], last[1]), db=self._meta)

    def _put_local(
        self, txn: Any, kb: bytes, entry: Entry, rec: bytes, staged: list[_Staged]
    ) -> bytes | None:
        """Store a pending local entry (staging what the counters learn once it commits);
        returns the key's previous record."""
        old = txn.get(kb, db=self._entries)
        txn.put(kb, rec, db=self._entries)
        staged.append((entry.key, *_counts(old, entry.deleted), entry.order()))
        return None if old is None else bytes(old)

    def _commit(self, staged: list[_Staged]) -> None:
        """Apply what committed writes staged (see _Staged)."""
        pending = self._pending
        for key, live, dead, pend in staged:
            self._live += live
            self._dead += dead
            if pend is None:
                pending.pop(key, None)
            else:
                pending[key] = pend

    # -- notifications -----------------------------------------------------------------

    def _notify(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._lock:
            if self._batch:
                self._deferred.extend(changes)
                return
            subs = list(self._subs)
        for change in changes:
            for cb in subs:
                try:
                    cb(change)
                except Exception:
                    _log.exception("a state subscriber failed on %r", change.entry.key)

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback(change)`` after every change of a key's entry, local or remote,
        in the thread that made it, after the write committed. Returns the function that
        unsubscribes. An exception in ``callback`` is logged, never raised to the writer."""
        with self._lock:
            self._subs.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subs.remove(callback)

        return unsubscribe

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold notifications until the block ends, then deliver them in order: a
        subscriber that reads the store sees the state after the whole batch (a
        replicator applies a reconnect's changes in one batch)."""
        with self._lock:
            self._batch += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch -= 1
                deferred, self._deferred = (
                    (self._deferred, []) if not self._batch else ([], self._deferred)
                )
            self._notify(deferred)

    async def changes(self, prefix: str = "") -> AsyncIterator[Change]:
        """Every change (local and remote) of the keys starting with ``prefix``, as they
        happen, until the store closes (``async for change in store.changes():``)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Change | None] = asyncio.Queue()

        def push(change: Change) -> None:
            if change.entry.key.startswith(prefix):
                loop.call_soon_threadsafe(queue.put_nowait, change)

        stream = (loop, queue)
        with self._lock:
            self._check_open()
            self._streams.append(stream)
        unsubscribe = self.subscribe(push)
        try:
            while True:
                change = await queue.get()
                if change is None:
                    return
                yield change
        finally:
            unsubscribe()
            with self._lock, contextlib.suppress(ValueError):
                self._streams.remove(stream)

    # -- the key-value API ---------------------------------------------------------------

    def set(self, key: str, value: Any) -> Entry:
        """Store ``value`` (anything JSON holds) under ``key``; returns the new entry.

        Raises:
            InvalidInputError: An illegal key, a value JSON cannot hold, or one longer
                than ``max_value_bytes`` as JSON.
        """
        kb = check_key(key)
        data = encode_value(key, value, self.max_value_bytes)
        with self._lock:
            if self._closed:
                self._check_open()
            hlc = self.clock.now()
            entry = Entry(key, value, hlc, self.node_id)
            rec = _pack_head(F_PENDING, hlc[0], hlc[1], self._node_len) + self._node_b + data
            try:  # (the common case inline: one transaction, no retry)
                with self._begin(write=True, db=self._entries) as txn:
                    old = txn.replace(kb, rec)
            except lmdb.Error:  # (the map is full, ...: the general path)
                old = self._write_staged(lambda txn, st: self._put_local(txn, kb, entry, rec, st))
            else:
                if old is None:
                    self._live += 1
                elif old and old[0] & F_DELETED:
                    self._dead -= 1
                    self._live += 1
                self._pending[key] = (hlc, self.node_id)
        if self._subs:
            self._notify([Change(entry, "local", _previous(key, old))])
        return entry

    def delete(self, key: str) -> Entry | None:
        """Delete ``key`` (a tombstone); returns it, or None when the key held nothing."""
        kb = check_key(key)
        with self._lock:
            old_rec = self._get(kb)
            if old_rec is None or (old_rec[:1] and old_rec[0] & F_DELETED):
                return None
            entry = Entry(key, None, self.clock.now(), self.node_id, True)
            rec = encode(entry, True)
            old = self._write_staged(lambda txn, st: self._put_local(txn, kb, entry, rec, st))
        if self._subs:
            self._notify([Change(entry, "local", _previous(key, old))])
        return entry

    def update(self, mapping: Mapping[str, Any], *, delete: Iterable[str] = ()) -> list[Entry]:
        """Set every key of ``mapping`` and delete the keys of ``delete``, in one
        transaction (all or nothing: every key and value is checked first)."""
        if not isinstance(mapping, Mapping):
            raise InvalidInputError(f"update takes a mapping, not {type(mapping).__name__}")
        sets = [
            (k, check_key(k), v, encode_value(k, v, self.max_value_bytes))
            for k, v in mapping.items()
        ]
        dels = [(k, check_key(k)) for k in delete if k not in mapping]
        changes: list[Change] = []

        def txn_fn(txn: Any, staged: list[_Staged]) -> list[Entry]:
            changes.clear()
            out: list[Entry] = []
            for key, kb, value, data in sets:
                entry = Entry(key, value, self.clock.now(), self.node_id)
                old = self._put_local(txn, kb, entry, encode(entry, True, data), staged)
                out.append(entry)
                changes.append(Change(entry, "local", _previous(key, old)))
            for key, kb in dels:
                cur = txn.get(kb, db=self._entries)
                if cur is None or (cur[:1] and cur[0] & F_DELETED):
                    continue
                entry = Entry(key, None, self.clock.now(), self.node_id, True)
                old = self._put_local(txn, kb, entry, encode(entry, True), staged)
                out.append(entry)
                changes.append(Change(entry, "local", _previous(key, old)))
            return out

        out = self._write_staged(txn_fn)
        self._notify(changes)
        return out

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it has none (or was deleted)."""
        try:
            kb = key.encode()
        except AttributeError:
            raise InvalidInputError(f"state key {key!r} must be a string") from None
        if not 0 < len(kb) <= 255:
            return default  # (no such key can be stored)
        try:
            with self._begin(db=self._entries) as txn:
                rec = txn.get(kb)
        except lmdb.Error:
            rec = self._get(kb)
        if rec is None:
            return default
        try:
            return default if rec[0] & F_DELETED else _value_of(rec)
        except (ValueError, IndexError) as exc:
            raise CorruptDataError(f"state key {key!r}: its stored value does not decode") from exc

    def entry(self, key: str) -> Entry | None:
        """The entry of ``key`` (a tombstone included), or None."""
        kb = check_key(key)
        rec = self._get(kb)
        return None if rec is None else decode(key, rec)[0]

    def __getitem__(self, key: str) -> Any:
        rec = self._get(check_key(key))
        if rec is None or (rec[:1] and rec[0] & F_DELETED):
            raise KeyError(key)
        try:
            return _value_of(rec)
        except (ValueError, IndexError) as exc:
            raise CorruptDataError(f"state key {key!r}: its stored value does not decode") from exc

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        if self.delete(key) is None:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        rec = self._get(key.encode())
        return rec is not None and not (rec[:1] and rec[0] & F_DELETED)

    def _scan(self, prefix: str) -> list[tuple[str, bytes]]:
        """(key, record) of the keys starting with ``prefix``, by key."""
        if not isinstance(prefix, str):
            raise InvalidInputError(f"prefix must be a string, not {type(prefix).__name__}")
        pb = prefix.encode()

        def walk(txn: Any) -> list[tuple[str, bytes]]:
            cur = txn.cursor(self._entries)
            out = []
            if cur.set_range(pb):
                for k, v in cur:
                    if not k.startswith(pb):
                        break
                    out.append((bytes(k).decode(), bytes(v)))
            return out

        return self._read(walk)

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        """``(key, value)`` of the live keys starting with ``prefix``, by key."""
        out = []
        for key, rec in self._scan(prefix):
            try:
                if not rec[0] & F_DELETED:
                    out.append((key, _value_of(rec)))
            except (ValueError, IndexError) as exc:
                raise CorruptDataError(
                    f"state key {key!r}: its stored value does not decode"
                ) from exc
        return out

    def keys(self, prefix: str = "") -> list[str]:
        """The live keys starting with ``prefix``, sorted."""
        return [k for k, rec in self._scan(prefix) if not (rec[:1] and rec[0] & F_DELETED)]

    def entries(self, prefix: str = "", *, tombstones: bool = True) -> list[Entry]:
        """The entries of the keys starting with ``prefix`` (tombstones too unless told
        not), by key."""
        out = []
        for key, rec in self._scan(prefix):
            entry = decode(key, rec)[0]
            if tombstones or not entry.deleted:
                out.append(entry)
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return self._live

    def conflicts(self, limit: int | None = None) -> list[Conflict]:
        """The logged conflicts, oldest first (the last ``limit``; the log keeps the last
        ``max_conflicts``)."""

        def walk(txn: Any) -> list[Conflict]:
            cur = txn.cursor(self._conf)
            raw = [bytes(v) for _, v in cur]
            return [Conflict.from_dict(json.loads(v)) for v in raw[-limit if limit else 0 :]]

        try:
            return self._read(walk)
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptDataError(f"the conflict log of {self.path} does not decode") from exc

    # -- replication -------------------------------------------------------------------

    def strategy_for(self, key: str) -> Strategy:
        """The conflict strategy (a name or a callable) chosen for ``key``."""
        return self.policy.strategy_for(key)

    def pending(self, limit: int | None = None) -> list[Entry]:
        """Local changes the remote has not confirmed, oldest first (an entry stays
        pending until :meth:`mark_synced` with its stamp)."""
        self._maybe_collect()

        with self._lock:
            order = self._pending.items()
            keys = [
                k
                for k, _ in (
                    sorted(order, key=_by_stamp)
                    if limit is None
                    else heapq.nsmallest(limit, order, key=_by_stamp)
                )
            ]

        def walk(txn: Any) -> list[Entry]:
            out = []
            for key in keys:
                rec = txn.get(key.encode(), db=self._entries)
                if rec is not None:
                    out.append(decode(key, rec)[0])
            return out

        out = self._read(walk)
        with self._lock:
            if len(self._handed) > _HANDED_MAX:
                self._handed.clear()
            for e in out:
                self._handed[(e.key, e.hlc)] = e
        return out

    def pending_count(self) -> int:
        """How many local changes wait for the remote."""
        self._check_open()
        return len(self._pending)

    def base(self, key: str) -> tuple[Entry | None, int]:
        """The key's last synced base and its remote revision ((None, 0): never synced)."""
        kb = check_key(key)
        rec = self._read(lambda txn: txn.get(kb, db=self._base))
        return self._decode_base(key, rec)

    def base_revision(self, key: str) -> int:
        """The remote revision of the key's last synced base (0: never synced); reads
        nothing else (cheaper than :meth:`base`)."""
        kb = check_key(key)
        rec = self._read(lambda txn: txn.get(kb, db=self._base))
        return 0 if rec is None else int(U64.unpack_from(rec)[0])

    def base_revisions(self, keys: Iterable[str]) -> list[int]:
        """:meth:`base_revision` of many keys, in one read transaction (0 for a key never
        synced, and for a string that is not a legal key)."""
        kbs: list[bytes | None] = []
        for key in keys:
            try:
                kbs.append(check_key(key))
            except InvalidInputError:
                kbs.append(None)

        def walk(txn: Any) -> list[int]:
            out = []
            for kb in kbs:
                rec = None if kb is None else txn.get(kb, db=self._base)
                out.append(0 if rec is None else int(U64.unpack_from(rec)[0]))
            return out

        return self._read(walk)

    @staticmethod
    def _decode_base(key: str, rec: bytes | None) -> tuple[Entry | None, int]:
        if rec is None:
            return None, 0
        rev = U64.unpack_from(rec)[0]
        if len(rec) == U64.size:
            return None, rev
        return decode(key, rec[U64.size :])[0], rev

    def mark_synced(self, key: str, hlc: Hlc, revision: int) -> None:
        """The remote holds the key's entry stamped ``hlc`` at ``revision``: it becomes the
        key's synced base. When a newer local write exists, it stays pending (and the base
        is the entry :meth:`pending` handed out with that stamp; only its stamp when this
        process did not hand it out)."""
        self.mark_synced_many([(key, hlc, revision)])

    def mark_synced_many(self, synced: Iterable[tuple[str, Hlc, int]]) -> None:
        """:meth:`mark_synced` of many ``(key, hlc, revision)`` in one transaction (the
        acknowledgements a replicator collected)."""
        items = [(key, check_key(key), Hlc(int(h[0]), int(h[1])), rev) for key, h, rev in synced]
        if not items:
            return

        def txn_fn(txn: Any, staged: list[_Staged]) -> None:
            for key, kb, hlc, revision in items:
                base = txn.get(kb, db=self._base)
                base_rev = U64.unpack_from(base)[0] if base is not None else 0
                rec = txn.get(kb, db=self._entries)
                if rec is not None and len(rec) >= _HEAD_SIZE and _unpack_head(rec)[1:3] == hlc:
                    synced = bytes([rec[0] & ~F_PENDING]) + bytes(rec[1:])  # (the same record)
                    if rec[0] & F_PENDING:
                        txn.put(kb, synced, db=self._entries)
                        staged.append((key, 0, 0, None))
                    if revision > base_rev:
                        txn.put(kb, U64.pack(revision) + synced, db=self._base)
                elif revision > base_rev:
                    # a newer local write exists: the base is what was pushed
                    pushed = self._handed.get((key, hlc)) or Entry(key, None, hlc, self.node_id)
                    txn.put(kb, U64.pack(revision) + encode(pushed, False), db=self._base)
            self._floor(txn)

        with self._lock:
            self._write_staged(txn_fn)
            for key, _kb, hlc, _revision in items:
                self._handed.pop((key, hlc), None)

    def resolve(
        self,
        key: str,
        local: Entry | None,
        remote: Entry,
        base: Entry | None,
        *,
        cloud: bool = False,
    ) -> Entry:
        """What :meth:`apply_remote` would store for ``remote`` over ``local`` with
        ``base`` (pure: nothing is stored or logged)."""
        return resolve(
            self.strategy_for(key), local, remote, base,
            cloud=cloud, node_id=self.node_id, stamp=self.clock.now,
        )[0]  # fmt: skip

    def apply_remote(self, remote: Entry, revision: int, *, cloud: bool = False) -> Entry:
        """Apply an entry the remote holds at ``revision`` (``cloud``: written by a client
        that is not edgekit); returns what the key holds afterwards.

        Three-way against the key's base: when only one side changed since the base, it
        wins without a conflict; when both did, the key's strategy resolves it and the
        conflict is logged. The remote becomes the base; the key is pending when what it
        holds differs from the remote. An entry older than the base (a revision at or
        below the base's) changes nothing.

        Raises:
            StateError: ``remote``'s stamp is further ahead of this node's clock than the
                clock's ``max_drift_s``, or the key's merge callable failed; nothing is
                stored.
            InvalidInputError: ``remote`` has an illegal key or a value JSON cannot hold.
        """
        result = self.apply_remote_many([(remote, revision, cloud)])[0]
        if isinstance(result, EdgekitError):
            raise result
        return result

    def apply_remote_many(
        self,
        items: Iterable[tuple[Entry, int] | tuple[Entry, int, bool]],
        *,
        cloud: bool = False,
    ) -> list[Entry | EdgekitError]:
        """:meth:`apply_remote` of many ``(remote, revision)`` or ``(remote, revision,
        cloud)`` in order, in one transaction (a burst a replicator received); ``cloud``
        is that of the 2-tuples. Returns, per item, what its key holds afterwards, or the
        error :meth:`apply_remote` would raise for it (that item stores nothing; the
        others are applied). Subscribers hear of the changes after the commit, in order.
        """
        todo: list[tuple[Entry, bytes, int, bool, Strategy] | EdgekitError] = []
        for item in items:
            remote, revision = item[0], int(item[1])
            try:
                kb = check_key(remote.key)
                if not remote.deleted:
                    encode_value(remote.key, remote.value, _UNLIMITED)
                    for sibling in remote.siblings:
                        encode_value(remote.key, sibling, _UNLIMITED)
                strategy = self.strategy_for(remote.key)
            except EdgekitError as exc:
                todo.append(exc)
                continue
            todo.append((remote, kb, revision, item[2] if len(item) > 2 else cloud, strategy))
        results: list[Entry | EdgekitError] = []
        changes: list[Change] = []

        with self._lock:
            seq, counts = self._conf_seq, dict(self._conf_counts)

            def txn_fn(txn: Any, staged: list[_Staged]) -> None:
                self._conf_seq, self._conf_counts = seq, dict(counts)  # (a retry starts over)
                results.clear()
                changes.clear()
                for job in todo:
                    if isinstance(job, EdgekitError):
                        results.append(job)
                        continue
                    try:
                        result, change = self._apply_one(txn, staged, *job)
                    except EdgekitError as exc:
                        results.append(exc)
                        continue
                    results.append(result)
                    if change is not None:
                        changes.append(change)
                if self._conf_seq != seq:
                    self._save_conflicts(txn)
                self._floor(txn)

            try:
                if any(not isinstance(job, EdgekitError) for job in todo):
                    self._write_staged(txn_fn)
                else:  # (nothing to store)
                    results.extend(job for job in todo if isinstance(job, EdgekitError))
            except BaseException:
                self._conf_seq, self._conf_counts = seq, counts
                raise
        self._notify(changes)
        return results

    def _apply_one(
        self,
        txn: Any,
        staged: list[_Staged],
        remote: Entry,
        kb: bytes,
        revision: int,
        cloud: bool,
        strategy: Strategy,
    ) -> tuple[Entry, Change | None]:
        """Apply one remote entry in ``txn``: what the key holds now, and the change to
        notify (None: the visible entry did not change). An EdgekitError is raised before
        anything is stored (the drift check, a failed merge, a damaged record)."""
        key = remote.key
        base, base_rev = self._decode_base(key, txn.get(kb, db=self._base))
        rec = txn.get(kb, db=self._entries)
        local = None if rec is None else decode(key, rec)[0]
        if revision and revision <= base_rev:
            return (local if local is not None else remote), None
        self.clock.observe(remote.hlc)
        result, conflict = resolve(
            strategy, local, remote, base,
            cloud=cloud, node_id=self.node_id, stamp=self.clock.now,
        )  # fmt: skip
        pending = result != remote
        base_rec = U64.pack(revision) + encode(remote, False)
        write = result != local or bool(rec is not None and rec[0] & F_PENDING) != pending
        result_rec = encode(result, pending) if write else b""
        txn.put(kb, base_rec, db=self._base)
        if write:
            txn.put(kb, result_rec, db=self._entries)
            staged.append((key, *_counts(rec, result.deleted), result.order() if pending else None))
        if conflict:
            self._log_conflict(txn, Conflict(
                key, strategy_name(strategy), base, local, remote, result, self._time()
            ))  # fmt: skip
        return result, (Change(result, "remote", local) if result != local else None)

    def _log_conflict(self, txn: Any, conflict: Conflict) -> None:
        """Log a conflict (the counts and the bound: :meth:`_save_conflicts`, once per
        transaction)."""
        self._conf_seq += 1
        txn.put(U64.pack(self._conf_seq), json.dumps(conflict.as_dict()).encode(), db=self._conf)
        self._conf_counts[conflict.strategy] = self._conf_counts.get(conflict.strategy, 0) + 1

    def _save_conflicts(self, txn: Any) -> None:
        """Store the conflict counts and drop the log's entries past ``max_conflicts``."""
        txn.put(b"conflict_counts", json.dumps(self._conf_counts).encode(), db=self._meta)
        drop = self._conf_seq - self.max_conflicts
        if drop > 0:
            cur = txn.cursor(self._conf)
            while cur.first() and U64.unpack(cur.key())[0] <= drop:
                cur.delete()

    # -- tombstones --------------------------------------------------------------------

    def _maybe_collect(self) -> None:
        if self.clock.physical_ms() >= self._next_collect_ms:
            self.collect_tombstones()

    def collect_tombstones(self) -> int:
        """Drop the tombstones the remote confirmed (not pending) that are older than
        ``tombstone_horizon_s``; returns how many. The key's base keeps its revision (8
        bytes), so the remote's copy of the tombstone is not applied again. Runs at open
        and, at most every tenth of the horizon, when :meth:`pending` is called."""
        now_ms = self.clock.physical_ms()
        horizon_ms = int(self.tombstone_horizon_s * 1000)
        cutoff = now_ms - horizon_ms

        def txn_fn(txn: Any) -> int:
            gone = []
            for k, rec in txn.cursor(self._entries):
                flags = rec[0] if len(rec) >= _HEAD_SIZE else 0
                if (
                    flags & F_DELETED
                    and not flags & F_PENDING
                    and U64.unpack_from(rec, 1)[0] < cutoff
                ):
                    gone.append(bytes(k))
            for k in gone:
                txn.delete(k, db=self._entries)
                base = txn.get(k, db=self._base)
                if base is not None:  # keep its revision: the remote's tombstone is old news
                    txn.put(k, bytes(base[: U64.size]), db=self._base)
            return len(gone)

        with self._lock:
            n = self._write(txn_fn)
            self._dead -= n
            self._next_collect_ms = now_ms + max(horizon_ms // 10, 1)
        return n

    # -- life cycle --------------------------------------------------------------------

    def stats(self) -> StateStats:
        """What the store holds now."""
        with self._lock:
            self._check_open()
            return StateStats(
                node_id=self.node_id,
                keys=self._live,
                tombstones=self._dead,
                pending=self.pending_count(),
                conflicts=dict(self._conf_counts),
                used_bytes=self._env.used_bytes(),
                map_bytes=int(self._env.env.info()["map_size"]),
                durability=self.durability,
            )

    def sync(self) -> None:
        """Flush to disk now (an fsync), whatever the durability."""
        with self._lock:
            self._check_open()
            self._env.env.sync(True)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store (idempotent); open ``changes()`` iterators end."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            streams, self._streams = self._streams, []
            self._env.close()
        for loop, queue in streams:
            with contextlib.suppress(RuntimeError):  # (its loop is closed)
                loop.call_soon_threadsafe(queue.put_nowait, None)

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._live} keys"
        return f"StateStore({str(self.path)!r}, node_id={self.node_id!r}, {state})"
