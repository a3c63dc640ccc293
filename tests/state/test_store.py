"""StateStore: the key-value API, subscriptions, replication primitives and strategies,
bad input, reopening. Every clock is one the test controls."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from edgekit.errors import EdgekitError, InvalidInputError, StateError
from edgekit.state import Change, ConflictPolicy, Entry, Hlc, StateStore

T0 = 1_700_000_000.0


class Fake:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Fake:
    return Fake()


@pytest.fixture
def store(tmp_path: Path, clock: Fake) -> Any:
    with StateStore(tmp_path / "s", node_id="edge1", clock=clock) as s:
        yield s


# -- the key-value API ---------------------------------------------------------------


def test_set_get_delete_round_trip(store: StateStore) -> None:
    e = store.set("cfg/rate", {"hz": 50, "on": True, "tags": ["a", "b"], "gain": 1.5})
    assert e.key == "cfg/rate" and e.node_id == "edge1" and not e.deleted
    assert store.get("cfg/rate") == {"hz": 50, "on": True, "tags": ["a", "b"], "gain": 1.5}
    assert store["cfg/rate"]["hz"] == 50 and "cfg/rate" in store
    assert store.get("missing") is None and store.get("missing", 7) == 7
    for value in (None, 0, -3, 2**70, "é ☃ \U0001f600", [], {}, False, 1e-300):
        store.set("v", value)
        assert store.get("v", "default") == value
    tomb = store.delete("cfg/rate")
    assert tomb is not None and tomb.deleted and tomb.hlc > e.hlc
    assert store.get("cfg/rate") is None and "cfg/rate" not in store
    assert store.entry("cfg/rate") == tomb  # the tombstone stays
    assert store.delete("cfg/rate") is None  # nothing left to delete
    with pytest.raises(KeyError):
        store["cfg/rate"]
    with pytest.raises(KeyError):
        del store["cfg/rate"]


def test_items_keys_len_and_prefixes(store: StateStore) -> None:
    store.update({"a/1": 1, "a/2": 2, "b/1": 3, "a2": 4})
    store.delete("a/2")
    assert store.keys() == ["a/1", "a2", "b/1"] and len(store) == 3
    assert store.keys("a/") == ["a/1"]
    assert store.items("a") == [("a/1", 1), ("a2", 4)]
    assert [e.key for e in store.entries("a/")] == ["a/1", "a/2"]
    assert [e.key for e in store.entries("a/", tombstones=False)] == ["a/1"]
    assert list(store) == ["a/1", "a2", "b/1"]
    s = store.stats()
    assert (s.keys, s.tombstones, s.pending, s.node_id) == (3, 1, 4, "edge1")
    assert s.as_dict()["durability"] == "process" and "<table" in s._repr_html_()


def test_update_is_one_transaction_all_or_nothing(store: StateStore) -> None:
    store.set("keep", 1)
    with pytest.raises(InvalidInputError, match="bad key"):
        store.update({"x": 1, "bad key": 2})
    with pytest.raises(InvalidInputError, match="'y'"):
        store.update({"x": 1, "y": {1, 2}})
    assert store.keys() == ["keep"] and len(store) == 1
    out = store.update({"x": 1, "y": 2}, delete=["keep", "never"])
    assert [(e.key, e.deleted) for e in out] == [("x", False), ("y", False), ("keep", True)]
    stamps = [e.hlc for e in out]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_stamps_increase_and_carry_the_node(store: StateStore, clock: Fake) -> None:
    a = store.set("k", 1)
    clock.t -= 3600  # the wall clock jumps back an hour
    b = store.set("k", 2)
    assert b.hlc > a.hlc and b.hlc.wall_ms == a.hlc.wall_ms


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a b",
        "ä",
        "a*",
        "a>",
        ".a",
        "a.",
        "/a",
        "a/",
        "a..b",
        "a//b",
        "_kv/x",
        "x" * 256,
        3,
        None,
        b"k",
    ],
)
def test_illegal_keys_are_refused(store: StateStore, key: Any) -> None:
    with pytest.raises(InvalidInputError, match="state key"):
        store.set(key, 1)
    assert len(store) == 0


def test_legal_keys(store: StateStore) -> None:
    for key in ("a", "A-Z_0.9=x/y", "x" * 255, "twin/pump-1/desired/speed"):
        store.set(key, 1)
        assert store.get(key) == 1


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (math.nan, "Out of range float"),
        (math.inf, "Out of range float"),
        ({"a": [1, -math.inf]}, "Out of range float"),
        ({1, 2}, "set"),
        (b"raw", "bytes"),
        (object(), "object"),
        ({"when": threading.Lock()}, "lock"),
    ],
)
def test_non_json_values_are_refused_naming_the_key(
    store: StateStore, value: Any, what: str
) -> None:
    with pytest.raises(InvalidInputError, match=f"'cfg/x'.*{what}") as err:
        store.set("cfg/x", value)
    assert isinstance(err.value, EdgekitError) and store.get("cfg/x") is None


def test_circular_values_are_refused(store: StateStore) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidInputError, match="'c'"):
        store.set("c", loop)


def test_oversize_values_are_refused(tmp_path: Path, clock: Fake) -> None:
    with StateStore(tmp_path / "s", max_value_bytes=100, clock=clock) as s:
        s.set("ok", "x" * 98)  # 100 bytes as JSON, with its quotes
        with pytest.raises(
            InvalidInputError, match="101 bytes as JSON, more than max_value_bytes=100"
        ):
            s.set("big", "x" * 99)
        assert "big" not in s


def test_json_conversions_are_json_s(store: StateStore) -> None:
    store.set("t", (1, 2, {"k": (3,)}))
    assert store.get("t") == [1, 2, {"k": [3]}]  # tuples come back as lists, as in JSON
    store.set("n", {1: "a"})
    assert store.get("n") == {"1": "a"}  # json writes number keys as strings


@pytest.mark.parametrize(
    "kwargs",
    [
        {"durability": "disk"},
        {"max_value_bytes": 0},
        {"tombstone_horizon_s": 0},
        {"node_id": "has space"},
        {"node_id": ""},
        {"conflict": "newest"},
        {"conflict": {"a/**": "lww", "b c": "lww"}},
        {"conflict": 3},
        {"max_conflicts": 0},
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        StateStore(tmp_path / "s", **kwargs)


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    s = StateStore(tmp_path / "s")
    s.set("a", 1)
    s.close()
    s.close()  # idempotent
    for call in (lambda: s.set("a", 2), lambda: s.get("a"), s.keys, s.pending, s.stats):
        with pytest.raises(StateError, match="closed"):
            call()


# -- reopening -------------------------------------------------------------------------


def test_reopen_keeps_data_node_id_and_clock(tmp_path: Path, clock: Fake) -> None:
    with StateStore(tmp_path / "s", clock=clock) as s:
        node = s.node_id
        assert len(node) == 12
        last = s.set("k", [1, 2]).hlc
        s.delete("gone")
    clock.t -= 86400  # the device rebooted with its clock a day behind
    with StateStore(tmp_path / "s", clock=clock) as s:
        assert s.node_id == node and s.get("k") == [1, 2]
        assert s.set("k2", 1).hlc > last
    with pytest.raises(StateError, match="belongs to node"):
        StateStore(tmp_path / "s", node_id="other")


def test_one_opener_at_a_time(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s"), pytest.raises(StateError, match="open in another"):
        StateStore(tmp_path / "s")
    StateStore(tmp_path / "s").close()  # free again once closed


def test_not_a_state_store(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="is a file"):
        StateStore(tmp_path / "file")
    from edgekit.sync import SyncQueue

    with SyncQueue(tmp_path / "queue") as q:
        q.put(b"m")
    (tmp_path / "queue" / "state.json").unlink(missing_ok=True)
    with pytest.raises(StateError, match="not an edgekit state store"):
        StateStore(tmp_path / "queue")


# -- subscriptions ---------------------------------------------------------------------


def test_subscribe_sees_local_and_remote_changes(store: StateStore) -> None:
    seen: list[Change] = []
    unsubscribe = store.subscribe(seen.append)
    store.set("a", 1)
    store.set("a", 2)
    store.delete("a")
    store.update({"b": 1})
    remote = Entry("c", "r", Hlc(int(T0 * 1000), 5), "edge2")
    store.apply_remote(remote, 1)
    assert [(c.entry.key, c.entry.value, c.origin) for c in seen] == [
        ("a", 1, "local"), ("a", 2, "local"), ("a", None, "local"),
        ("b", 1, "local"), ("c", "r", "remote"),
    ]  # fmt: skip
    assert seen[0].previous is None and seen[1].previous == seen[0].entry
    unsubscribe()
    unsubscribe()
    store.set("a", 3)
    assert len(seen) == 5


def test_a_failing_subscriber_does_not_fail_the_write(store: StateStore, caplog: Any) -> None:
    def bad(change: Change) -> None:
        raise RuntimeError("boom")

    store.subscribe(bad)
    store.set("a", 1)
    assert store.get("a") == 1 and "boom" in caplog.text


def test_batch_holds_notifications_until_it_ends(store: StateStore) -> None:
    seen: list[tuple[str, Any]] = []
    store.subscribe(lambda c: seen.append((c.entry.key, store.get("b"))))
    with store.batch():
        store.set("a", 1)
        with store.batch():
            store.set("b", 2)
        assert seen == []
    assert seen == [("a", 2), ("b", 2)]  # each delivered once the whole batch was in


def test_changes_async_iterator(store: StateStore) -> None:
    async def main() -> list[tuple[str, str]]:
        got: list[tuple[str, str]] = []

        async def consume() -> None:
            async for change in store.changes("x/"):
                got.append((change.entry.key, change.origin))

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        await asyncio.to_thread(store.set, "x/1", 1)  # from another thread
        store.set("y/1", 1)  # not under the prefix
        store.apply_remote(Entry("x/2", 2, Hlc(int(T0 * 1000), 1), "n2"), 3)
        await asyncio.sleep(0.01)
        store.close()  # ends the iterator
        await asyncio.wait_for(task, 5)
        return got

    assert asyncio.run(main()) == [("x/1", "local"), ("x/2", "remote")]


# -- replication primitives --------------------------------------------------------------


def h(ms: int, logical: int = 0) -> Hlc:
    return Hlc(int(T0 * 1000) + ms, logical)


def test_pending_until_marked_synced(store: StateStore) -> None:
    a = store.set("a", 1)
    b = store.set("b", 1)
    assert store.pending() == [a, b]  # handed to the replicator, which pushes them
    a2 = store.set("a", 2)
    assert [(e.key, e.value) for e in store.pending()] == [("b", 1), ("a", 2)]  # oldest first
    assert store.pending(1) == [b] and store.pending_count() == 2
    store.mark_synced("a", a.hlc, 10)  # an older write landed: "a" stays pending
    assert [e.key for e in store.pending()] == ["b", "a"]
    assert store.base("a") == (a, 10)
    store.mark_synced("a", a2.hlc, 11)
    store.mark_synced("b", b.hlc, 12)
    assert store.pending() == [] and store.base("a") == (a2, 11)
    assert store.base("never") == (None, 0)


def test_fast_forward_without_conflict(store: StateStore) -> None:
    mine = store.set("k", 1)
    store.mark_synced("k", mine.hlc, 1)
    theirs = Entry("k", 2, h(-5000), "edge2")  # an older clock, but a newer revision
    assert store.apply_remote(theirs, 2) == theirs
    assert store.get("k") == 2 and store.pending() == [] and store.conflicts() == []
    assert store.base("k") == (theirs, 2)
    # remote unchanged since the base, local changed: keep local, still pending
    mine2 = store.set("k", 3)
    assert store.apply_remote(theirs, 3) == mine2 and store.pending() == [mine2]
    # a stale revision changes nothing
    assert store.apply_remote(Entry("k", 9, h(99_000), "edge3"), 2) == mine2


def test_true_conflict_lww_and_the_log(store: StateStore, clock: Fake) -> None:
    base = store.set("k", "base")
    store.mark_synced("k", base.hlc, 1)
    clock.t += 1
    mine = store.set("k", "mine")
    theirs = Entry("k", "theirs", h(5000), "edge2")  # later
    result = store.apply_remote(theirs, 2)
    assert result == theirs and store.get("k") == "theirs" and store.pending() == []
    (c,) = store.conflicts()
    assert (c.key, c.strategy, c.base, c.local, c.remote, c.result, c.at) == (
        "k", "lww", base, mine, theirs, theirs, T0 + 1,
    )  # fmt: skip
    # local later: local stays and is pending (to push over the remote)
    clock.t += 10
    mine2 = store.set("k", "mine2")
    older = Entry("k", "older", h(6000), "edge2")
    assert store.apply_remote(older, 3) == mine2 and store.pending() == [mine2]
    assert store.stats().conflicts == {"lww": 2}


def test_own_earlier_write_echoed_is_no_conflict(store: StateStore) -> None:
    first = store.set("k", 1)
    second = store.set("k", 2)  # pushed 1, then wrote 2 before the echo of 1 came back
    assert store.apply_remote(first, 5) == second
    assert store.conflicts() == [] and store.pending() == [second]
    assert store.base("k") == (first, 5)


def test_remote_same_as_local_marks_it_synced(store: StateStore) -> None:
    mine = store.set("k", 1)
    assert store.apply_remote(mine, 4) == mine
    assert store.pending() == [] and store.base("k") == (mine, 4)


def test_remote_stamp_too_far_ahead_is_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match="ahead"):
        store.apply_remote(Entry("k", 1, h(3_600_000), "edge2"), 1)
    assert store.entry("k") is None


def test_remote_non_json_is_refused(store: StateStore) -> None:
    with pytest.raises(InvalidInputError):
        store.apply_remote(Entry("k", {1, 2}, h(0), "edge2"), 1)
    with pytest.raises(InvalidInputError):
        store.apply_remote(Entry("bad key", 1, h(0), "edge2"), 1)


def conflict_of(
    store: StateStore, key: str, local_v: Any, remote: Entry, *, cloud: bool = False
) -> Entry:
    """A true conflict on ``key``: synced base, then a local write, then ``remote``."""
    base = store.set(key, "base")
    store.mark_synced(key, base.hlc, 1)
    store.set(key, local_v)
    return store.apply_remote(remote, 2, cloud=cloud)


def test_strategies(tmp_path: Path, clock: Fake) -> None:
    def add(base: Any, local: Any, remote: Any) -> Any:  # a counter: both increments count
        return local + remote - base

    conflict = {
        "fww/*": "fww",
        "cloud/*": "cloud_wins",
        "edge/*": "edge_wins",
        "both/*": "keep_both",
        "count/*": add,
        "*": "lww",
    }
    with StateStore(tmp_path / "s", node_id="edge1", conflict=conflict, clock=clock) as s:

        def later() -> Hlc:  # a stamp after every stamp the store has seen
            return Hlc(max(s.clock.last.wall_ms, s.clock.physical_ms()) + 1000, 0)

        r = conflict_of(s, "fww/a", "mine", Entry("fww/a", "theirs", later(), "edge2"))
        assert r.value == "mine" and s.pending()[-1] == r  # the earlier write wins
        r = conflict_of(
            s, "cloud/a", "mine", Entry("cloud/a", "cloud", h(-9000), "cloud"), cloud=True
        )
        assert r.value == "cloud"  # a cloud write wins even when older
        r = conflict_of(s, "cloud/b", "mine", Entry("cloud/b", "edge2", h(-9000), "edge2"))
        assert r.value == "mine"  # not a cloud write: lww
        r = conflict_of(s, "edge/a", "mine", Entry("edge/a", "theirs", later(), "edge2"))
        assert r.value == "mine"
        r = conflict_of(s, "both/a", "mine", Entry("both/a", "theirs", later(), "edge2"))
        assert (r.value, r.siblings, r.node_id) == ("theirs", ("mine",), "edge2")
        assert s.get("both/a") == "theirs" and s.entry("both/a") == r
        s.set("both/a", "resolved")  # a later local write replaces the siblings
        assert s.entry("both/a").siblings == ()  # type: ignore[union-attr]
        base = s.set("count/a", 10)
        s.mark_synced("count/a", base.hlc, 1)
        s.set("count/a", 12)  # +2 here
        r = s.apply_remote(Entry("count/a", 15, later(), "edge2"), 2)  # +5 there
        assert r.value == 17 and r.node_id == "edge1" and r.hlc > s.base("count/a")[0].hlc
        assert [c.strategy for c in s.conflicts()] == [
            "fww", "cloud_wins", "cloud_wins", "edge_wins", "keep_both", "add",
        ]  # fmt: skip
        assert s.stats().conflicts["add"] == 1


def test_keep_both_is_symmetric() -> None:
    from edgekit.state.strategies import resolve

    base = Entry("k", 0, h(0), "n0")
    a = Entry("k", "a", h(10), "n1", siblings=("x",))
    b = Entry("k", "b", h(20), "n2")
    ab = resolve("keep_both", a, b, base, cloud=False, node_id="n1", stamp=lambda: h(30))[0]
    ba = resolve("keep_both", b, a, base, cloud=False, node_id="n2", stamp=lambda: h(30))[0]
    assert ab == ba == Entry("k", "b", h(20), "n2", False, ("a", "x"))


def test_lww_ties_break_on_node_id() -> None:
    from edgekit.state.strategies import resolve

    a, b = Entry("k", 1, h(0), "aaa"), Entry("k", 2, h(0), "bbb")
    assert resolve("lww", a, b, None, cloud=False, node_id="aaa", stamp=lambda: h(1))[0] == b
    assert resolve("lww", b, a, None, cloud=False, node_id="bbb", stamp=lambda: h(1))[0] == b


def test_conflict_log_is_bounded_and_persisted(tmp_path: Path, clock: Fake) -> None:
    with StateStore(tmp_path / "s", node_id="e1", clock=clock, max_conflicts=5) as s:
        for i in range(8):
            conflict_of(s, f"k{i}", i, Entry(f"k{i}", "r", h(10_000 + i), "e2"))
        assert [c.key for c in s.conflicts()] == ["k3", "k4", "k5", "k6", "k7"]
        assert [c.key for c in s.conflicts(2)] == ["k6", "k7"]
    with StateStore(tmp_path / "s", clock=clock, max_conflicts=5) as s:
        assert [c.key for c in s.conflicts()] == ["k3", "k4", "k5", "k6", "k7"]
        assert s.stats().conflicts == {"lww": 8}
        conflict_of(s, "k8", 8, Entry("k8", "r", h(20_000), "e2"))
        assert [c.key for c in s.conflicts()][-1] == "k8" and len(s.conflicts()) == 5


def test_patterns_most_specific_wins() -> None:
    p = ConflictPolicy(
        {
            "twin/*/desired/*": "cloud_wins",
            "twin/*/reported/*": "edge_wins",
            "twin/pump/**": "keep_both",
            "twin/pump/desired/speed": "fww",
            "cfg/?": "fww",
            "*": "lww",
        }
    )
    assert p.strategy_for("twin/fan/desired/on") == "cloud_wins"
    assert p.strategy_for("twin/fan/reported/on") == "edge_wins"
    assert p.strategy_for("twin/fan/desired/a/b") == "lww"  # * stays within a segment
    assert p.strategy_for("twin/pump/desired/on") == "keep_both"  # longer literal prefix
    assert p.strategy_for("twin/pump/desired/speed") == "fww"
    assert p.strategy_for("cfg/a") == "fww" and p.strategy_for("cfg/ab") == "lww"
    assert ConflictPolicy("fww").strategy_for("anything") == "fww"
    assert ConflictPolicy({"a/*": "fww"}).strategy_for("b") == "lww"


# -- tombstones ----------------------------------------------------------------------------


def test_tombstones_collected_past_the_horizon_once_synced(tmp_path: Path, clock: Fake) -> None:
    with StateStore(tmp_path / "s", clock=clock, tombstone_horizon_s=100) as s:
        s.set("a", 1)
        s.set("b", 1)
        ta = s.delete("a")
        s.delete("b")
        assert ta is not None
        s.mark_synced("a", ta.hlc, 3)  # "b"'s delete never reached the remote
        clock.t += 50
        assert s.collect_tombstones() == 0
        clock.t += 51
        assert s.collect_tombstones() == 1
        assert s.entry("a") is None and s.base("a") == (None, 3)
        assert s.apply_remote(ta, 3) == ta and s.entry("a") is None  # old news: not back
        assert s.entry("b") is not None and s.entry("b").deleted  # type: ignore[union-attr]
        assert s.stats().tombstones == 1


@pytest.mark.parametrize("durability", ["none", "power"])
def test_other_durabilities(tmp_path: Path, clock: Fake, durability: Any) -> None:
    with StateStore(tmp_path / "s", durability=durability, clock=clock) as s:
        s.set("a", 1)
        s.sync()
        assert s.stats().durability == durability
    with StateStore(tmp_path / "s", clock=clock) as s:
        assert s.get("a") == 1


def test_the_map_grows(tmp_path: Path, clock: Fake) -> None:
    with StateStore(tmp_path / "s", clock=clock) as s:
        before = s.stats().map_bytes
        s.update({f"big/{i}": "x" * 200_000 for i in range(40)})  # 8 MB in one transaction
        for i in range(40):
            s.set(f"one/{i}", "y" * 100_000)
        after = s.stats()
        assert after.map_bytes > before and after.keys == 80
    with StateStore(tmp_path / "s", clock=clock) as s:
        assert s.get("big/39") == "x" * 200_000 and len(s) == 80


def test_causally_later_write_wins_over_a_node_30_s_ahead(tmp_path: Path) -> None:
    """A node whose clock is 30 s ahead writes; another node sees it and writes after:
    under lww the later write wins on both, whatever the clocks say."""
    ahead, behind = Fake(T0 + 30), Fake(T0)
    with (
        StateStore(tmp_path / "a", node_id="ahead", clock=ahead) as a,
        StateStore(tmp_path / "b", node_id="behind", clock=behind) as b,
    ):
        first = a.set("k", "from ahead")
        a.mark_synced("k", first.hlc, 1)
        b.apply_remote(first, 1)  # b sees it ...
        later = b.set("k", "from behind")  # ... then writes: its stamp is the greater
        assert later.hlc > first.hlc
        assert a.apply_remote(later, 2).value == "from behind"  # a fast-forwards
        # concurrent writes (neither saw the other): the higher stamp wins on both sides
        x = a.set("c", "a")
        y = b.set("c", "b")
        assert b.apply_remote(x, 3).value == a.apply_remote(y, 3).value == "a"
        assert x.hlc > y.hlc


def test_threads_write_at_once(store: StateStore) -> None:
    def work(t: int) -> None:
        for i in range(300):
            store.set(f"t{t}/{i % 50}", i)
            if i % 7 == 0:
                store.delete(f"t{t}/{(i + 1) % 50}")
            store.get(f"t{t}/{i % 50}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    entries = store.entries()
    stats = store.stats()
    assert stats.keys == len(store.keys()) and stats.keys + stats.tombstones == len(entries)
    assert stats.pending == len(entries)
    stamps = [e.hlc for e in entries]
    assert len(set(stamps)) == len(stamps)  # every write its own stamp


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_any_json_value_round_trips(store: StateStore, value: Any) -> None:
    store.set("v", value)
    assert store.get("v") == value
    assert store.entry("v").value == value  # type: ignore[union-attr]


def test_a_failing_merge_stores_nothing(tmp_path: Path, clock: Fake) -> None:
    def broken(base: Any, local: Any, remote: Any) -> Any:
        raise ValueError("no")

    def non_json(base: Any, local: Any, remote: Any) -> Any:
        return {1, 2}

    with StateStore(tmp_path / "s", conflict={"b/*": broken, "n/*": non_json}, clock=clock) as s:
        for key, what in (("b/x", "failed: ValueError"), ("n/x", "does not encode")):
            with pytest.raises(StateError, match=what):
                conflict_of(s, key, "mine", Entry(key, "theirs", h(1000), "edge2"))
            assert s.get(key) == "mine" and s.base(key)[1] == 1 and s.conflicts() == []
