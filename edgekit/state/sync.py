"""StateSync: replicates a :class:`StateStore` through a NATS JetStream KeyValue bucket (nats-py).

Local changes are pushed with compare-and-set on the bucket revision the store last
synced (many in flight); a lost compare-and-set reads the remote entry, merges it by
the key's strategy (``store.apply_remote``) and pushes the result. Remote changes are
applied from a watch of the bucket while connected; after an outage the watch resumes
after the last revision seen, so everything changed on either side is reconciled.
The entry format is in :mod:`edgekit.state.wire`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import json
import logging
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from edgekit._aio import LoopThread
from edgekit._snapshot import Snapshot
from edgekit.errors import (
    EdgekitError,
    InvalidInputError,
    TransportConfigError,
    TransportError,
)
from edgekit.state._types import Change, Entry
from edgekit.state.store import StateStore
from edgekit.state.wire import decode, encode
from edgekit.sync._reach import check_nats_url, describe, import_nats
from edgekit.sync.backoff import Backoff

__all__ = ["StateSync", "StateSyncStatus", "SyncReport"]

_LOG = logging.getLogger("edgekit.state")
_KV_OP = "KV-Operation"
_MARKER = "Nats-Marker-Reason"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_SEQ = re.compile(rb'"seq":(\d+)')
_MS = datetime.timedelta(milliseconds=1)
_BURST = 2000  # watch entries applied in one transaction at most
_YIELD = 0.25  # seconds a push round waits after a burst where remote entries beat its keys
_YIELD_MIN = 16  # ... at least this many of its keys in one burst
_YIELD_MAX = 10.0  # seconds a push round waits at most in all
_WRONG_LAST = re.compile(r"wrong last sequence: (\d+)")

# A bucket entry as the watch (or a read) brought it: key, data, revision, server time
# (ms since the epoch), deleted (a delete or purge marker).
_Seen = tuple[str, bytes | None, int, int, bool]


@dataclass(frozen=True)
class SyncReport(Snapshot):
    """What one :meth:`StateSync.sync_now` did.

    Attributes:
        sent: Local changes written to the bucket.
        received: Remote changes applied to the store (from the watch or a lost
            compare-and-set).
        conflicts: True conflicts resolved by a strategy (both sides changed the key).
        failed: Keys the server refused for good this time (over its value size, a
            key it does not take): they stay pending; ``status().last_error`` says why.
    """

    sent: int
    received: int
    conflicts: int
    failed: int = 0


@dataclass(frozen=True)
class StateSyncStatus(Snapshot):
    """What a :class:`StateSync` is doing (a table in Jupyter).

    Attributes:
        running: The background loop runs (:meth:`StateSync.start`).
        connected: The NATS link is up.
        bucket: The KeyValue bucket.
        pending_changes: Local changes not yet confirmed in the bucket.
        lag_s: Age of the oldest pending change on the store's clock, in seconds (0
            when none).
        revision: The last bucket revision seen by the watch.
        last_sync_at: When a push round or a remote change last completed (seconds
            since the epoch), or None.
        last_error: The last connection, delivery or bad-entry error, or None; a
            connection error is cleared when the link is back.
        errors: Errors since the sync was created (failed connects included).
        bad_entries: Bucket entries that could not be applied (garbage a foreign
            client wrote, a key or value the store refuses); counted and logged per key.
        sent: Local changes written to the bucket since the sync was created.
        received: Remote changes applied since the sync was created.
        conflicts: True conflicts resolved since the sync was created.
    """

    running: bool
    connected: bool
    bucket: str
    pending_changes: int
    lag_s: float
    revision: int
    last_sync_at: float | None
    last_error: str | None
    errors: int
    bad_entries: int
    sent: int
    received: int
    conflicts: int


def _watch_meta(reply: str) -> tuple[int, int, int]:
    """The stream sequence, timestamp (ms, exact) and messages still pending of a
    JetStream message, from its ack subject (``$JS.ACK.<stream>.<consumer>.<delivered>.
    <sseq>.<cseq>.<ns>.<pending>``, or the form with a domain and an account hash)."""
    tokens = reply.split(".")
    at = 0 if len(tokens) == 9 else 2
    return int(tokens[5 + at]), int(tokens[7 + at]) // 1_000_000, int(tokens[8 + at])


def _iso_ms(text: str) -> int:
    """``2026-12-03T19:12:24.123456789Z`` as ms since the epoch (truncated, exact)."""
    stamp = datetime.datetime.fromisoformat(text[:19]).replace(tzinfo=datetime.timezone.utc)
    fraction = text[20:].rstrip("Z") if len(text) > 19 and text[19] == "." else ""
    return int(stamp.timestamp()) * 1000 + int((fraction + "000")[:3])


def _deleted_op(headers: dict[str, str] | None) -> bool:
    """A KV delete or purge marker (or a server-placed marker)."""
    if not headers:
        return False
    return headers.get(_KV_OP) in ("DEL", "PURGE") or _MARKER in headers


class _LinkDown(Exception):
    """A push failed for the link (not for the entry): the round stops and backs off."""


class _Replies:
    """The replies to this connection's compare-and-set publishes, on one wildcard inbox:
    a future per write, timed out by one sweep (no timer per write, unlike ``request``)."""

    def __init__(self, nc: Any, timeout: float) -> None:
        self.nc = nc
        self.timeout = timeout
        self.prefix = f"{nc.new_inbox()}."
        self.waiting: dict[str, tuple[asyncio.Future[Any], float]] = {}
        self.count = 0
        self.sub: Any = None
        self.sweeper: asyncio.Future[None] | None = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(f"{self.prefix}*", cb=self._on_reply)
        self.sweeper = asyncio.ensure_future(self._sweep())

    async def _on_reply(self, msg: Any) -> None:
        waiting = self.waiting.pop(msg.subject[len(self.prefix) :], None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result(msg)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.timeout / 4)
            now = time.monotonic()
            for token, (future, sent) in list(self.waiting.items()):
                if now - sent > self.timeout:
                    del self.waiting[token]
                    if not future.done():
                        future.set_exception(asyncio.TimeoutError())

    async def request(self, subject: str, data: bytes, headers: dict[str, str]) -> Any:
        """Publish with a reply subject; the reply message (TimeoutError after ``timeout``)."""
        self.count += 1
        token = str(self.count)
        future = asyncio.get_running_loop().create_future()
        self.waiting[token] = (future, time.monotonic())
        try:
            await self.nc.publish(subject, data, reply=self.prefix + token, headers=headers)
        except BaseException:
            self.waiting.pop(token, None)
            raise
        return await future

    def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
        for future, _sent in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the NATS connection closed"))
        self.waiting.clear()


class StateSync:
    """Replicates ``store`` through the NATS KeyValue bucket ``bucket``.

    Use it from plain code and Jupyter (``sync_now()``, ``start()``, ``stop()``, or as a
    context manager), which runs it on a private event loop in a thread, or from asyncio
    (``await async_sync_now()``, ``await async_run()``). While connected, the watch
    applies remote changes as they come (also between two ``sync_now`` calls).

    Args:
        store: The store to replicate.
        url: Server URL(s), e.g. ``"nats://127.0.0.1:4222"``; a list for a cluster.
        bucket: The KeyValue bucket.
        prefixes: Only keys that start with one of these are pushed and applied (all
            keys when None).
        create_bucket: Create the bucket when it does not exist (else
            :class:`~edgekit.errors.TransportConfigError`).
        replicas: Replicas of a created bucket (3 on a 3-server cluster).
        history: Revisions per key a created bucket keeps.
        in_flight: Compare-and-set writes on the wire at once (200 pushes faster here
            than 500: the watch's echo of each write competes with the acknowledgements).
        connect_timeout: Seconds to wait for a connection.
        request_timeout: Seconds to wait for a write's acknowledgement.
        reconnect: Backoff between connection attempts of the background loop.
        idle_interval: Seconds between two looks at the store when idle (local
            writes wake the loop at once).
        options: Extra keyword arguments for ``nats.connect`` (TLS, credentials, ...).
    """

    def __init__(
        self,
        store: StateStore,
        url: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        bucket: str,
        prefixes: Sequence[str] | None = None,
        create_bucket: bool = False,
        replicas: int = 1,
        history: int = 1,
        in_flight: int = 200,
        connect_timeout: float = 2.0,
        request_timeout: float = 5.0,
        reconnect: Backoff | None = None,
        idle_interval: float = 0.5,
        options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(store, StateStore):
            raise InvalidInputError(f"store must be a StateStore, not {type(store).__name__}")
        self.servers = [url] if isinstance(url, str) else list(url)
        if not self.servers:
            raise InvalidInputError("StateSync needs at least one NATS server URL")
        for server in self.servers:
            check_nats_url(server)
        if (
            not isinstance(bucket, str)
            or not bucket
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in bucket)
        ):
            raise InvalidInputError(
                f"bucket must be a NATS KeyValue bucket name ([A-Za-z0-9_-]+), not {bucket!r}"
            )
        if not isinstance(in_flight, int) or in_flight < 1:
            raise InvalidInputError("in_flight must be an int >= 1")
        self.store = store
        self.bucket = bucket
        self.prefixes = tuple(prefixes) if prefixes is not None else None
        self.create_bucket = create_bucket
        self.replicas = int(replicas)
        self.history = int(history)
        self.in_flight = in_flight
        self.connect_timeout = float(connect_timeout)
        self.request_timeout = float(request_timeout)
        self.reconnect = reconnect or Backoff(initial=0.1, maximum=10.0)
        self.idle_interval = float(idle_interval)
        self.options = dict(options or {})
        self._stream = f"KV_{bucket}"
        self._pre = f"$KV.{bucket}."
        self._nc: Any = None
        self._js: Any = None
        self._direct = False
        self._sub: Any = None
        self._replies: _Replies | None = None
        self._watch_gen = -1  # the link generation the watch was made for
        self._link_gen = 0  # +1 on every (re)connect
        self._seen = 0  # the last bucket revision the watch delivered
        self._lock: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: LoopThread | None = None
        self._task: concurrent.futures.Future[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._running = False
        self._failures = 0
        self._next_connect = 0.0
        self._batch: contextlib.ExitStack | None = None  # notifications held while catching up
        self._batch_until = 0.0
        self._flying: dict[str, _Seen | None] = {}  # key being pushed -> the watch's newest
        self._cas_lost = {"watch": 0, "read": 0}  # lost compare-and-sets, by how resolved
        self._landed: dict[str, int] = {}  # key pushed -> its revision, until its echo
        self._acks: dict[str, tuple[str, Any, int]] = {}  # landed, not yet marked in the store
        self._ack_batch = 256  # acks marked in one transaction
        self._applied: set[str] = set()  # keys a remote entry changed during this round
        self._round: set[str] = set()  # keys of the push round under way
        self._yield_until = 0.0  # (time.monotonic) the round's pushes wait until then
        self._yield_end = 0.0  # (time.monotonic) ... and never past this
        self._yields = 0  # times a push round waited for another replica's winning entries
        self._burst: list[_Seen] = []  # seen, to apply
        self._burst_keys: set[str] = set()
        self._merged: dict[str, int] = {}  # key of a lost CAS -> the remote revision to apply
        self._burst_due = 0.0  # (time.monotonic) a burst is applied at once from then
        self._burst_timer: asyncio.TimerHandle | None = None
        self._expect: dict[str, int] = {}  # key -> revision to expect instead of the base's
        self._refused: dict[str, Any] = {}  # key -> hlc the server refused for good
        self._sent = 0
        self._received = 0
        self._conflicts0 = self._conflict_total()
        self._errors = 0
        self._bad = 0
        self._last_error: str | None = None
        self._link_error = False
        self._last_sync: float | None = None

    # -- connection --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the NATS link is up."""
        return self._nc is not None and bool(self._nc.is_connected)

    def _where(self) -> str:
        return ", ".join(self.servers)

    def _wanted(self, key: str) -> bool:
        return self.prefixes is None or key.startswith(self.prefixes)

    async def async_connect(self) -> None:
        """Connect and open (or create) the bucket; the watch starts.

        Raises:
            TransportError: No server answered (the message says why: refused, not
                resolved, timed out).
            TransportConfigError: JetStream is off, or the bucket does not exist and
                ``create_bucket`` is False.
            BackendUnavailableError: nats-py is not installed (the ``nats`` extra).
        """
        nats = import_nats()
        if self.connected:
            await self._ensure_watch()
            return
        await self._drop_link()
        failures: list[BaseException] = []
        every_failed = asyncio.Event()
        user_cb = self.options.get("error_cb")

        async def on_error(exc: Exception) -> None:
            if not every_failed.is_set():
                failures.append(exc)
                if len(failures) >= len(self.servers):
                    every_failed.set()
            if user_cb is not None:
                await user_cb(exc)

        async def on_reconnect() -> None:
            self._link_gen += 1
            self._wake_up()

        options = {
            "connect_timeout": self.connect_timeout,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.25,
            **self.options,
            "error_cb": on_error,
            "reconnected_cb": on_reconnect,
        }
        nc = nats.NATS()
        connecting = asyncio.ensure_future(nc.connect(servers=self.servers, **options))
        failed = asyncio.ensure_future(every_failed.wait())
        limit = self.connect_timeout * (len(self.servers) + 1) + 1
        try:
            await asyncio.wait({connecting, failed}, timeout=limit, return_when="FIRST_COMPLETED")
            if not connecting.done() or connecting.exception() is not None:
                cause = failures[-1] if failures else TimeoutError()
                raise TransportError(
                    f"cannot connect to NATS at {self._where()}: "
                    f"{describe(cause, self.connect_timeout)}"
                )
            every_failed.set()
            js = nc.jetstream(timeout=self.request_timeout)
            kv_info = await self._open_bucket(nats, js)
        except BaseException:
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        finally:
            failed.cancel()
        self._replies = _Replies(nc, self.request_timeout)
        await self._replies.start()
        self._nc, self._js = nc, js
        self._direct = bool(kv_info.config.allow_direct)
        self._link_gen += 1
        await self._ensure_watch()

    async def _open_bucket(self, nats: Any, js: Any) -> Any:
        """The bucket's stream info; created when asked; TransportConfigError when absent."""
        try:
            return await js.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            if not self.create_bucket:
                raise TransportConfigError(
                    f"no KeyValue bucket {self.bucket!r} on {self._where()}: pass "
                    f"create_bucket=True (edgekit state sync --create-bucket), or create it: "
                    f"nats kv add {self.bucket} --replicas {self.replicas}"
                ) from None
        except nats.errors.NoRespondersError as exc:
            raise TransportConfigError(
                f"JetStream is not enabled on the NATS server at {self._where()}: "
                "start nats-server with -js (or jetstream {} in its config)"
            ) from exc
        except nats.js.errors.ServiceUnavailableError as exc:
            raise TransportConfigError(
                f"JetStream is not enabled on the NATS server at {self._where()}: {exc}"
            ) from exc
        except Exception as exc:
            raise TransportError(f"cannot look up bucket {self.bucket!r}: {exc!r}") from exc
        config = nats.js.api.KeyValueConfig(
            bucket=self.bucket, history=self.history, replicas=self.replicas
        )
        try:
            await js.create_key_value(config)
            return await js.stream_info(self._stream)
        except Exception as exc:
            raise TransportConfigError(
                f"cannot create KeyValue bucket {self.bucket!r} ({self.replicas} replicas) "
                f"on {self._where()}: {exc}"
            ) from exc

    def _conflict_total(self) -> int:
        return sum(self.store.stats().conflicts.values())

    async def _drop_link(self) -> None:
        self._end_batch()
        if self._replies is not None:
            self._replies.close()
            self._replies = None
        nc, self._nc, self._sub = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _ensure_watch(self) -> None:
        """(Re)start the watch after the last revision seen, once per link generation.

        The first watch delivers the last entry of every key (those the store already
        holds at that revision are skipped); after a reconnect, every entry newer than
        the last one seen.
        """
        if self._watch_gen == self._link_gen and self._sub is not None:
            return
        nats = import_nats()
        api = nats.js.api
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self._end_batch()
        self._landed.clear()
        if self._seen:
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self._seen + 1
            )
        else:
            config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT)
        # A reconnect's changes reach the store's subscribers together, once caught up
        # (a twin sees the final desired state, not each step on the way).
        self._batch = contextlib.ExitStack()
        self._batch.enter_context(self.store.batch())
        self._batch_until = time.monotonic() + 1.0
        try:
            self._sub = await self._js.subscribe(
                f"{self._pre}>",
                stream=self._stream,
                cb=self._on_watch,
                ordered_consumer=True,
                config=config,
                pending_msgs_limit=1_000_000,
            )
        except Exception as exc:
            self._end_batch()
            raise TransportError(f"cannot watch bucket {self.bucket!r}: {exc!r}") from exc
        self._watch_gen = self._link_gen
        with contextlib.suppress(Exception):
            info = await self._sub.consumer_info()
            if info.num_pending == 0 and not info.delivered.consumer_seq:
                self._end_batch()  # nothing to catch up on

    async def _caught_up(self, deadline: float | None) -> None:
        """Wait until the watch delivered every revision the bucket had when called."""
        try:
            info = await self._js.stream_info(self._stream)
        except Exception as exc:
            raise _LinkDown(f"cannot read bucket {self.bucket!r}: {exc!r}") from exc
        last = int(info.state.last_seq)
        try:
            await self._watch_reaches(last, deadline)
        finally:
            self._end_batch()

    async def _watch_reaches(self, last: int, deadline: float | None) -> None:
        """Wait until the watch applied revision ``last`` and its consumer has nothing
        left to deliver (asked of the server, not only the stream's last revision: a
        cluster electing a leader may answer a stream lookup from a stale view)."""
        asked, quiet = 0.0, 0
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise _LinkDown(
                    f"the watch of bucket {self.bucket!r} is at revision {self._seen} of {last}"
                )
            if self._watch_gen != self._link_gen or not self.connected:
                raise _LinkDown("the link was lost while catching up")
            sub = self._sub
            pause = 0.0 if self._seen >= last else 0.1
            if sub is not None and sub.pending_msgs == 0 and time.monotonic() - asked > pause:
                asked = time.monotonic()
                try:
                    left = (await sub.consumer_info()).num_pending
                except Exception:
                    left = -1
                if left == 0 and sub.pending_msgs == 0:
                    quiet += 1
                    if self._seen >= last or quiet >= 3:
                        return  # (quiet: the newest revisions were removed, purged or aged)
                else:
                    quiet = 0
            await asyncio.sleep(0.005)

    # -- applying remote entries ---------------------------------------------------------------

    async def _on_watch(self, msg: Any) -> None:
        try:
            revision, server_ms, left = _watch_meta(msg.reply)
        except (AttributeError, ValueError, IndexError):
            return
        if revision > self._seen:
            self._seen = revision
            key = msg.subject[len(self._pre) :]
            if key in self._flying:  # its push merges the newest that landed meanwhile
                self._flying[key] = (key, msg.data, revision, server_ms, _deleted_op(msg.headers))
            elif self._landed.pop(key, None) == revision:
                pass  # the echo of a push of this node
            elif self._wanted(key):
                if key in self._acks:
                    self._flush_acks()
                self._burst.append((key, msg.data, revision, server_ms, _deleted_op(msg.headers)))
                self._burst_keys.add(key)
        self._schedule_burst()
        if self._batch is not None and (left == 0 or time.monotonic() > self._batch_until):
            self._end_batch()  # caught up (or a busy bucket: subscribers wait at most 1 s)

    def _schedule_burst(self) -> None:
        """Entries are applied in bursts, one transaction each: at once when the store
        has been idle a while, else once it has been idle twice as long as the last burst
        took (a busy watch is applied in ever larger transactions, an idle one at once)."""
        if self._burst:
            if len(self._burst) >= _BURST or time.monotonic() >= self._burst_due:
                self._apply_burst()
            elif self._burst_timer is None:
                self._burst_timer = asyncio.get_running_loop().call_at(
                    self._burst_due, self._apply_burst
                )

    def _apply_burst(self) -> None:
        """Apply the entries the watch and lost compare-and-sets brought, not yet applied."""
        if self._burst_timer is not None:
            self._burst_timer.cancel()
            self._burst_timer = None
        merged, self._merged = self._merged, {}
        if self._burst:
            burst, self._burst = self._burst, []
            self._burst_keys.clear()
            start = time.monotonic()
            self._apply_many(burst)
            end = time.monotonic()
            self._burst_due = end + 2 * (end - start)
        if merged:
            for (key, seq), base in zip(
                merged.items(), self.store.base_revisions(merged), strict=True
            ):
                if base < seq:  # a bad entry, not applied: the next push overwrites it
                    self._expect[key] = seq

    def _end_batch(self) -> None:
        """Deliver the store's notifications held while the watch caught up."""
        self._apply_burst()
        batch, self._batch = self._batch, None
        if batch is not None:
            batch.close()

    def _apply_many(self, items: Sequence[_Seen]) -> None:
        """Apply bucket entries ``(key, data, revision, server ms, deleted)`` to the store,
        in order, in one transaction (two when some are echoes of this node's writes;
        more when such an echo follows an entry of its key). An entry already there is skipped; a bad one is counted
        and logged for its key."""
        store = self.store
        marks: list[tuple[str, Any, int]] = []  # this node's writes that landed
        jobs: list[tuple[Entry, int, bool]] = []
        newest: dict[str, int] = {}  # key -> its newest revision in marks and jobs
        try:
            keys = [item[0] for item in items]
            bases = dict(zip(keys, store.base_revisions(keys), strict=True))
        except EdgekitError as exc:  # (the store closed, is damaged, ...)
            for key, _data, revision, _ms, _deleted in items:
                self._bad_entry(key, revision, exc)
            return
        for key, data, revision, server_ms, deleted in items:
            try:
                if revision <= max(newest.get(key, 0), bases[key]):
                    continue  # (already there)
                remote, cloud = decode(key, data, server_ms=server_ms, deleted=deleted)
                if remote.node_id == store.node_id:
                    if key in newest:  # (what the key holds before this one, stored first)
                        self._store_applied(marks, jobs)
                        marks, jobs = [], []
                        bases.update(newest)
                        newest.clear()
                    local = store.entry(key)
                    if local is not None and (remote == local or remote.hlc < local.hlc):
                        # this node's own write landed (its ack may not be handled yet); the
                        # same stamp with other content is a merge (keep_both): applied
                        marks.append((key, remote.hlc, revision))
                        newest[key] = revision
                        continue
            except EdgekitError as exc:
                self._bad_entry(key, revision, exc)
                continue
            jobs.append((remote, revision, cloud))
            newest[key] = revision
        self._store_applied(marks, jobs)

    def _store_applied(
        self, marks: list[tuple[str, Any, int]], jobs: list[tuple[Entry, int, bool]]
    ) -> None:
        """Mark this node's landed writes synced, then apply the others (each in one
        transaction); an entry not applied is counted and logged for its key."""
        results: list[Entry | EdgekitError]
        try:
            self.store.mark_synced_many(marks)
            results = self.store.apply_remote_many(jobs) if jobs else []
        except EdgekitError as exc:  # (the store closed, is damaged, ...)
            results = [exc] * len(jobs)
        beaten = 0  # keys of the push round where the remote entry won
        for (remote, revision, _cloud), result in zip(jobs, results, strict=True):
            if isinstance(result, EdgekitError):
                self._bad_entry(remote.key, revision, result)
            else:
                self._applied.add(remote.key)
                self._received += 1
                self._last_sync = time.time()
                if remote.key in self._round and (result.hlc, result.node_id) == (
                    remote.hlc,
                    remote.node_id,
                ):
                    self._round.discard(remote.key)  # (each key makes the round wait once)
                    beaten += 1
        if beaten >= _YIELD_MIN:  # another replica is pushing entries that win: it goes first
            self._yields += 1
            self._yield_until = min(time.monotonic() + _YIELD, self._yield_end)

    def _bad_entry(self, key: str, revision: int, exc: EdgekitError) -> None:
        self._bad += 1
        self._note(f"bucket entry {key!r} at revision {revision} not applied: {exc}")
        _LOG.warning("state sync: %s", self._last_error)

    # -- pushing local changes -------------------------------------------------------------------

    async def _push(self, entry: Entry, failed: list[str]) -> None:
        """Write one pending entry with compare-and-set.

        A lost compare-and-set reads the remote, merges it into the store (the merged
        entry is pending again when it differs from the remote: the next round pushes it).
        """
        nats = import_nats()
        key = entry.key
        if key in self._burst_keys:  # the watch brought an entry of it: apply it first
            self._apply_burst()
        if key in self._applied:  # a remote entry was applied since the round began
            current = self.store.entry(key)
            if current is None or (current.hlc, current.node_id) != (entry.hlc, entry.node_id):
                return  # replaced: what the key holds now is synced, or pending for next round
        revision = self.store.base_revision(key)
        revision = self._expect.pop(key, revision)
        self._flying[key] = None
        try:
            landed = await self._kv_update(key, encode(entry), revision)
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            said = _WRONG_LAST.search(str(exc.description or ""))
            seen = self._flying.pop(key, None)
            await self._merge_remote(key, seen, int(said.group(1)) if said else 0)
            return
        except (nats.errors.MaxPayloadError, nats.js.errors.BadRequestError) as exc:
            self._refused[key] = entry.hlc
            failed.append(key)
            self._note(f"the server refused key {key!r}: {exc}")
            return
        except nats.js.errors.APIError as exc:
            code = int(exc.code or 0)
            if 400 <= code < 500 and code not in (408, 429):
                self._refused[key] = entry.hlc
                failed.append(key)
                self._note(f"the server refused key {key!r}: {exc.description} (code {code})")
                return
            raise _LinkDown(f"writing {key!r}: {exc!r}") from exc
        except Exception as exc:  # a timeout, a lost link, no responders
            raise _LinkDown(f"writing {key!r}: {exc!r}") from exc
        finally:
            seen = self._flying.pop(key, None)
        self._sent += 1
        self._acks[key] = (key, entry.hlc, landed)
        if len(self._acks) >= self._ack_batch:
            self._flush_acks()
        if seen is not None and seen[2] > landed:  # the watch saw a later one while it flew
            self._take(seen)
        elif seen is None or seen[2] < landed:
            self._landed[key] = landed  # its echo is still to come

    def _flush_acks(self) -> None:
        """Mark the landed pushes synced in the store, in one transaction."""
        if self._acks:
            acks, self._acks = self._acks, {}
            self.store.mark_synced_many(acks.values())

    async def _kv_update(self, key: str, data: bytes, last: int) -> int:
        """Publish ``data`` to ``key`` if the key's last revision is ``last`` (0: none);
        the revision it landed at."""
        nats = import_nats()
        if self._replies is None:
            raise _LinkDown("not connected")
        msg = await self._replies.request(
            self._pre + key, data, {"Nats-Expected-Last-Subject-Sequence": str(last)}
        )
        if msg.headers and msg.headers.get("Status") == "503":
            raise nats.errors.NoRespondersError
        if b'"error"' not in msg.data and (seq := _SEQ.search(msg.data)) is not None:
            return int(seq.group(1))  # a PubAck: {"stream":"KV_...","seq":N}
        answer = json.loads(msg.data)
        error = answer.get("error")
        if error:
            if error.get("err_code") in (10071, 10164):
                raise nats.js.errors.KeyWrongLastSequenceError(description=error.get("description"))
            nats.js.errors.APIError.from_error(error)  # raises the matching APIError
        return int(answer["seq"])

    async def _merge_remote(self, key: str, seen: _Seen | None, current: int) -> None:
        """After a lost compare-and-set of ``key``: the remote entry (at revision
        ``current`` when the server said, else 0) is applied (three-way merge) with the
        next burst, before the next push round. The watch's copy serves when it has that
        revision (the watch ran while the push flew, or delivered it since); else the
        entry is read from the bucket (waiting for a busy watch costs more)."""
        nats = import_nats()
        if seen is not None and seen[2] >= current:
            self._cas_lost["watch"] += 1
            self._take(seen)
            return
        if current and self._seen >= current:
            self._cas_lost["watch"] += 1  # (in the burst or applied, as any watch entry)
            self._merged[key] = current
            self._schedule_burst()
            return
        self._cas_lost["read"] += 1
        self._flush_acks()
        if key in self._burst_keys:
            self._apply_burst()
        try:
            msg = await self._js.get_msg(self._stream, subject=self._pre + key, direct=self._direct)
        except nats.js.errors.NotFoundError:
            self._expect[key] = 0  # gone from the stream (purged): create it again
            return
        except Exception as exc:
            raise _LinkDown(f"reading {key!r}: {exc!r}") from exc
        headers = msg.headers or {}
        stamp = headers.get("Nats-Time-Stamp")
        server_ms = _iso_ms(stamp) if stamp else (msg.time - _EPOCH) // _MS
        self._take((key, msg.data, int(msg.seq), server_ms, _deleted_op(headers)))

    def _take(self, seen: _Seen) -> None:
        """Apply a remote entry of a key this node pushed with the watch's next burst
        (before the next push round); a bad one is overwritten by the next push."""
        key = seen[0]
        if key in self._acks:  # (its own landed write is the base to merge against)
            self._flush_acks()
        if key in self._burst_keys:
            self._apply_burst()
        self._burst.append(seen)
        self._burst_keys.add(key)
        self._merged[key] = seen[2]
        self._schedule_burst()

    def _push_order(self, batch: list[Entry]) -> list[Entry]:
        """The order of a push round: oldest first when it fits in flight at once (the
        order is loose within ``in_flight`` anyway); else its chunks of ``in_flight``
        entries (oldest first within) in an order of each node's own, so replicas that
        changed the same keys offline push different keys first and each sees the others'
        entries (through the watch) before its own turn comes: a key the remote already
        won is applied and not pushed, one this node wins is pushed once on the right
        revision, instead of every replica racing on each key."""
        size = self.in_flight
        if len(batch) <= size:
            return batch
        salt = zlib.crc32(self.store.node_id.encode())
        starts = sorted(
            range(0, len(batch), size), key=lambda i: zlib.crc32(i.to_bytes(8, "big"), salt)
        )
        return [e for i in starts for e in batch[i : i + size]]

    async def _push_all(self, deadline: float | None) -> int:
        """Push every pending change (merging lost compare-and-sets) until none is left;
        returns how many keys the server refused for good."""
        failed: list[str] = []
        while True:
            self._apply_burst()  # (what the watch brought meanwhile may change what is pending)
            batch = [
                e
                for e in self.store.pending()
                if self._wanted(e.key) and self._refused.get(e.key) != e.hlc
            ]
            if not batch:
                return len(failed)
            self._applied.clear()
            self._round = {e.key for e in batch}
            self._yield_end = time.monotonic() + _YIELD_MAX
            if deadline is not None and time.monotonic() > deadline:
                raise _LinkDown(f"{len(batch)} changes left after the timeout")
            todo = iter(self._push_order(batch))

            async def worker(todo: Iterator[Entry]) -> None:
                for entry in todo:
                    while (wait := self._yield_until - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                    await self._push(entry, failed)

            workers = [
                asyncio.ensure_future(worker(todo)) for _ in range(min(self.in_flight, len(batch)))
            ]
            try:
                await asyncio.gather(*workers)
            except BaseException:
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
            finally:
                self._flush_acks()
                self._round = set()
            self._last_sync = time.time()

    # -- async API ----------------------------------------------------------------------------------

    def _events(self) -> tuple[asyncio.Event, asyncio.Event, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._stop is None or self._wake is None or self._lock is None:
            self._loop = loop
            self._stop = asyncio.Event()
            self._wake = asyncio.Event()
            self._lock = asyncio.Lock()
        return self._stop, self._wake, self._lock

    async def async_sync_now(self, timeout: float | None = 30.0) -> SyncReport:
        """Connect if needed, apply every remote change, push every local one.

        Returns when the store and the bucket agree (the watch has seen the bucket's
        last revision and nothing is pending), or raises.

        Raises:
            TransportError: Still not done after ``timeout`` seconds; names the last error.
            TransportConfigError: At once: no such bucket (and ``create_bucket`` False),
                or JetStream is off.
        """
        _stop, _wake, lock = self._events()
        deadline = None if timeout is None else time.monotonic() + timeout
        sent0, received0, conflicts0 = self._sent, self._received, self._conflict_total()
        failed = 0
        attempt = 0
        while True:
            try:
                async with lock:
                    await self._connect_now(deadline)
                    await self._caught_up(deadline)
                    failed = await self._push_all(deadline)
                self._recovered()
                break
            except (_LinkDown, TransportError) as exc:
                if isinstance(exc, TransportConfigError):
                    self._note(str(exc))
                    raise
                self._note(str(exc), link=True)
                if deadline is not None and time.monotonic() > deadline:
                    raise TransportError(
                        f"state sync with bucket {self.bucket!r} not done after {timeout} s: "
                        f"{self._last_error}"
                    ) from exc
                attempt += 1
                await asyncio.sleep(min(self.reconnect.delay(attempt), 1.0))
        return SyncReport(
            sent=self._sent - sent0,
            received=self._received - received0,
            conflicts=self._conflict_total() - conflicts0,
            failed=failed,
        )

    async def _connect_now(self, deadline: float | None) -> None:
        if not self.connected:
            await self.async_connect()
        else:
            await self._ensure_watch()

    async def async_run(self) -> None:
        """Keep the bucket and the store in sync until :meth:`stop`; reconnects with backoff."""
        stop, wake, lock = self._events()
        self._running = True
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    async with lock:
                        if await self._link_up():
                            await self._push_all(None)
                            self._recovered()
                except TransportConfigError as exc:
                    self._note(str(exc))
                    self._failures += 1
                    self._next_connect = time.monotonic() + self.reconnect.delay(self._failures)
                except (_LinkDown, TransportError) as exc:
                    self._note(str(exc), link=True)
                    self._failures += 1
                    self._next_connect = time.monotonic() + self.reconnect.delay(self._failures)
                except Exception as exc:  # the loop outlives any error
                    self._note(repr(exc))
                    _LOG.exception("state sync: unexpected error (backing off, will retry)")
                    self._failures += 1
                    self._next_connect = time.monotonic() + self.reconnect.delay(self._failures)
                wait = self.idle_interval
                if self._failures:
                    wait = max(min(self._next_connect - time.monotonic(), wait), 0.01)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=wait)
        finally:
            self._running = False

    async def _link_up(self) -> bool:
        """Whether the link is up (with the watch on it); connects when the backoff allows."""
        if self.connected:
            await self._ensure_watch()
            self._failures = 0
            return True
        if self._nc is not None:
            return False  # nats-py is reconnecting by itself
        if time.monotonic() < self._next_connect:
            return False
        await self.async_connect()
        self._failures = 0
        return True

    async def async_close(self) -> None:
        """Stop the loop (if running) and close the connection."""
        self.request_stop()
        await self._drop_link()
        self._watch_gen = -1

    def request_stop(self) -> None:
        """Ask a running loop to stop (thread-safe)."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)

    # -- errors ---------------------------------------------------------------------------------------

    def _note(self, error: str, link: bool = False) -> None:
        self._errors += 1
        self._last_error = error
        self._link_error = link

    def _recovered(self) -> None:
        if self._link_error:
            self._last_error = None
            self._link_error = False

    # -- blocking front ------------------------------------------------------------------------------

    def _runner(self) -> LoopThread:
        if self._thread is None:
            self._thread = LoopThread("edgekit-state-sync")
        return self._thread

    def _on_change(self, change: Change) -> None:
        if change.origin == "local":
            self._wake_up()

    def _wake_up(self) -> None:
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    def sync_now(self, timeout: float | None = 30.0) -> SyncReport:
        """Connect if needed, apply every remote change, push every local one; blocks.

        Safe inside Jupyter's running event loop (the work runs on the sync's private
        loop). See :meth:`async_sync_now`.
        """
        wait = None if timeout is None else timeout + 10
        future = self._runner().submit(self.async_sync_now(timeout))
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise TransportError(
                f"state sync_now did not finish in {wait} s; last error: {self._last_error}"
            ) from exc

    def start(self) -> None:
        """Keep syncing in the background (a private event loop in a thread)."""
        if self._task is not None and not self._task.done():
            return
        if self._unsubscribe is None:
            self._unsubscribe = self.store.subscribe(self._on_change)
        self._task = self._runner().submit(self.async_run())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop and close the connection."""
        if self._unsubscribe is not None:
            with contextlib.suppress(Exception):
                self._unsubscribe()
            self._unsubscribe = None
        if self._thread is None:
            return
        self.request_stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                self._task.result(timeout)
            self._task = None
        with contextlib.suppress(Exception):
            self._thread.submit(self.async_close()).result(timeout)
        self._thread.stop()
        self._thread = None
        self._loop = None

    def close(self) -> None:
        """Same as :meth:`stop`."""
        self.stop()

    def status(self) -> StateSyncStatus:
        """Connection, pending changes, lag, last sync and last error."""
        if self.prefixes is None:
            count, oldest = self.store.pending_count(), self.store.pending(limit=1)
        else:
            pending = [e for e in self.store.pending() if self._wanted(e.key)]
            count, oldest = len(pending), pending[:1]
        lag = 0.0
        if oldest:
            lag = max(self.store.clock.physical_ms() - oldest[0].hlc.wall_ms, 0) / 1000
        return StateSyncStatus(
            running=self._running,
            connected=self.connected,
            bucket=self.bucket,
            pending_changes=count,
            lag_s=lag,
            revision=self._seen,
            last_sync_at=self._last_sync,
            last_error=self._last_error,
            errors=self._errors,
            bad_entries=self._bad,
            sent=self._sent,
            received=self._received,
            conflicts=self._conflict_total() - self._conflicts0,
        )

    def __enter__(self) -> StateSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
