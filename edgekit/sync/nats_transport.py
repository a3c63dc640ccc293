"""NatsTransport: publish into NATS JetStream with message-id deduplication (nats-py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Sequence
from typing import Any

from edgekit.errors import (
    InvalidInputError,
    TransportConfigError,
    TransportError,
)
from edgekit.sync._reach import check_nats_url, describe, import_nats
from edgekit.sync.queue import Message
from edgekit.sync.topics import check_headers, check_topic
from edgekit.sync.transport import Delivery, DownlinkHandler, Transport, call_handler, sort_out

__all__ = ["NatsTransport"]

_SUBJECT_BAD = set(" \t\r\n*>")


async def _ready(delivery: Delivery) -> Delivery:
    return delivery


def _unpublishable(m: Message, headers: dict[str, str], max_payload: int) -> str | None:
    """Why NATS can never take ``m`` (a queue written before topics were checked at put,
    or a message over the server's max_payload), or None."""
    try:
        check_topic(m.topic)
        check_headers(m.headers)
    except InvalidInputError as exc:
        return str(exc)
    # HPUB counts headers and payload against max_payload ("NATS/1.0\r\n", "k: v\r\n"s, "\r\n").
    size = (
        len(m.payload) + 12 + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())
    )
    if size > max_payload:
        return (
            f"message of {size:,} bytes (payload and headers) exceeds the NATS server's "
            f"max_payload of {max_payload:,} bytes"
        )
    return None


def _refusal(nats: Any, exc: BaseException) -> str | None:
    """Why a PubAck error refuses its message for good (a 4xx but a timeout or a rate
    limit: it is dead-lettered, later ones may still go), or None."""
    if (
        isinstance(exc, nats.js.errors.APIError)
        and exc.code is not None
        and 400 <= int(exc.code) < 500
        and int(exc.code) not in (408, 429)
    ):
        return f"JetStream refused it: {exc.description} (code {exc.code})"
    return None


