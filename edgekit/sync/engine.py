"""SyncEngine: drains a SyncQueue through a transport, acking only what was confirmed."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from edgekit._aio import LoopThread
from edgekit._snapshot import Snapshot
from edgekit.errors import (
    EdgekitError,
    InvalidInputError,
    QueueError,
    TransportConfigError,
    TransportError,
)
from edgekit.sync.backoff import Backoff
from edgekit.sync.queue import Message, SyncQueue
from edgekit.sync.transport import (
    Delivery,
    DirectoryTransport,
    DownlinkHandler,
    MemoryTransport,
    Transport,
)

__all__ = ["SyncEngine", "SyncStatus", "TokenBucket", "make_transport"]

_LOG = logging.getLogger("edgekit.sync")


def make_transport(spec: Transport | str, *, queue: SyncQueue | None = None) -> Transport:
    """A transport from a name or URL.

    Args:
        spec: A :class:`Transport` (returned as is); ``"auto"``: a
            :class:`DirectoryTransport` writing to ``<queue path>.outbox`` (needs
            ``queue``); ``"memory"``; ``nats://`` or ``tls://`` URLs (:class:`NatsTransport`
            with ``create_stream=True``); ``mqtt://`` or ``mqtts://`` (:class:`MqttTransport`);
            ``http://`` or ``https://`` (:class:`HttpTransport`); ``dir:PATH`` or
            ``file://PATH`` (:class:`DirectoryTransport`).
        queue: The queue the transport drains (for ``"auto"``).

    Raises:
        InvalidInputError: An unknown name or scheme.
    """
    if isinstance(spec, Transport):
        return spec
    if not isinstance(spec, str):
        raise InvalidInputError(
            f"transport must be a Transport or a str, not {type(spec).__name__}"
        )
    if spec == "auto":
        if queue is None:
            raise InvalidInputError('transport "auto" needs the queue')
        return DirectoryTransport(f"{queue.path}.outbox")
    if spec == "memory":
        return MemoryTransport()
    if spec.startswith(("nats://", "tls://")):
        from edgekit.sync.nats_transport import NatsTransport

        return NatsTransport(spec, create_stream=True)
    if spec.startswith(("mqtt://", "mqtts://")):
        from edgekit.sync.mqtt_transport import MqttTransport

        return MqttTransport(spec)
    if spec.startswith(("http://", "https://")):
        from edgekit.sync.http_transport import HttpTransport

        return HttpTransport(spec)
    if spec.startswith("dir:"):
        return DirectoryTransport(spec[4:])
    if spec.startswith("file://"):
        return DirectoryTransport(spec[7:])
    raise InvalidInputError(
        f"unknown transport {spec!r}: use a Transport, 'auto', 'memory', or a nats://, "
        "mqtt://, http(s):// or dir: URL"
    )


class TokenBucket:
    """A token bucket in bytes: ``rate`` bytes/s sustained, bursts up to ``burst`` bytes."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not rate > 0:
            raise InvalidInputError("bandwidth_limit must be > 0 bytes/s")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay_for(self, nbytes: int) -> float:
        """Take ``nbytes`` tokens; returns how long to wait (seconds) before sending them."""
        self._refill()
        self._tokens -= nbytes
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def async_consume(self, nbytes: int) -> None:
        """Wait until ``nbytes`` may be sent."""
        wait = self.delay_for(nbytes)
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass(frozen=True)
class SyncStatus(Snapshot):
    """What a :class:`SyncEngine` is doing (a table in Jupyter).

    Attributes:
        running: The loop is running.
        paused: Sending is paused.
        connected: The transport's link is up and it may send (NATS: no batch sent
            before is in doubt).
        backlog: Messages in the queue not yet acked (ready, delayed, in flight).
        dead: Dead letters in the queue.
        sent_messages: Messages acked since the engine started.
        sent_bytes: Payload bytes acked since the engine started.
        messages_per_s: Acked messages per second over the last 10 s (or since the
            engine was created, if less).
        bytes_per_s: Acked payload bytes per second, over the same span.
        last_success_at: When a batch was last confirmed (seconds since the epoch), or None.
        last_error: The last delivery, connection or queue error, or None. A failed
            connect says why (connection refused, name not resolved, timed out) as soon
            as it fails; a connection or delivery error is cleared when the link is back.
        errors: Errors from the queue or the transport since the engine started
            (failed connects and deliveries included). The loop never stops for one:
            it backs off and resumes when the cause goes away.
        received: Downlink messages handed to the host callback.
    """

    running: bool
    paused: bool
    connected: bool
    backlog: int
    dead: int
    sent_messages: int
    sent_bytes: int
    messages_per_s: float
    bytes_per_s: float
    last_success_at: float | None
    last_error: str | None
    errors: int
    received: int


