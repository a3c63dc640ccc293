"""Dead letters you can act on: reasons, last errors, quarantined records, per-id requeue
and delete (issues #19.1 and #20.7), through the API and the ``edgekit queue`` CLI."""

from __future__ import annotations

import os
from pathlib import Path

import lmdb
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from edgekit._cli import main
from edgekit.sync import SyncQueue
from edgekit.sync.queue._layout import CHECKSUM_SIZE, HEADER_SIZE


class Clock:
    """A wall clock the test moves."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_reasons_and_last_errors(tmp_path: Path) -> None:
    clock = Clock()
    with SyncQueue(tmp_path / "q", max_attempts=2, clock=clock) as q:
        q.put_many([b"m%d" % i for i in range(4)], topic="t")
        m = q.lease(4)
        assert q.reject(m[0], reason="bad subject 'a b'") == 1
        q.nack(m[1], delay=0, error="timeout")  # remembered ...
        q.nack(m[2], delay=0, error="first")
        q.ack(m[3])
        m = q.lease(4)
        assert [x.id for x in m] == [2, 3]
        q.nack(m[1], error="second")  # max_attempts reached: dies with this error
        clock.t += 60  # m[0]'s lease expires on the next lease: dies with "timeout"
        assert q.lease(4) == []
        dead = {d.id: d for d in q.dead_letters()}
        assert dead[1].dead_reason == "bad subject 'a b'" and dead[1].last_error is None
        assert dead[3].dead_reason == "max_attempts (2) reached"
        assert dead[3].last_error == "second"
        assert dead[2].dead_reason == "max_attempts (2) reached: the last lease expired"
        assert dead[2].last_error == "timeout"
        assert dead[1].dead_at == clock.t - 60 and dead[2].dead_at == clock.t
        assert all(d.payload == b"m%d" % (d.id - 1) for d in dead.values())
        # Elsewhere the fields stay None.
        q.put(b"live", topic="t")
        assert q.peek(1)[0].dead_reason is None and q.lease(1)[0].last_error is None


def test_default_reject_reason_and_acked_errors_leave_nothing(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        q.put_many([b"a", b"b"])
        m = q.lease(2)
        q.nack(m, delay=0, error="503")
        m = q.lease(2)
        q.ack(m[0])
        q.reject(m[1])
        (d,) = q.dead_letters()
        assert (d.payload, d.dead_reason, d.last_error) == (b"b", "rejected", "503")
    env = lmdb.open(str(tmp_path / "q"), max_dbs=16)
    with env.begin() as txn:
        errors = env.open_db(b"errors", txn=txn, create=False)
        assert txn.stat(errors)["entries"] == 0  # acked and dead messages leave no error
    env.close()


def test_per_id_requeue_and_delete(queue: SyncQueue) -> None:
    queue.put_many([b"good 0", b"poison", b"good 1"], topic="t")
    queue.reject(queue.lease(3), reason="refused")
    assert queue.requeue_dead([1, 3]) == 2
    assert [m.payload for m in queue.dead_letters()] == [b"poison"]
    assert queue.delete_dead([2, 99]) == 1
    stats = queue.stats()
    assert (stats.dead, stats.ready, queue.dead_letters()) == (0, 2, [])
    assert [m.payload for m in queue.lease(5)] == [b"good 0", b"good 1"]


def test_dead_letters_of_an_older_queue_read(tmp_path: Path) -> None:
    """Format-2 queues written before reasons were stored have empty ``dead`` values."""
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x")
        q.reject(q.lease(1), reason="why")
    env = lmdb.open(str(tmp_path / "q"), max_dbs=16)
    with env.begin(write=True) as txn:
        dead = env.open_db(b"dead", txn=txn)
        txn.put((1).to_bytes(8, "big"), b"", db=dead)
    env.close()
    with SyncQueue(tmp_path / "q") as q:
        (d,) = q.dead_letters()
        assert (d.payload, d.dead_reason, d.last_error, d.dead_at) == (b"x", None, None, None)
        assert q.requeue_dead() == 1 and q.lease(1)[0].payload == b"x"


def _tamper(path: Path, seq: int) -> None:
    """Flip the last byte of message ``seq``'s body (its AES-GCM tag when encrypted)."""
    env = lmdb.open(str(path), max_dbs=16)
    with env.begin(write=True) as txn:
        key = b"\xff" + seq.to_bytes(8, "big")
        record = bytearray(txn.get(key))
        record[-1 - CHECKSUM_SIZE] ^= 0xFF
        txn.put(key, bytes(record))
    env.close()


