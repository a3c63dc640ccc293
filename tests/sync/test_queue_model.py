"""A rule-based state machine: SyncQueue against a plain Python model, on a fake clock."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import edgekit.sync.queue as queue_module
from edgekit.sync import SyncQueue

MAX_ATTEMPTS = 3
VT = 10.0  # visibility timeout, fake seconds

TOPICS = st.sampled_from(["a", "b", "c"])


@dataclass
class Model:
    payload: bytes
    topic: str
    priority: int
    state: str = "ready"  # ready | inflight | dead
    attempts: int = 0
    deadline: int = 0  # microseconds, as the queue's clock


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="edgekit-sm-"))
        self.clock = 1_000_000.0
        self.q = SyncQueue(self.dir / "q", max_attempts=MAX_ATTEMPTS, clock=lambda: self.clock)
        self.model: dict[int, Model] = {}
        self.leased: dict[int, int] = {}  # id -> lease token

    def teardown(self) -> None:
        self.q.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _promote(self) -> None:
        for m in self.model.values():
            if m.state == "inflight" and m.deadline <= int(self.clock * 1e6):
                m.state = "dead" if m.attempts >= MAX_ATTEMPTS else "ready"

    @rule(payload=st.binary(max_size=40), topic=TOPICS, priority=st.integers(-2, 2))
    def put(self, payload: bytes, topic: str, priority: int) -> None:
        mid = self.q.put(payload, topic=topic, priority=priority)
        assert mid not in self.model
        self.model[mid] = Model(payload, topic, priority)

    @rule(
        payloads=st.lists(st.binary(max_size=20), min_size=1, max_size=5),
        topic=TOPICS,
        priority=st.integers(-2, 2),
    )
    def put_many(self, payloads: list[bytes], topic: str, priority: int) -> None:
        ids = self.q.put_many(payloads, topic=topic, priority=priority)
        for mid, p in zip(ids, payloads, strict=True):
            self.model[mid] = Model(p, topic, priority)

    @rule(n=st.integers(1, 6), topic=st.one_of(st.none(), TOPICS))
    def lease(self, n: int, topic: str | None) -> None:
        self._promote()
        ready = sorted(
            (
                mid
                for mid, m in self.model.items()
                if m.state == "ready" and topic in (None, m.topic)
            ),
            key=lambda mid: (-self.model[mid].priority, mid),
        )
        expected = ready[:n]
        got = self.q.lease(n, topic=topic, visibility_timeout=VT)
        assert [m.id for m in got] == expected
        for msg in got:
            m = self.model[msg.id]
            assert msg.payload == m.payload and msg.topic == m.topic
            # (lease deadlines are even microseconds: retry deadlines are odd)
            deadline = (int(self.clock * 1e6) + int(VT * 1e6)) & ~1
            m.state, m.attempts, m.deadline = "inflight", m.attempts + 1, deadline
            assert msg.attempt == m.attempts
            self.leased[msg.id] = msg.lease_token

    @precondition(lambda self: self.leased)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        mid = data.draw(st.sampled_from(sorted(self.leased)))
        token = self.leased.pop(mid)
        m = self.model.get(mid)
        live = m is not None and m.state == "inflight" and m.deadline == token
        msg = queue_module.Message(id=mid, payload=b"", topic="", lease_token=token)
        assert self.q.ack([msg]) == (1 if live else 0)
        if live:
            del self.model[mid]

    @precondition(lambda self: self.leased)
    @rule(data=st.data())
    def nack(self, data: st.DataObject) -> None:
        mid = data.draw(st.sampled_from(sorted(self.leased)))
        token = self.leased.pop(mid)
        m = self.model.get(mid)
        live = m is not None and m.state == "inflight" and m.deadline == token
        msg = queue_module.Message(id=mid, payload=b"", topic="", lease_token=token)
        assert self.q.nack([msg], delay=0) == (1 if live else 0)
        if live:
            assert m is not None
            m.state = "dead" if m.attempts >= MAX_ATTEMPTS else "ready"

    @rule()
    def expire(self) -> None:
        self.clock += VT + 1

    @rule(dt=st.floats(0.0, 5.0))
    def tick(self, dt: float) -> None:
        self.clock += dt

    @rule()
    def reopen(self) -> None:
        self.q.close()
        self.q = SyncQueue(self.dir / "q", max_attempts=MAX_ATTEMPTS, clock=lambda: self.clock)

    @precondition(lambda self: any(m.state == "dead" for m in self.model.values()))
    @rule()
    def requeue_dead(self) -> None:
        dead = [mid for mid, m in self.model.items() if m.state == "dead"]
        assert sorted(m.id for m in self.q.dead_letters(1000)) == dead
        assert self.q.requeue_dead() == len(dead)
        for mid in dead:
            self.model[mid].state, self.model[mid].attempts = "ready", 0

    @invariant()
    def counts_match(self) -> None:
        stats = self.q.stats()
        dead = sum(m.state == "dead" for m in self.model.values())
        assert len(self.q) == len(self.model) - dead == stats.depth
        assert stats.in_flight + stats.ready + stats.delayed == stats.depth
        if stats.depth == 0 and dead == 0:
            assert stats.stored_bytes == 0 and stats.topics == {}


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