async def _failed(batch: list[Message], error: str) -> Delivery:
    return Delivery(failed=[m.id for m in batch], error=error, disconnected=True)


class SyncEngine:
    """Leases batches from a :class:`SyncQueue`, sends them, acks what the transport confirmed.

    A batch the transport could not deliver is nacked with backoff (not counted as an
    attempt when the link was down, so an outage never dead-letters messages); what
    the other end refused for good is dead-lettered. A lost link is reconnected with
    backoff. Use it from asyncio (``await engine.async_run()``, ``await engine.async_drain()``) or
    from plain code and Jupyter through the sync front (``start()``, ``sync_now()``,
    ``stop()``), which runs the engine on a private event loop in a thread.

    Args:
        queue: The queue to drain.
        transport: A :class:`Transport`, or a name for :func:`make_transport`: ``"auto"``
            (the default: a :class:`DirectoryTransport` next to the queue, in
            ``<queue path>.outbox``), ``"memory"``, or a ``nats://``, ``mqtt://``,
            ``http(s)://`` or ``dir:`` URL.
        batch_size: Largest batch, in messages.
        max_batch_bytes: Largest batch, in payload bytes (at least one message).
        bandwidth_limit: Bytes/s of payload, as a token bucket; None for no limit.
        retry: Backoff of a batch that failed with an answer (an attempt counted): its
            failed messages keep their place in the queue and the engine sends nothing
            for that long.
        reconnect: Backoff between connection attempts.
        topic: Only drain this topic (default: all).
        visibility_timeout: Lease duration in seconds: an engine that dies mid-batch
            has its messages redelivered after this long.
        idle_interval: Seconds between polls when the queue is empty.
        downlink: Host callback ``(subject, payload, headers)`` for downlink messages
            (needs a transport with a downlink: NATS or MQTT).
        pipeline: Batches on the wire at once (their confirmations pending). Batches
            are published in order; once one fails (or the link is seen down), nothing
            new goes out until every batch on the wire has settled, so the failed
            messages go again before any later message of their topic. Only a later
            batch that succeeded while an earlier one failed (a lost confirmation on a
            live link) has overtaken it.
    """

    def __init__(
        self,
        queue: SyncQueue,
        transport: Transport | str = "auto",
        *,
        batch_size: int = 256,
        max_batch_bytes: int = 1 << 20,
        bandwidth_limit: float | None = None,
        retry: Backoff | None = None,
        reconnect: Backoff | None = None,
        topic: str | None = None,
        visibility_timeout: float = 60.0,
        idle_interval: float = 0.05,
        downlink: DownlinkHandler | None = None,
        pipeline: int = 4,
    ) -> None:
        if not isinstance(queue, SyncQueue):
            raise InvalidInputError("queue must be a SyncQueue")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError("batch_size must be an int >= 1")
        self.queue = queue
        self.transport = make_transport(transport, queue=queue)
        self.batch_size = batch_size
        self.max_batch_bytes = int(max_batch_bytes)
        self.bucket = TokenBucket(bandwidth_limit) if bandwidth_limit else None
        self.retry = retry or Backoff(initial=0.5, maximum=30.0)
        self.reconnect = reconnect or Backoff(initial=0.1, maximum=10.0)
        self.topic = topic
        self.visibility_timeout = float(visibility_timeout)
        self.idle_interval = float(idle_interval)
        self.downlink = downlink
        if not isinstance(pipeline, int) or pipeline < 1:
            raise InvalidInputError("pipeline must be an int >= 1")
        self.pipeline = pipeline
        self._inflight: collections.deque[tuple[list[Message], asyncio.Future[Delivery]]] = (
            collections.deque()
        )
        self._paused = False
        #: Held while the pump checks ``_paused`` and leases, and by :meth:`pause`: once
        #: ``pause()`` returns, no lease begins until :meth:`resume`.
        self._lease_lock = threading.Lock()
        self._running = False
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: LoopThread | None = None
        self._task: concurrent.futures.Future[None] | None = None
        self._failures = 0
        self._next_connect = 0.0
        self._hold_until = 0.0  # no leases before this (monotonic s): after a lost batch
        self._unsure = False  # a batch failed: send nothing new until the rest settle
        self._sent_messages = 0
        self._sent_bytes = 0
        self._received = 0
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._last_queue_error = False  # the last error came from the queue
        self._errors = 0
        self._loop_failures = 0
        self._link_down = False  # the link was seen down since the last connect
        self._connect_error: TransportError | None = None  # why the last connect failed
        self._connect_deadline: float | None = None  # async_drain's deadline (monotonic)
        self._window: collections.deque[tuple[float, int, int]] = collections.deque()
        self._created = time.monotonic()

    # -- async API ----------------------------------------------------------------------

    def _events(self) -> tuple[asyncio.Event, asyncio.Event]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._stop is None or self._wake is None:
            self._loop = loop
            self._stop = asyncio.Event()
            self._wake = asyncio.Event()
        return self._stop, self._wake

    async def _ensure_connected(self) -> bool:
        """Whether the link is up; (re)connects when it is down and the backoff allows.

        A connect attempt gives way to :meth:`stop` at once and to ``async_drain``'s
        deadline; its error becomes ``last_error`` as soon as it is known.
        """
        if self.transport.connected:
            if self._link_down:
                self._recovered()
            return True
        self._link_down = True
        if self._inflight:  # sent on the lost link: they settle (and go back) first
            self._unsure = True
            return False
        now = time.monotonic()
        if now < self._next_connect:
            return False
        budget = None
        if self._connect_deadline is not None:
            budget = max(self._connect_deadline - now, 0.05)
        try:
            if not await self._interruptible(self.transport.async_connect(), budget):
                return False  # stopping
        except TransportError as exc:
            self._failures += 1
            self._connect_error = exc
            self._note(str(exc))
            self._next_connect = time.monotonic() + self.reconnect.delay(self._failures)
            return False
        self._failures = 0
        self._recovered()
        return True

    async def _interruptible(self, connect: Any, budget: float | None) -> bool:
        """Await ``connect``; False if stop was requested first, or if ``budget`` seconds
        passed after an earlier failed attempt (else TransportError): the attempt is
        cancelled then."""
        stop, _wake = self._events()
        attempt = asyncio.ensure_future(connect)
        # Only the loop of async_run stops; a drain after a stop still connects.
        stopping = asyncio.ensure_future(stop.wait() if self._running else asyncio.Event().wait())
        try:
            await asyncio.wait({attempt, stopping}, timeout=budget, return_when="FIRST_COMPLETED")
        finally:
            stopping.cancel()
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(BaseException):
                    await attempt
        if attempt.cancelled():
            if stop.is_set() or self._connect_error is not None:
                return False  # stopping, or cut short: the earlier error says more
            raise TransportError(
                f"cannot connect to {self.transport.name}: timed out (no answer in the "
                f"{budget or 0:.3g} s left of the timeout)"
            )
        attempt.result()
        return True

    def _recovered(self) -> None:
        """The link is up again: a connection or delivery error is no longer current."""
        self._link_down = False
        self._connect_error = None
        if not self._last_queue_error:
            self._last_error = None

    async def async_pump(self) -> int:
        """Send batches and settle the oldest; returns how many messages were acked.

        Up to ``pipeline`` batches are on the wire at once (published, PubAcks pending);
        each is settled in order: acked, nacked or dead-lettered in the queue.
        """
        if not self._inflight:
            self._unsure = False
        if (
            not self._paused
            and not self._unsure
            and time.monotonic() >= self._hold_until
            and await self._ensure_connected()
        ):
            while len(self._inflight) < self.pipeline:
                with self._lease_lock:  # (a pause from another thread lands between leases)
                    if self._pause_requested():
                        break
                    batch = self.queue.lease(
                        self.batch_size,
                        topic=self.topic,
                        visibility_timeout=self.visibility_timeout,
                        max_bytes=self.max_batch_bytes,
                    )
                if not batch:
                    break
                if self.bucket is not None:
                    await self.bucket.async_consume(sum(len(m.payload) for m in batch))
                try:
                    confirm = await self.transport.async_publish(batch)
                except Exception as exc:  # a transport bug must not lose the batch
                    confirm = _failed(batch, f"send raised {exc!r}")
                self._inflight.append((batch, asyncio.ensure_future(confirm)))
                if not self.transport.connected:
                    self._unsure = True
                    break
        if not self._inflight:
            return 0
        batch, task = self._inflight.popleft()
        try:
            delivery = await task
        except Exception as exc:
            delivery = Delivery(
                failed=[m.id for m in batch], error=f"send raised {exc!r}", disconnected=True
            )
        return self._settle(batch, delivery)

    async def async_flush(self) -> int:
        """Settle every batch on the wire; returns how many messages were acked."""
        acked = 0
        while self._inflight:
            batch, task = self._inflight.popleft()
            try:
                delivery = await task
            except Exception as exc:
                delivery = Delivery(
                    failed=[m.id for m in batch], error=repr(exc), disconnected=True
                )
            acked += self._settle(batch, delivery)
        return acked

    def _settle(self, batch: list[Message], delivery: Delivery) -> int:
        if delivery.acked:
            self.queue.ack(delivery.acked)
            acked = set(delivery.acked)
            sent_bytes = sum(len(m.payload) for m in batch if m.id in acked)
            self._sent_messages += len(delivery.acked)
            self._sent_bytes += sent_bytes
            self._last_success = time.time()
            self._window.append((time.monotonic(), len(delivery.acked), sent_bytes))
            if not delivery.disconnected:
                self._failures = 0  # the link works: the next hold-off starts short
        if delivery.rejected:
            by_reason: dict[str, list[int]] = {}
            for i in delivery.rejected:
                why = delivery.reasons.get(i) or delivery.error or "refused by the other end"
                by_reason.setdefault(why, []).append(i)
            for why, ids in by_reason.items():
                self.queue.reject(ids, reason=why)
                self._note(f"{len(ids)} dead-lettered: {why}")
        error = delivery.error
        if delivery.failed or delivery.held:
            self._unsure = True  # later batches in flight settle before anything new goes
            if delivery.disconnected:  # link down or no answer: not an attempt; hold off
                self._link_down = True  # its error is cleared once the link is seen up
                if delivery.failed:
                    self.queue.nack(delivery.failed, delay=0, count_attempt=False, error=error)
                if delivery.held:
                    self.queue.nack(delivery.held, delay=0, count_attempt=False)
                self._failures += 1
                self._hold_until = time.monotonic() + self.reconnect.delay(self._failures)
                self._next_connect = self._hold_until
            else:  # an answer: counts an attempt, so a repeated refusal ends dead
                # The retry goes back to its place (delay 0) and the engine holds off: a
                # delay in the queue would let later messages of its topic overtake it.
                retry = set(delivery.failed) | set(delivery.held)
                delay = self.retry.delay(max(m.attempt for m in batch if m.id in retry))
                if delivery.failed:
                    self.queue.nack(delivery.failed, delay=0, error=error)
                if delivery.held:
                    self.queue.nack(delivery.held, delay=0, count_attempt=False)
                self._hold_until = max(self._hold_until, time.monotonic() + delay)
        if error:
            self._note(error)
        return len(delivery.acked)

    async def async_run(self) -> None:
        """Drain the queue until :meth:`stop` (or ``request_stop``) is called."""
        stop, wake = self._events()
        self._running = True
        downlink_task = None
        if self.downlink is not None:
            downlink_task = asyncio.ensure_future(self._run_downlink(stop))
        try:
            while not stop.is_set():
                try:
                    sent = await self.async_pump()
                except Exception as exc:  # the loop outlives any error: record, back off
                    self._record(exc)
                    self._loop_failures += 1
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(
                            stop.wait(), timeout=self.reconnect.delay(self._loop_failures)
                        )
                    continue
                self._loop_failures = 0
                if sent == 0:
                    wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=self.idle_interval)
                else:
                    await asyncio.sleep(0)
        finally:
            with contextlib.suppress(Exception):
                await self.async_flush()
            self._running = False
            if downlink_task is not None:
                downlink_task.cancel()
                with contextlib.suppress(BaseException):
                    await downlink_task

    def _note(self, error: str, from_queue: bool = False) -> None:
        """Count an error and keep it as ``last_error``."""
        self._errors += 1
        self._last_error = error
        self._last_queue_error = from_queue

    def _record(self, exc: Exception) -> None:
        """Note and log an error the loop caught."""
        known = isinstance(exc, EdgekitError)
        self._note(str(exc) if known else repr(exc), isinstance(exc, QueueError))
        if known:
            _LOG.warning("sync engine: %s (backing off, will retry)", self._last_error)
        else:
            _LOG.exception("sync engine: unexpected error (backing off, will retry)")

    def _left_error(self, text: str) -> EdgekitError:
        """The error for messages left after a timeout: a QueueError when the last error
        came from the queue, else a TransportError."""
        cls = QueueError if self._last_queue_error else TransportError
        if self._last_error is None:
            link = "up" if self.transport.connected else "down"
            return cls(f"{text}; no error recorded (the {self.transport.name} link is {link})")
        return cls(f"{text}; last error: {self._last_error}")

    async def _run_downlink(self, stop: asyncio.Event) -> None:
        assert self.downlink is not None
        handler = self.downlink

        def counting(subject: str, data: bytes, headers: dict[str, str]) -> Any:
            result = handler(subject, data, headers)
            self._received += 1
            return result

        while not stop.is_set():
            try:
                await self.transport.async_consume(counting, stop=stop)
            except TransportError as exc:
                self._note(str(exc))
                await asyncio.sleep(self.reconnect.delay(1))

    async def async_drain(self, timeout: float | None = 30.0) -> int:
        """Send until nothing is left to send (ready, delayed or in flight); returns messages acked.

        Raises:
            TransportError: ``timeout`` seconds passed with messages left, because the
                transport failed (its last error is in the message). A connect attempt
                never runs past ``timeout``.
            TransportConfigError: At once, when the server is set up so that nothing can
                be delivered (no stream takes the subjects, they overlap another stream).
            QueueError: The queue could not lease or ack (``QueueFullError``: the disk
                is full); nothing is lost, leased messages come back after
                ``visibility_timeout``.
        """
        self._events()
        deadline = None if timeout is None else time.monotonic() + timeout
        total = 0
        self._connect_deadline = deadline
        try:
            while True:
                try:
                    sent = await self.async_pump()
                except QueueError as exc:
                    self._record(exc)
                    with contextlib.suppress(EdgekitError):
                        await self.async_flush()
                    raise
                total += sent
                if isinstance(self._connect_error, TransportConfigError):
                    raise self._connect_error
                if sent or self._inflight:
                    continue
                if len(self.queue) == 0:
                    return total
                if deadline is not None and time.monotonic() > deadline:
                    total += await self.async_flush()
                    raise self._left_error(f"{len(self.queue)} messages left after {timeout} s")
                await asyncio.sleep(self.idle_interval)
        finally:
            self._connect_deadline = None

    async def async_close(self) -> None:
        """Stop the loop (if running) and close the transport."""
        self.request_stop()
        await self.transport.async_close()

    def request_stop(self) -> None:
        """Ask a running loop to stop (thread-safe)."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)

    # -- sync front ------------------------------------------------------------------------

    def _runner(self) -> LoopThread:
        if self._thread is None:
            self._thread = LoopThread("edgekit-sync")
        return self._thread

    def start(self) -> None:
        """Run the engine in the background (a private event loop in a thread)."""
        if self._task is not None and not self._task.done():
            return
        self._task = self._runner().submit(self.async_run())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop and close the transport."""
        if self._thread is None:
            return
        self.request_stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                self._task.result(timeout)
            self._task = None
        with contextlib.suppress(Exception):
            self._thread.submit(self.transport.async_close()).result(timeout)
        self._thread.stop()
        self._thread = None
        self._loop = None

    def close(self) -> None:
        """Same as :meth:`stop`."""
        self.stop()

    def sync_now(self, timeout: float | None = 30.0) -> int:
        """Send everything now and wait until the queue is empty; returns messages acked.

        Safe inside Jupyter's running event loop: the work runs on the engine's private
        loop. When the background loop runs, it is woken and waited for.

        Raises:
            TransportError: Messages are left after ``timeout`` seconds; the message
                names the last error (connection refused, name not resolved, timed out).
            TransportConfigError: At once, when the server is set up so that nothing can
                be delivered (no stream takes the subjects, they overlap another stream).
            QueueError: The queue could not lease or ack (``QueueFullError``: the disk
                is full); with the background loop running, raised at ``timeout`` when
                the loop's last error came from the queue.
        """
        if self._task is not None and not self._task.done():
            before = self._sent_messages
            self._wake_up()
            deadline = None if timeout is None else time.monotonic() + timeout
            while len(self.queue):
                if isinstance(self._connect_error, TransportConfigError):
                    raise TransportConfigError(str(self._connect_error))
                if deadline is not None and time.monotonic() > deadline:
                    raise self._left_error(f"{len(self.queue)} messages left after {timeout} s")
                time.sleep(0.01)
            return self._sent_messages - before
        wait = None if timeout is None else timeout + 10
        future = self._runner().submit(self.async_drain(timeout))
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise self._left_error(f"sync_now did not finish in {wait} s") from exc

    def _wake_up(self) -> None:
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    def pause(self) -> None:
        """Stop sending (leases nothing) until :meth:`resume`; thread-safe: a lease under
        way finishes first, none begins after this returns (batches already on the wire
        are still settled)."""
        with self._lease_lock:
            self._paused = True

    def _pause_requested(self) -> bool:
        """Whether :meth:`pause` was called (read again: another thread may have called it
        since the pump last looked)."""
        return self._paused

    def resume(self) -> None:
        """Resume sending after :meth:`pause`."""
        self._paused = False
        self._wake_up()

    def status(self) -> SyncStatus:
        """Connection, backlog, throughput and last error."""
        now = time.monotonic()
        while self._window and now - self._window[0][0] > 10.0:
            self._window.popleft()
        span = max(min(10.0, now - self._created), 1e-3)
        stats = self.queue.stats()
        return SyncStatus(
            running=self._running,
            paused=self._paused,
            connected=self.transport.connected,
            backlog=stats.depth,
            dead=stats.dead,
            sent_messages=self._sent_messages,
            sent_bytes=self._sent_bytes,
            messages_per_s=sum(n for _, n, _ in self._window) / span,
            bytes_per_s=sum(b for _, _, b in self._window) / span,
            last_success_at=self._last_success,
            last_error=self._last_error,
            errors=self._errors,
            received=self._received,
        )

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