def test_quarantined_records_are_listed_and_deletable(tmp_path: Path) -> None:
    key = os.urandom(32)
    path = tmp_path / "q"
    with SyncQueue(path, encryption_key=key) as q:
        q.put_many([b"a", b"b", b"c"], topic="sensors")
    _tamper(path, 2)
    with SyncQueue(path, encryption_key=key) as q:
        assert [m.payload for m in q.lease(10)] == [b"a", b"c"]
        (d,) = q.dead_letters()
        assert d.id == 2 and d.topic == "sensors" and d.payload == b""
        assert d.dead_reason is not None and d.dead_reason.startswith("corrupt record: ")
        assert d.dead_reason == "corrupt record: checksum mismatch"
        stats = q.stats()
        assert stats.dead == 1 and stats.topics == {"sensors": (2, stats.topics["sensors"][1])}
        assert q.requeue_dead() == 0  # it cannot be delivered
        assert q.delete_dead([2]) == 1 and q.stats().dead == 0 and q.dead_letters() == []


def test_cli_dead_requeue_and_delete_per_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "q"
    with SyncQueue(path, max_attempts=1) as q:
        q.put_many([b"a", b"b", b"c"], topic="cli")
        m = q.lease(3)
        q.reject(m[0], reason="bad subject")
        q.nack(m[1:], error="HTTP 503")
    assert main(["queue", "dead", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["1", "cli", "attempts=1", "reason=bad subject", "last_error=-"]
    assert lines[1].split("\t")[3:] == ["reason=max_attempts (1) reached", "last_error=HTTP 503"]
    assert main(["queue", "requeue-dead", str(path), "--id", "2"]) == 0
    assert "requeued 1 dead letters" in capsys.readouterr().out
    assert main(["queue", "delete-dead", str(path)]) == 2  # neither --id nor --all
    assert "--all" in capsys.readouterr().err
    assert main(["queue", "delete-dead", str(path), "--id", "1"]) == 0
    assert "deleted 1 dead letters" in capsys.readouterr().out
    assert main(["queue", "delete-dead", str(path), "--all"]) == 0
    assert "deleted 1 dead letters" in capsys.readouterr().out
    assert main(["queue", "dead", str(path)]) == 0
    assert "(no dead letters)" in capsys.readouterr().out
    with SyncQueue(path) as q:
        assert [m.payload for m in q.lease(5)] == [b"b"] and q.stats().dead == 0


class DeadLetterMachine(RuleBasedStateMachine):
    """Per-id requeue and delete keep the counters equal to what is there."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = tempfile.mkdtemp()
        self.q = SyncQueue(Path(self.dir) / "q", max_attempts=1)
        self.live: set[int] = set()
        self.dead: set[int] = set()

    def teardown(self) -> None:
        import shutil

        self.q.close()
        shutil.rmtree(self.dir)

    @rule(n=st.integers(1, 4))
    def put(self, n: int) -> None:
        self.live.update(self.q.put_many([b"p"] * n, topic="t"))

    @rule(n=st.integers(1, 4), kill=st.booleans())
    def lease_and_fail(self, n: int, kill: bool) -> None:
        leased = self.q.lease(n)
        if kill:
            self.q.reject(leased, reason="r")
        else:
            self.q.nack(leased, error="e")  # max_attempts=1: dead as well
        ids = {m.id for m in leased}
        self.live -= ids
        self.dead |= ids

    @rule(data=st.data())
    def requeue_some(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.dead | {0})), max_size=3))
        done = self.q.requeue_dead(ids)
        assert done == len(set(ids) & self.dead)
        self.live |= set(ids) & self.dead
        self.dead -= set(ids)

    @rule(data=st.data())
    def delete_some(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.dead | {0})), max_size=3))
        assert self.q.delete_dead(ids) == len(set(ids) & self.dead)
        self.dead -= set(ids)

    @invariant()
    def counters_match(self) -> None:
        stats = self.q.stats()
        assert (len(self.q), stats.dead) == (len(self.live), len(self.dead))
        assert {d.id for d in self.q.dead_letters(1000)} == self.dead
        record = HEADER_SIZE + 1 + 1 + CHECKSUM_SIZE  # header, topic "t", payload "p", sum
        assert stats.stored_bytes == (len(self.live) + len(self.dead)) * record


TestDeadLetterMachine = DeadLetterMachine.TestCase
TestDeadLetterMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
