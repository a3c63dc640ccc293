"""Hybrid logical clock properties (Kulkarni et al. 2014), on clocks the tests control."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from edgekit.errors import StateError
from edgekit.state import Hlc, HlcClock

T0 = 1_700_000_000.0  # a fixed epoch second: no test reads the wall clock


class Fake:
    """A physical clock a test moves (it may jump back)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# One step: the physical clock moves by dt seconds (back too), then a local event or the
# receipt of a remote stamp at most 10 s ahead of it.
steps = st.lists(
    st.tuples(
        st.floats(-5, 5, allow_nan=False),
        st.one_of(
            st.none(),
            st.tuples(st.integers(-60_000, 10_000), st.integers(0, 50)),
        ),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(steps)
def test_stamps_strictly_increase_and_follow_what_was_observed(run: list) -> None:
    phys = Fake()
    clock = HlcClock(phys, max_drift_s=30)
    last = Hlc(0, 0)
    seen_ms = 0  # the largest physical time seen, here or in a remote stamp
    for dt, remote in run:
        phys.t += dt
        seen_ms = max(seen_ms, int(phys.t * 1000))
        if remote is None:
            stamp = clock.now()
        else:
            r = Hlc(int(phys.t * 1000) + remote[0], remote[1])
            seen_ms = max(seen_ms, r.wall_ms)
            stamp = clock.observe(r)
            assert stamp > r  # causality: the receive event comes after the send
        assert stamp > last  # monotonic, whatever the physical clock did
        # The physical part never falls behind the physical clock, and never runs
        # ahead of the largest physical time seen (here, the 10 s a remote may lead).
        assert int(phys.t * 1000) <= stamp.wall_ms <= seen_ms
        last = stamp


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.floats(0, 1, allow_nan=False))
def test_logical_counter_stays_bounded_while_the_clock_stalls(n: int, dt: float) -> None:
    phys = Fake()
    clock = HlcClock(phys)
    for _ in range(n):
        clock.now()
    assert clock.last == Hlc(int(T0 * 1000), n - 1)
    phys.t += dt + 0.001
    assert clock.now().logical == 0  # the physical clock moved: the counter resets


def test_a_node_30_s_ahead_does_not_make_causally_later_writes_lose() -> None:
    fast_phys, slow_phys = Fake(T0 + 30), Fake(T0)
    fast, slow = HlcClock(fast_phys), HlcClock(slow_phys)
    first = fast.now()  # 30 s ahead
    slow.observe(first)  # the slow node sees it ...
    later = slow.now()  # ... and then writes: its stamp is the greater
    assert (later, "slow") > (first, "fast")
    assert later.wall_ms == first.wall_ms and later.logical == first.logical + 2


def test_a_remote_stamp_past_the_drift_bound_is_refused() -> None:
    phys = Fake()
    clock = HlcClock(phys, max_drift_s=60)
    before = clock.now()
    with pytest.raises(StateError, match="ahead of this node's clock"):
        clock.observe(Hlc(int((T0 + 61) * 1000), 0))
    assert clock.last == before  # nothing was merged
    clock.observe(Hlc(int((T0 + 59) * 1000), 0))  # within the bound: fine
    with pytest.raises(StateError):
        HlcClock(phys, max_drift_s=0)


def test_advance_restores_a_floor_after_the_wall_clock_went_back() -> None:
    phys = Fake()
    clock = HlcClock(phys)
    clock.advance(Hlc(int((T0 + 3600) * 1000), 7))  # a stamp stored before a reboot
    assert clock.now() == Hlc(int((T0 + 3600) * 1000), 8)
    clock.advance(Hlc(0, 0))  # lower: no effect
    assert clock.last.logical == 8


def test_stamps_order_as_tuples() -> None:
    assert Hlc(5, 0) > Hlc(4, 99) and Hlc(5, 1) > Hlc(5, 0)
    assert tuple(Hlc(1, 2)) == (1, 2)
