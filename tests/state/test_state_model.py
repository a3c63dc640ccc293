"""Three replicas against a model, through an in-process bucket.

A hypothesis state machine writes, deletes and increments keys on three ``StateStore``s
(each on its own fake clock, one 30 s ahead), partitions and heals them, reopens them,
and lets a "cloud" client write straight into the bucket. The bucket is a dict playing
NATS KeyValue: a revision per write and compare-and-set on it. A replica syncs through
``pending()`` / ``apply_remote()`` / ``mark_synced()`` as StateSync does. After every
heal all replicas and the bucket hold identical entries, and each key holds what its
strategy says: an ``lww`` key the write with the highest (HLC, node), a counter merged by
a callable every increment made anywhere.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from edgekit.state import Entry, Hlc, StateStore

T0 = 1_700_000_000.0
NODES = ("n0", "n1", "n2")
SKEW = (0.0, 0.0, 30.0)  # n2's clock runs 30 s ahead


def add(base: Any, local: Any, remote: Any) -> Any:
    """A counter's merge: both sides' increments count."""
    return (local or 0) + (remote or 0) - (base or 0)


CONFLICT = {
    "fww/*": "fww",
    "both/*": "keep_both",
    "cloud/*": "cloud_wins",
    "count/*": add,
    "*": "lww",
}
LWW_KEYS = ["lww/a", "lww/b"]
KEYS = st.sampled_from(["lww/a", "lww/b", "fww/a", "both/a", "cloud/x"])
VALUES = st.one_of(st.integers(0, 9), st.text("xyz", max_size=2), st.none())
REPLICA = st.integers(0, 2)


@dataclass
class Slot:
    revision: int
    entry: Entry
    cloud: bool


class Bucket:
    """NATS KeyValue in a dict: a revision per write, compare-and-set on it."""

    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}
        self.revision = 0

    def update(self, entry: Entry, last: int, cloud: bool = False) -> int | None:
        """Write ``entry`` if the key is at revision ``last`` (0: absent); its new revision."""
        slot = self.slots.get(entry.key)
        if (slot.revision if slot else 0) != last:
            return None
        self.revision += 1
        self.slots[entry.key] = Slot(self.revision, entry, cloud)
        return self.revision


def sync_once(store: StateStore, bucket: Bucket) -> bool:
    """Pull what the bucket holds, then push pending entries with CAS; True when anything
    moved."""
    moved = False
    with store.batch():
        for key, slot in sorted(bucket.slots.items()):
            if slot.revision > store.base(key)[1]:
                store.apply_remote(slot.entry, slot.revision, cloud=slot.cloud)
                moved = True
    for entry in store.pending():
        _, last = store.base(entry.key)
        revision = bucket.update(entry, last)
        if revision is None:  # lost the CAS: merge the bucket's entry, push next round
            slot = bucket.slots[entry.key]
            store.apply_remote(slot.entry, slot.revision, cloud=slot.cloud)
        else:
            store.mark_synced(entry.key, entry.hlc, revision)
        moved = True
    return moved


def visible(entries: list[Entry]) -> list[tuple[Any, ...]]:
    return [(e.key, e.value, e.deleted, e.siblings, tuple(e.hlc), e.node_id) for e in entries]


class Replicas(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="edgekit-state-model-"))
        self.clocks = [T0 + s for s in SKEW]
        self.cloud_ms = int(T0 * 1000)
        self.stores = [self._open(i) for i in range(3)]
        self.bucket = Bucket()
        self.cut: set[int] = set()
        self.writes: dict[str, list[Entry]] = {}  # every write of an lww key, anywhere
        self.increments = 0

    def _open(self, i: int) -> StateStore:
        return StateStore(
            self.root / NODES[i], node_id=NODES[i], conflict=CONFLICT, clock=lambda: self.clocks[i]
        )

    def teardown(self) -> None:
        for s in self.stores:
            s.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _record(self, entry: Entry | None) -> None:
        if entry is not None and entry.key in LWW_KEYS:
            self.writes.setdefault(entry.key, []).append(entry)

    @rule(i=REPLICA, key=KEYS, value=VALUES)
    def write(self, i: int, key: str, value: Any) -> None:
        entry = self.stores[i].set(key, value)
        assert self.stores[i].get(key, "absent") == value
        self._record(entry)

    @rule(i=REPLICA, key=KEYS)
    def delete(self, i: int, key: str) -> None:
        self._record(self.stores[i].delete(key))
        assert key not in self.stores[i]

    @rule(i=REPLICA)
    def increment(self, i: int) -> None:
        s = self.stores[i]
        s.set("count/a", s.get("count/a", 0) + 1)
        self.increments += 1

    @rule(value=VALUES)
    def cloud_write(self, value: Any) -> None:
        """A client that is not edgekit overwrites a key in the bucket (stamped with the
        server's time, which may be behind an edge's stamps: it still comes after what it
        overwrote, so the edges fast-forward to it)."""
        self.cloud_ms += 1
        entry = Entry("cloud/x", value, Hlc(self.cloud_ms, 0), "cloud")
        slot = self.bucket.slots.get("cloud/x")
        self.bucket.update(entry, slot.revision if slot else 0, cloud=True)

    @rule(i=REPLICA, dt=st.floats(0, 2))
    def tick(self, i: int, dt: float) -> None:
        self.clocks[i] += dt
        self.cloud_ms = max(self.cloud_ms, int(min(self.clocks) * 1000))

    @rule(i=REPLICA)
    def partition(self, i: int) -> None:
        self.cut.add(i)

    @precondition(lambda self: len(self.cut) < 3)
    @rule(i=REPLICA)
    def sync(self, i: int) -> None:
        if i not in self.cut:
            sync_once(self.stores[i], self.bucket)

    @rule(i=REPLICA)
    def reopen(self, i: int) -> None:
        self.stores[i].close()
        self.stores[i] = self._open(i)

    @rule()
    def heal(self) -> None:
        self.cut.clear()
        for _ in range(12):
            if not any([sync_once(s, self.bucket) for s in self.stores]):
                break
        else:
            raise AssertionError("the replicas did not settle in 12 rounds")
        self.check_converged()

    def check_converged(self) -> None:
        states = [visible(s.entries()) for s in self.stores]
        assert states[0] == states[1] == states[2], "replicas differ after heal"
        bucket = visible([slot.entry for _, slot in sorted(self.bucket.slots.items())])
        assert states[0] == bucket, "the replicas differ from the bucket"
        assert all(s.pending() == [] for s in self.stores)
        for key, writes in self.writes.items():
            winner = max(writes, key=lambda e: (e.hlc, e.node_id))
            held = self.stores[0].entry(key)
            assert held is not None
            assert (held.value, held.deleted, held.hlc) == (
                winner.value,
                winner.deleted,
                winner.hlc,
            ), key
        assert self.stores[0].get("count/a", 0) == self.increments

    @invariant()
    def writes_that_returned_are_visible_until_replaced(self) -> None:
        for s in self.stores:
            assert len(s) == len(s.keys())


TestReplicas = Replicas.TestCase
TestReplicas.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)


@pytest.mark.slow
class TestReplicasLong(Replicas.TestCase):  # type: ignore[name-defined,misc]
    settings = settings(max_examples=400, stateful_step_count=60, deadline=None)