class NatsTransport(Transport):
    """Publishes each message to ``<subject_prefix>.<topic>`` in a JetStream stream.

    Every message carries the ``Nats-Msg-Id`` header (its key, or queue id and
    message id), so a redelivery after a crash or a lost PubAck is dropped by the
    stream's duplicate window. A message is acked in the queue only when its PubAck
    arrives. A batch is pipelined: all messages are published, then their PubAcks
    awaited together.

    Args:
        url: Server URL(s), e.g. ``"nats://127.0.0.1:4222"``; a list for a cluster.
        stream: The JetStream stream name.
        subject_prefix: Subjects are ``<subject_prefix>.<topic>``.
        create_stream: Create (or update) the stream, capturing ``<subject_prefix>.>``.
        duplicate_window: The stream's duplicate window when created, in seconds:
            make it cover the longest outage you expect (JetStream's default is 120 s).
        replicas: Stream replicas when created (3 on a 3-server cluster).
        ack_timeout: Seconds to wait for a batch's PubAcks.
        connect_timeout: Seconds to wait for a connection.
        downlink_subject: Subject filter for :meth:`async_consume` (a durable pull consumer).
        downlink_durable: Durable consumer name for :meth:`async_consume`.
        downlink_stream: Stream of the downlink consumer (default: ``stream``).
        options: Extra keyword arguments for ``nats.connect`` (TLS, credentials, ...).
    """

    name = "nats"

    def __init__(
        self,
        url: str | list[str] = "nats://127.0.0.1:4222",
        *,
        stream: str = "EDGEKIT",
        subject_prefix: str = "edgekit",
        create_stream: bool = False,
        duplicate_window: float = 7 * 86400.0,
        replicas: int = 1,
        ack_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        downlink_subject: str | None = None,
        downlink_durable: str = "edgekit-downlink",
        downlink_stream: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        if not subject_prefix or set(subject_prefix) & _SUBJECT_BAD:
            raise InvalidInputError(f"bad NATS subject prefix {subject_prefix!r}")
        self.servers = [url] if isinstance(url, str) else list(url)
        if not self.servers:
            raise InvalidInputError("NatsTransport needs at least one server URL")
        for server in self.servers:
            check_nats_url(server)
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.create_stream = create_stream
        self.duplicate_window = float(duplicate_window)
        self.replicas = int(replicas)
        self.ack_timeout = float(ack_timeout)
        self.connect_timeout = float(connect_timeout)
        self.downlink_subject = downlink_subject
        self.downlink_durable = downlink_durable
        self.downlink_stream = downlink_stream or stream
        self.options = dict(options or {})
        self._nc: Any = None
        self._js: Any = None
        self._locks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}
        self._unanswered: Any = None  # the connection on which asking again went unanswered
        self._doubt: Any = None  # the connection on which a PubAck wait timed out
        #: Each batch's PubAck wait -> the connection it was published on.
        self._confirming: dict[asyncio.Future[Delivery], Any] = {}

    @property
    def connected(self) -> bool:
        """Whether a batch may go out: the link is up and no batch sent before is in
        doubt (sent on a connection since lost, or on this one after a PubAck wait
        timed out). Those settle first and go again before anything after them."""
        return self._link_up and self._doubtful() is None

    @property
    def _link_up(self) -> bool:
        return self._nc is not None and bool(self._nc.is_connected)

    def _doubtful(self) -> str | None:
        """Why a batch may not go out yet, or None."""
        nc = self._nc
        for wait, sent_on in self._confirming.items():
            if wait.get_loop().is_closed():
                continue
            if sent_on is not nc:
                return "batches sent before the link was lost are not confirmed yet"
            if self._doubt is nc:
                return "earlier batches whose PubAcks timed out are not confirmed yet"
        return None

    def subject(self, topic: str) -> str:
        """The subject a topic is published to."""
        return f"{self.subject_prefix}.{topic}"

    async def async_connect(self) -> None:
        """Connect, then check (or create) the stream that takes ``<subject_prefix>.>``.

        Fails fast and says why: a refused port, a name that does not resolve and a
        server that does not answer in ``connect_timeout`` are told apart once every
        server was tried; a missing or overlapping stream raises
        :class:`~edgekit.errors.TransportConfigError`. A lost link closes the
        connection; the engine connects again (with its backoff) once the batches sent
        on it have settled. With nats-py's own reconnect, newer batches went out on
        the new link before the lost ones were sent again.
        """
        async with self._loop_lock("connect"):  # the uplink and the downlink may both connect
            await self._connect()

    def _loop_lock(self, name: str) -> asyncio.Lock:
        """This event loop's lock ``name`` (a transport may outlive its loop)."""
        loop = asyncio.get_running_loop()
        held = self._locks.get(name)
        if held is None or held[0] is not loop:
            held = self._locks[name] = (loop, asyncio.Lock())
        return held[1]

    async def _connect(self) -> None:
        nats = import_nats()
        if self._link_up:
            return
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None
        failures: list[BaseException] = []
        every_failed = asyncio.Event()
        user_cb = self.options.get("error_cb")

        async def _on_error(exc: Exception) -> None:
            if not every_failed.is_set():
                failures.append(exc)
                if len(failures) >= len(self.servers):
                    every_failed.set()
            if user_cb is not None:
                await user_cb(exc)

        options = {
            "connect_timeout": self.connect_timeout,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.25,
            **self.options,
            "error_cb": _on_error,
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
            every_failed.set()  # later errors are the link's own
            # From here a lost link closes the client: its buffer dies with it.
            nc.options["allow_reconnect"] = False
            self._js = nc.jetstream(timeout=self.ack_timeout, publish_async_max_pending=100_000)
            if self.create_stream:
                await self._ensure_stream(nc)
            else:
                await self._check_stream(nc)
        except BaseException:  # a failure, or a cancel (stop()) while connecting
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        finally:
            failed.cancel()
        self._nc = nc

    def _where(self) -> str:
        return ", ".join(self.servers)

    async def _streams_taking(self, nc: Any, subject: str) -> list[str]:
        """Names of the streams whose subjects overlap ``subject`` (JetStream's STREAM.NAMES)."""
        nats = import_nats()
        try:
            reply = await nc.request(
                "$JS.API.STREAM.NAMES",
                json.dumps({"subject": subject}).encode(),
                timeout=self.ack_timeout,
            )
            answer = json.loads(reply.data)
        except nats.errors.NoRespondersError as exc:
            raise TransportConfigError(
                f"JetStream is not enabled on the NATS server at {self._where()}: "
                "start nats-server with -js (or jetstream {} in its config)"
            ) from exc
        except Exception as exc:
            raise TransportError(
                f"JetStream at {self._where()} did not answer a stream lookup: {exc!r}"
            ) from exc
        error = answer.get("error") if isinstance(answer, dict) else {"description": "not JSON"}
        if error:  # e.g. "jetstream not enabled for account", "temporarily unavailable"
            cls = TransportConfigError if "not enabled" in str(error) else TransportError
            raise cls(f"JetStream at {self._where()} refused a stream lookup: {error}")
        return list(answer.get("streams") or [])

    async def _check_stream(self, nc: Any) -> None:
        subject = f"{self.subject_prefix}.>"
        if await self._streams_taking(nc, subject):
            return
        raise TransportConfigError(
            f"no JetStream stream takes subject {subject!r} on {self._where()}: pass "
            f"create_stream=True (edgekit sync --create-stream), or create one: "
            f"nats stream add {self.stream} --subjects '{subject}'"
        )

    async def _ensure_stream(self, nc: Any) -> None:
        nats = import_nats()
        subject = f"{self.subject_prefix}.>"
        config = nats.js.api.StreamConfig(
            name=self.stream,
            subjects=[subject],
            duplicate_window=self.duplicate_window,
            num_replicas=self.replicas,
            storage=nats.js.api.StorageType.FILE,
        )
        others = [n for n in await self._streams_taking(nc, subject) if n != self.stream]
        if others:
            raise TransportConfigError(
                f"cannot create JetStream stream {self.stream} on {subject!r}: it overlaps "
                f"the subjects of stream {others[0]!r} on {self._where()}; publish into that "
                f"stream (create_stream=False, or edgekit sync --no-create-stream), or pick "
                f"a subject_prefix no stream takes"
            )
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError as add_exc:
            try:
                await self._js.update_stream(config)
            except nats.js.errors.BadRequestError as exc:
                raise TransportConfigError(
                    f"cannot create or update JetStream stream {self.stream} on "
                    f"{subject!r}: {exc.description or add_exc.description or exc!r}"
                ) from exc
            except Exception as exc:
                raise TransportError(
                    f"cannot create JetStream stream {self.stream}: {exc!r}"
                ) from exc
        except Exception as exc:
            raise TransportError(f"cannot create JetStream stream {self.stream}: {exc!r}") from exc

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        return await (await self.async_publish(messages))

    async def async_publish(self, messages: Sequence[Message]) -> Awaitable[Delivery]:
        """Publish a batch (pipelined); returns an awaitable of the PubAck outcome.

        A message NATS can never take (a subject or header it refuses, over the
        server's ``max_payload``) is rejected alone, before it is sent.
        """
        if not messages:
            return _ready(Delivery())
        why = "not connected" if not self._link_up else self._doubtful()
        if why is not None:
            return _ready(Delivery(failed=[m.id for m in messages], error=why, disconnected=True))
        nc = self._nc
        nats = import_nats()
        futures: dict[int, asyncio.Future[Any]] = {}
        wire: dict[int, tuple[str, dict[str, str]]] = {}
        refused: dict[int, str] = {}
        error: str | None = None
        js, prefix, limit = self._js, self.subject_prefix, int(nc.max_payload)
        for m in messages:
            headers = {"Nats-Msg-Id": m.dedup_id}
            if m.headers:
                headers.update(m.headers)
            why = _unpublishable(m, headers, limit)
            if why is not None:
                refused[m.id] = why
                continue
            wire[m.id] = (f"{prefix}.{m.topic}", headers)
            try:
                futures[m.id] = await js.publish_async(
                    f"{prefix}.{m.topic}", m.payload, headers=headers
                )
            except (
                nats.errors.BadSubjectError,
                nats.errors.BadHeaderError,
                nats.errors.MaxPayloadError,
            ) as exc:
                refused[m.id] = f"NATS cannot publish it: {exc!r}"
            except Exception as exc:  # the link: this and the rest are retried
                error = f"publish failed: {exc!r}"
                break
        wait = asyncio.ensure_future(self._confirm(nc, messages, futures, wire, refused, error))
        self._confirming[wait] = nc
        wait.add_done_callback(self._confirmed)
        return wait

    def _confirmed(self, wait: asyncio.Future[Delivery]) -> None:
        self._confirming.pop(wait, None)
        if not self._confirming:  # every batch settled: a clean slate
            self._doubt = self._unanswered = None

    async def _confirm(
        self,
        nc: Any,
        messages: Sequence[Message],
        futures: dict[int, asyncio.Future[Any]],
        wire: dict[int, tuple[str, dict[str, str]]],
        refused: dict[int, str],
        error: str | None,
    ) -> Delivery:
        """Sort a published batch out by PubAck: a 4xx JetStream error rejects its message
        alone; any other reply (no stream, 5xx) fails it and counts an attempt; no reply
        at all (a timeout, a lost link) fails it without counting one."""
        silent = False  # some message had no answer: not an attempt
        if futures:
            _done, pending = await asyncio.wait(futures.values(), timeout=self.ack_timeout)
            for fut in pending:
                fut.cancel()
            if pending:  # the batches after this one may be lost too: nothing new goes
                self._doubt = nc  # out until they are settled
            if pending and self._nc is nc and self._link_up:
                async with self._loop_lock("ask"):  # one batch after the other, in order
                    if self._unanswered is not nc and not await self._ask_again(
                        messages, futures, wire
                    ):
                        self._unanswered = nc  # later batches on this link: not asked
        nats = import_nats()
        failed: set[int] = set()
        for m in messages:
            fut = futures.get(m.id)
            if m.id in refused:
                continue
            if fut is None or fut.cancelled():  # not sent, or no PubAck
                failed.add(m.id)
                silent = True
                error = error or (
                    "not sent" if fut is None else f"no PubAck in {self.ack_timeout:g} s"
                )
                continue
            exc = fut.exception()
            if exc is None:
                continue
            if isinstance(exc, nats.js.errors.NoStreamResponseError):
                failed.add(m.id)
                error = error or (
                    f"no JetStream stream takes subject {self.subject(m.topic)!r} (no responders)"
                )
            elif (why := _refusal(nats, exc)) is not None:
                refused[m.id] = why
            else:  # a 5xx, the stream leader moving: retried, the attempt counted
                failed.add(m.id)
                error = error or f"PubAck error: {exc!r}"
        silent = silent and bool(failed)
        # Acked are only messages no failed one of their topic precedes (order per topic);
        # JetStream drops a retried duplicate by Nats-Msg-Id.
        return sort_out(messages, refused, failed, error=error, disconnected=silent)

    async def _ask_again(
        self,
        messages: Sequence[Message],
        futures: dict[int, asyncio.Future[Any]],
        wire: dict[int, tuple[str, dict[str, str]]],
    ) -> bool:
        """Publish each message whose PubAck timed out again, as a request, in order;
        whether every one was answered (a PubAck or a refusal for good).

        nats-py (2.16) loses a JetStream error reply to ``publish_async`` (its reply
        callback raises instead of failing the future: nats-io/nats.py#985, fix in
        PR #994), so a refusal looks like silence and would be retried forever without
        an attempt counted. The stream drops a message that did land by its
        Nats-Msg-Id. A second silence, or an error that is not a refusal, stops the
        asking: a later message of the batch must not land before that one's retry.
        """
        nats = import_nats()
        loop = asyncio.get_running_loop()
        for m in messages:
            fut = futures.get(m.id)
            if fut is None or not fut.cancelled():
                continue
            subject, headers = wire[m.id]
            answer: asyncio.Future[Any] = loop.create_future()
            try:
                answer.set_result(
                    await self._js.publish(
                        subject, m.payload, timeout=self.ack_timeout, headers=headers
                    )
                )
            except asyncio.TimeoutError:
                return False
            except Exception as exc:
                answer.set_exception(exc)
                futures[m.id] = answer
                if _refusal(nats, exc) is None:
                    return False
                continue
            futures[m.id] = answer
        return True

    async def async_close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def async_consume(self, handler: DownlinkHandler, *, stop: asyncio.Event) -> None:
        """Fetch from a durable pull consumer; ack each message after ``handler`` returns.

        A handler that raises leaves its message unacked: JetStream redelivers it. A
        lost link ends the call with :class:`~edgekit.errors.TransportError`; called
        again, it connects and subscribes again (the engine does so with its backoff).
        """
        nats = import_nats()
        if self.downlink_subject is None:
            raise TransportError("NatsTransport needs downlink_subject for a downlink")
        if not self._link_up:
            await self.async_connect()
        nc = self._nc
        try:
            sub = await self._js.pull_subscribe(
                self.downlink_subject, durable=self.downlink_durable, stream=self.downlink_stream
            )
        except Exception as exc:
            raise TransportError(f"cannot subscribe to {self.downlink_subject}: {exc!r}") from exc
        while not stop.is_set():
            if self._nc is not nc or not self._link_up:
                raise TransportError(
                    f"lost the NATS link at {self._where()}: the downlink subscribes again "
                    "once it is back"
                )
            try:
                msgs = await sub.fetch(64, timeout=0.5)
            except nats.errors.TimeoutError:
                continue
            except Exception:
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    await call_handler(handler, msg.subject, msg.data, dict(msg.headers or {}))
                except Exception:
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1.0)
                    continue
                with contextlib.suppress(Exception):
                    await msg.ack()
