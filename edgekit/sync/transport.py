"""The transport interface, and the transports that need no server: directory and memory."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import InvalidInputError, TransportError
from edgekit.sync.queue import Message

__all__ = [
    "Delivery",
    "DirectoryTransport",
    "DownlinkHandler",
    "MemoryTransport",
    "Transport",
    "envelope",
    "json_body",
    "sort_out",
]

#: A host callback for downlink messages: ``(subject, payload, headers)``, sync or async.
DownlinkHandler = Callable[[str, bytes, dict[str, str]], "Awaitable[None] | None"]


@dataclass
class Delivery:
    """What a transport did with a batch.

    Attributes:
        acked: Ids the other end confirmed (acked in the queue).
        failed: Ids to retry later (nacked with backoff).
        rejected: Ids the other end refused for good (dead-lettered, each with its reason).
        reasons: Why each rejected id was refused (id -> reason).
        held: Ids retried without counting an attempt: they went through after a failed
            message of their topic (so that order per topic holds), or were not sent.
        error: Why some failed, or None.
        disconnected: The link is down, or the other end did not answer: the failed ids
            are retried without counting an attempt, after the reconnect backoff. Any
            answer from the other end counts an attempt, so no answer repeats forever.
    """

    acked: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    held: list[int] = field(default_factory=list)
    error: str | None = None
    disconnected: bool = False


def sort_out(
    messages: Sequence[Message],
    refused: dict[int, str],
    failed: set[int],
    *,
    unsent: Collection[int] = (),
    error: str | None = None,
    disconnected: bool = False,
) -> Delivery:
    """The :class:`Delivery` of a batch from what happened to each message.

    ``refused`` (id -> reason) are rejected alone; ``failed`` ids are retried; ``unsent``
    ids and messages that went through after a failed one of their topic are held
    (retried without counting an attempt); every other message is acked.
    """
    out = Delivery(error=error, disconnected=disconnected)
    blocked: set[str] = set()
    for m in messages:
        if m.id in refused:
            out.rejected.append(m.id)
            out.reasons[m.id] = refused[m.id]
        elif m.id in failed:
            blocked.add(m.topic)
            out.failed.append(m.id)
        elif m.topic in blocked or m.id in unsent:
            out.held.append(m.id)
        else:
            out.acked.append(m.id)
    return out


def envelope(messages: Sequence[Message]) -> dict[str, Any]:
    """The JSON envelope of a batch (payloads in base64), as HTTP and directory transports write."""
    return {
        "format": "edgekit.sync/1",
        "messages": [
            {
                "id": m.id,
                "dedup_id": m.dedup_id,
                "topic": m.topic,
                "priority": m.priority,
                "key": m.key,
                "headers": m.headers,
                "created": m.created,
                "attempt": m.attempt,
                "payload": base64.b64encode(m.payload).decode(),
            }
            for m in messages
        ],
    }


def json_body(messages: Sequence[Message]) -> tuple[bytes, list[Message], dict[int, str]]:
    """The envelope of a batch as JSON bytes, the messages in it, and why each message
    left out could not be encoded (id -> reason): one bad message never spoils a batch."""
    try:
        return _dump(messages), list(messages), {}
    except (TypeError, ValueError):
        pass
    good: list[Message] = []
    bad: dict[int, str] = {}
    for m in messages:
        try:
            _dump([m])
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            bad[m.id] = f"cannot be written as JSON: {exc}"
        else:
            good.append(m)
    return (_dump(good) if good else b""), good, bad


def _dump(messages: Sequence[Message]) -> bytes:
    return json.dumps(envelope(messages), separators=(",", ":"), allow_nan=False).encode()


class Transport:
    """The interface every transport implements; subclasses override the coroutines.

    A transport is used from one event loop. ``async_send`` never raises for a delivery
    problem: it reports it in the returned :class:`Delivery`.
    """

    name = "transport"

    @property
    def connected(self) -> bool:
        """Whether the link is believed up."""
        return True

    async def async_connect(self) -> None:
        """Open the link; raises :class:`~edgekit.errors.TransportError` when it cannot."""

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        """Deliver a batch, in order; report which messages the other end confirmed."""
        raise NotImplementedError

    async def async_publish(self, messages: Sequence[Message]) -> Awaitable[Delivery]:
        """Put a batch on the wire; returns an awaitable of its :class:`Delivery`.

        The engine publishes the next batches while earlier confirmations are pending.
        The default sends the whole batch before returning (no pipelining).
        """
        delivery = await self.async_send(messages)
        return _done(delivery)

    async def async_close(self) -> None:
        """Close the link."""

    async def async_consume(self, handler: DownlinkHandler, *, stop: asyncio.Event) -> None:
        """Hand downlink messages to ``handler`` until ``stop`` is set (ack after it returns)."""
        raise TransportError(f"the {self.name} transport has no downlink")


async def _done(delivery: Delivery) -> Delivery:
    return delivery


async def call_handler(
    handler: DownlinkHandler, subject: str, data: bytes, headers: dict[str, str]
) -> None:
    """Call a sync or async host callback."""
    result = handler(subject, data, headers)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result


class MemoryTransport(Transport):
    """Delivers into a list in memory: for notebooks and tests without a server.

    Attributes:
        delivered: Every delivered message, in order.
        online: Set to False to simulate a lost link (sends report ``disconnected``).
        reject_topics: Topics whose messages are rejected (dead-lettered).
    """

    name = "memory"

    def __init__(self) -> None:
        self.delivered: list[Message] = []
        self.online = True
        self.reject_topics: set[str] = set()
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected and self.online

    async def async_connect(self) -> None:
        if not self.online:
            raise TransportError("memory transport is offline")
        self._connected = True

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        if not self.online:
            self._connected = False
            return Delivery(failed=[m.id for m in messages], error="offline", disconnected=True)
        out = Delivery()
        for m in messages:
            if m.topic in self.reject_topics:
                out.rejected.append(m.id)
                out.reasons[m.id] = f"topic {m.topic!r} rejected"
            else:
                self.delivered.append(m)
                out.acked.append(m.id)
        return out

    async def async_close(self) -> None:
        self._connected = False


class DirectoryTransport(Transport):
    """Writes each batch atomically as one JSON file in a directory.

    The file appears under its final name only when complete (written to a temporary
    name, fsynced, renamed, directory fsynced), so another agent can pick files up
    as they appear. Names sort in delivery order:
    ``<unix time ns>-<first id>-<last id>.json``. A message that JSON cannot carry is
    rejected alone; the rest of its batch is written.

    Args:
        path: The outbox directory (created if missing).
        fsync: fsync each file and the directory before acking (survives a power cut).
    """

    name = "directory"

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InvalidInputError(f"{self.path} is not a directory")
        self.fsync = fsync
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def async_connect(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(f"cannot create {self.path}: {exc}") from exc
        self._connected = True

    def _write(self, messages: Sequence[Message], data: bytes) -> Path:
        name = f"{time.time_ns():020d}-{messages[0].id}-{messages[-1].id}.json"
        final = self.path / name
        tmp = self.path / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, final)
        if self.fsync:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return final

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        if not messages:
            return Delivery()
        data, good, refused = json_body(messages)
        if good:
            try:
                await asyncio.to_thread(self._write, good, data)
            except OSError as exc:
                self._connected = False
                ids = {m.id for m in good}
                return sort_out(messages, refused, ids, error=str(exc), disconnected=True)
        return sort_out(messages, refused, set())

    async def async_close(self) -> None:
        self._connected = False

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """The messages of every batch file in ``path``, in order (payloads decoded to bytes)."""
        out = []
        for file in sorted(Path(path).glob("*.json")):
            for m in json.loads(file.read_bytes())["messages"]:
                m["payload"] = base64.b64decode(m["payload"])
                out.append(m)
        return out
