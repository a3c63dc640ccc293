"""StateStore.apply_remote_many: the same as apply_remote one entry after the other (same
results and errors, same final store, conflict log and notifications), in one transaction.
Every clock is one the test controls."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from edgekit.errors import EdgekitError, InvalidInputError, StateError
from edgekit.state import Change, Entry, Hlc, StateStore

T0 = 1_700_000_000.0
T0_MS = int(T0 * 1000)
KEYS = ["a", "b", "both/c", "m/d"]


class Fake:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def merge(base: Any, local: Any, remote: Any) -> Any:
    """A merge callable that fails on one remote value (an error for that entry only)."""
    if remote == 13:
        raise ValueError("13 does not merge")
    return [local, remote]


CONFLICT = {"both/*": "keep_both", "m/*": merge, "*": "lww"}


def open_store(path: Path, clock: Fake | None = None) -> StateStore:
    return StateStore(path, node_id="edge1", conflict=CONFLICT, clock=clock or Fake())


remotes = st.builds(
    lambda key, value, deleted, ms, logical, node, rev, cloud: (
        Entry(key, None if deleted else value, Hlc(T0_MS + ms, logical), node, deleted),
        rev,
        cloud,
    ),
    st.sampled_from([*KEYS, "bad key"]),
    st.one_of(st.integers(0, 20), st.text(max_size=3), st.just({"x": [1, 2]})),
    st.booleans(),
    st.one_of(st.integers(-5000, 5000), st.just(400_000)),  # (400 s ahead: refused)
    st.integers(0, 2),
    st.sampled_from(["edge1", "n2", "n3"]),
    st.integers(0, 12),
    st.booleans(),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEYS), st.integers(0, 20)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
        st.tuples(st.just("synced"), st.sampled_from(KEYS), st.integers(1, 12)),
        st.tuples(st.just("tick"), st.none(), st.integers(1, 3000)),
        st.tuples(st.just("remote"), st.none(), st.lists(remotes, max_size=8)),
    ),
    max_size=12,
)


def outcome(result: Entry | EdgekitError) -> Any:
    return (type(result).__name__, str(result)) if isinstance(result, EdgekitError) else result


def view(store: StateStore) -> Any:
    return (
        store.entries(),
        [c.as_dict() for c in store.conflicts()],
        store.pending(),
        [(store.base(k), store.base_revision(k)) for k in KEYS],
        {k: v for k, v in store.stats().as_dict().items() if k != "used_bytes"},
        store.clock.last,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_many_is_one_by_one(script: list[tuple[str, Any, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Fake()  # (one clock: both stores see the same time)
        many, single = (
            open_store(Path(tmp) / "many", clock),
            open_store(Path(tmp) / "single", clock),
        )
        heard: dict[str, list[Change]] = {"many": [], "single": []}
        many.subscribe(heard["many"].append)
        single.subscribe(heard["single"].append)
        try:
            for op, key, arg in script:
                if op == "tick":
                    clock.t += arg / 1000
                    continue
                if op == "remote":
                    got = many.apply_remote_many(arg)
                    want: list[Entry | EdgekitError] = []
                    for remote, rev, cloud in arg:
                        try:
                            want.append(single.apply_remote(remote, rev, cloud=cloud))
                        except EdgekitError as exc:
                            want.append(exc)
                    assert [outcome(r) for r in got] == [outcome(r) for r in want]
                    continue
                for s in (many, single):
                    if op == "set":
                        s.set(key, arg)
                    elif op == "delete":
                        s.delete(key)
                    elif (e := s.entry(key)) is not None:
                        s.mark_synced(key, e.hlc, arg)
            assert view(many) == view(single)
            assert heard["many"] == heard["single"]
        finally:
            many.close()
            single.close()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(tmp_path / "s") as s:
        yield s


def test_one_transaction_errors_per_entry_notifications_after_commit(store: StateStore) -> None:
    seen: list[tuple[str, Any]] = []
    # a subscriber reading the store sees the whole burst in: the changes come after the commit
    store.subscribe(lambda c: seen.append((c.entry.key, store.get("b"))))
    results = store.apply_remote_many(
        [
            (Entry("a", 1, Hlc(T0_MS, 0), "n2"), 1),
            (Entry("a", 2, Hlc(T0_MS + 400_000, 0), "n2"), 2),  # too far ahead
            (Entry("bad key", 2, Hlc(T0_MS, 0), "n2"), 3),
            (Entry("b", 3, Hlc(T0_MS, 1), "cloud"), 4, True),
            (Entry("a", 4, Hlc(T0_MS, 2), "n3"), 5),
        ],
        cloud=False,
    )
    assert isinstance(results[1], StateError) and "ahead" in str(results[1])
    assert isinstance(results[2], InvalidInputError)
    assert [r.value for r in results if isinstance(r, Entry)] == [1, 3, 4]
    assert store.get("a") == 4 and store.get("b") == 3
    assert store.base("a")[1] == store.base_revision("a") == 5 and store.base_revision("c") == 0
    assert seen == [("a", 3), ("b", 3), ("a", 3)]
    assert store.apply_remote_many([]) == []
    bad = store.apply_remote_many([(Entry("bad key", 1, Hlc(0, 0), "n"), 1)])
    assert [type(r) for r in bad] == [InvalidInputError]
