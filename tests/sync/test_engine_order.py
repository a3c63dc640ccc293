"""SyncEngine keeps each topic in put order when batches fail: a retry keeps its place,
and nothing new goes out while batches sent before a failure are still on the wire."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from edgekit.sync import Backoff, MemoryTransport, SyncEngine, SyncQueue
from edgekit.sync.queue import Message
from edgekit.sync.transport import Delivery, sort_out

Outcome = Callable[[Message, int, int], str]  # (message, its send count, batch number) -> kind


class Pipelined(MemoryTransport):
    """A pipelined link: each message lands (once, by id) when its batch is published,
    unless ``outcome`` says ``"answer"`` (an error answer: counted) or ``"dies"`` (the
    link dies unnoticed: this batch and every one after it are lost, until the first
    lost batch's confirmation times out and the link is seen down). A confirmation
    comes ``lag`` seconds after its batch; a lost batch's ``lag`` x its rank later."""

    def __init__(self, outcome: Outcome, lag: float = 0.03) -> None:
        super().__init__()
        self.outcome = outcome
        self.lag = lag
        self.sends: dict[int, int] = {}
        self.batches = 0
        self.stored: list[tuple[str, bytes]] = []
        self.log: list[tuple[float, int, bytes, str]] = []  # (monotonic s, batch, payload, kind)
        self._landed: set[int] = set()
        self._lost = 0  # batches lost on the dead link so far (0: the link works)

    async def async_publish(self, messages: Sequence[Message]) -> Awaitable[Delivery]:
        self.batches += 1
        answered: set[int] = set()
        for m in messages:
            self.sends[m.id] = self.sends.get(m.id, 0) + 1
            kind = self.outcome(m, self.sends[m.id], self.batches)
            if kind == "dies" or self._lost:
                kind = "lost"
            self.log.append((time.monotonic(), self.batches, m.payload, kind))
            if kind == "answer":
                answered.add(m.id)
            elif kind == "ok" and m.id not in self._landed:
                self._landed.add(m.id)
                self.stored.append((m.topic, m.payload))
        lost = self.log[-1][3] == "lost"
        if lost:
            self._lost += 1
        rank = self._lost

        async def confirm() -> Delivery:
            if not lost:
                await asyncio.sleep(self.lag)
                return sort_out(messages, {}, answered, error="503" if answered else None)
            await asyncio.sleep(self.lag * rank)
            if self._lost:  # the first timeout: the link is seen down (and reconnects)
                self._lost = 0
                self._connected = False
            ids = [m.id for m in messages]
            return Delivery(failed=ids, error="no answer", disconnected=True)

        return confirm()


def _put(q: SyncQueue, n: int, topics: str = "ab") -> None:
    for i in range(n):
        for t in topics:
            q.put(b"%s%d" % (t.encode(), i), topic=t)


def _in_order(stored: list[tuple[str, bytes]], n: int, topics: str = "ab") -> None:
    for t in topics:
        got = [p for topic, p in stored if topic == t]
        assert got == [b"%s%d" % (t.encode(), i) for i in range(n)]


async def _drain(q: SyncQueue, transport: Pipelined, **kw: object) -> SyncEngine:
    engine = SyncEngine(q, transport, **kw)  # type: ignore[arg-type]
    assert await engine.async_drain(30) > 0
    await engine.async_close()
    return engine


async def test_a_counted_failure_keeps_its_place_and_holds_every_topic(queue: SyncQueue) -> None:
    """a3's first send gets an error answer: it is retried before a4 (a queue delay
    would have let a4 overtake it), after the retry backoff, with its attempt counted."""
    _put(queue, 10)

    def outcome(m: Message, sends: int, _batch: int) -> str:
        return "answer" if m.payload == b"a3" and sends == 1 else "ok"

    transport = Pipelined(outcome)
    retry = Backoff(initial=0.2, maximum=0.2, jitter=0.0)
    await _drain(queue, transport, batch_size=2, pipeline=1, retry=retry)
    _in_order(transport.stored, 10)
    assert len(transport.stored) == 20 and queue.stats().dead == 0
    failed_at, batch = next((t, b) for t, b, _p, kind in transport.log if kind == "answer")
    after = [(t, p) for t, b, p, _kind in transport.log if b > batch]
    assert after[0][1] == b"a3" and after[0][0] - failed_at >= 0.2  # nothing went meanwhile


async def test_nothing_new_goes_out_until_the_batches_on_the_wire_settle(
    queue: SyncQueue,
) -> None:
    """The link dies under batch 3 of a full pipeline: once batch 3's confirmation says
    so, the engine reconnects only after batch 4 has settled too, and sends them again
    before anything newer."""
    _put(queue, 12)

    def outcome(_m: Message, _sends: int, batch: int) -> str:
        return "dies" if batch == 3 else "ok"

    transport = Pipelined(outcome, lag=0.05)
    await _drain(queue, transport, batch_size=2, pipeline=4, reconnect=Backoff(0.001, 0.001))
    _in_order(transport.stored, 12)
    assert len(transport.stored) == 24


async def test_repeated_error_answers_keep_each_topic_in_order(queue: SyncQueue) -> None:
    """Every fifth batch is answered with an error (each of its messages, once): each
    topic still lands in order, every message once."""
    _put(queue, 30)

    def outcome(_m: Message, sends: int, batch: int) -> str:
        return "answer" if batch % 5 == 0 and sends == 1 else "ok"

    transport = Pipelined(outcome)
    await _drain(queue, transport, batch_size=3, pipeline=1, retry=Backoff(0.01, 0.02))
    _in_order(transport.stored, 30)
    assert len(transport.stored) == 60
