"""ResourceGuard on real parts: a queue filling past ``max_storage`` drained by a real
SyncEngine, CPU burnt in this process, a memory limit in front of a real model."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InvalidInputError, ResourceLimitError
from edgekit.infer import InferenceEngine
from edgekit.sync import MemoryTransport, SyncEngine, SyncQueue
from edgekit.telemetry import ResourceGuard, Telemetry
from tests.infer import models

PUTS = 600


def fill(queue: SyncQueue, guard: ResourceGuard) -> list[int]:
    """Put PUTS numbered messages, the guard checking every 25 puts; returns the ids."""
    ids = []
    for i in range(PUTS):
        ids.append(queue.put(i.to_bytes(4, "big") * 50, topic="t"))
        if i % 25 == 24:
            guard.check()
    return ids


def drain(queue: SyncQueue) -> list[int]:
    """Deliver everything the queue holds through a real SyncEngine; the numbers sent."""
    transport = MemoryTransport()
    with SyncEngine(queue, transport) as engine:
        engine.sync_now(timeout=60)
    return [int.from_bytes(m.payload[:4], "big") for m in transport.delivered]


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_lowest_priority"])
def test_storage_over_evicts_by_policy_and_nothing_else_is_lost(
    tmp_path: Path, policy: str
) -> None:
    seen: list[tuple[str, float, float]] = []
    queue = SyncQueue(tmp_path / "q", eviction=policy, compression=None)  # type: ignore[arg-type]
    guard = ResourceGuard(
        max_storage=20_000, on_exceeded=lambda *a: seen.append(a), headroom=0.2
    ).watch(queue)
    fill(queue, guard)
    stats = guard.stats()
    assert stats.exceeded == ("storage",)
    assert stats.storage_bytes is not None and stats.storage_bytes <= 16_000
    assert stats.evicted_messages == queue.stats().evicted > 0
    assert stats.actions["evict"] >= 1
    assert seen and seen[0][0] == "storage" and seen[0][2] == 20_000
    delivered = drain(queue)
    # Every accepted message was delivered, in order, or counted as evicted.
    assert delivered == sorted(delivered)
    assert len(delivered) + queue.stats().evicted == PUTS
    assert delivered[-1] == PUTS - 1
    text = Telemetry().observe(guard, name="g").metrics_text().decode()
    assert 'edgekit_guard_exceeded{guard="g",resource="storage"} 1.0' in text
    assert (
        f'edgekit_guard_evicted_messages_total{{guard="g"}} {float(stats.evicted_messages)}' in text
    )
    queue.close()


def test_storage_over_with_reject_keeps_every_message(tmp_path: Path) -> None:
    seen: list[str] = []
    queue = SyncQueue(tmp_path / "q", eviction="reject", compression=None)
    guard = ResourceGuard(max_storage=20_000, on_exceeded=lambda r, v, lim: seen.append(r))
    guard.watch(queue)
    fill(queue, guard)
    stats = guard.stats()
    assert stats.exceeded == ("storage",)
    assert stats.evicted_messages == 0
    assert stats.actions["evict_refused"] >= 1
    assert seen == ["storage"]  # called when it went over, not at every check
    assert drain(queue) == list(range(PUTS))
    guard.check()
    assert guard.stats().exceeded == ()
    queue.close()


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_over_pauses_the_sync_engine_until_it_is_back(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    transport = MemoryTransport()
    guard = ResourceGuard(max_cpu_percent=10, cpu="process")
    with SyncEngine(queue, transport, idle_interval=0.01) as engine:
        engine.start()
        guard.watch(engine)
        burn(0.3)
        stats = guard.check()
        assert stats.exceeded == ("cpu",)
        assert stats.cpu_percent is not None and stats.cpu_percent > 10
        assert engine.status().paused
        assert stats.paused == ("SyncEngine",)
        queue.put_many([b"m"] * 20, topic="t")
        time.sleep(0.2)
        assert transport.delivered == []  # paused: nothing leased
        time.sleep(0.5)
        stats = guard.check()
        assert stats.exceeded == ()
        assert not engine.status().paused
        assert engine.sync_now(timeout=30) >= 0
        deadline = time.monotonic() + 10
        while len(transport.delivered) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(transport.delivered) == 20
        assert stats.actions == {"pause": 1, "resume": 1}
    queue.close()


def test_the_guard_resumes_only_what_it_paused(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    engine = SyncEngine(queue, MemoryTransport())
    guard = ResourceGuard(max_cpu_percent=10, cpu="process").watch(engine)
    engine.pause()  # the host's own pause
    burn(0.3)
    assert guard.check().exceeded == ("cpu",)
    assert guard.stats().paused == ()
    time.sleep(0.5)
    assert guard.check().exceeded == ()
    assert engine.status().paused
    assert guard.stats().actions == {}
    queue.close()


def test_cpu_over_pauses_a_real_mdns_scanner_until_it_is_back() -> None:
    import uuid

    from edgekit._aio import LoopThread
    from edgekit.scan import MdnsAdvertiser, MdnsScanner

    stype = f"_ek{uuid.uuid4().hex[:8]}._tcp"
    loop = LoopThread("test-mdns")
    scanner = MdnsScanner([stype], interfaces=["127.0.0.1"])
    with MdnsAdvertiser("Sensor", stype, 4242, interfaces=["127.0.0.1"]):
        try:
            loop.submit(scanner.async_start()).result(10)
            assert loop.submit(scanner.async_wait_complete(5.0, expected=1)).result(10)
            guard = ResourceGuard(max_cpu_percent=10, cpu="process").watch(scanner)
            burn(0.3)
            stats = guard.check()  # pause() from this thread, the scanner on its loop
            assert stats.exceeded == ("cpu",) and stats.paused == ("MdnsScanner",)
            assert scanner.paused
            rounds = scanner.rounds
            time.sleep(1.5)  # its next query round was due
            assert scanner.rounds == rounds and len(scanner.services) == 1
            stats = guard.check()
            assert stats.exceeded == () and not scanner.paused
            deadline = time.monotonic() + 5
            while scanner.rounds == rounds and time.monotonic() < deadline:
                time.sleep(0.05)
            assert scanner.rounds > rounds and len(scanner.services) == 1
            assert stats.actions == {"pause": 1, "resume": 1}
        finally:
            loop.submit(scanner.async_stop()).result(10)
            loop.stop()


def test_memory_over_refuses_inference(tmp_path: Path) -> None:
    engine = InferenceEngine(models.add_model(), verify=False)
    guard = ResourceGuard(max_memory=1 << 20)  # this process holds more than 1 MiB
    gated = guard.gate(engine)
    x = np.ones((1, 16), np.float32)
    assert gated.run({"x": x, "y": x})["z"][0, 0] == 2.0  # no check yet: admitted
    stats = guard.check()
    assert stats.exceeded == ("memory",)
    assert stats.memory_bytes is not None and stats.memory_bytes > 1 << 20
    with pytest.raises(ResourceLimitError, match="max_memory of 1,048,576"):
        gated.run({"x": x, "y": x})
    with pytest.raises(ResourceLimitError):
        gated.submit({"x": x, "y": x})
    assert guard.stats().refused == 2
    assert engine.stats().calls == 1  # refused requests never reached the engine
    telemetry = Telemetry().observe(gated, guard)
    assert [o.kind for o in telemetry.observed] == ["infer", "guard"]
    text = telemetry.metrics_text().decode()
    assert 'edgekit_guard_actions_total{guard="guard",action="refuse"} 2.0' in text
    assert telemetry.healthy() == (False, ["guard guard: memory limit exceeded"])
    guard.max_memory = 1 << 40
    guard.check()
    assert gated.run({"x": x, "y": x})["z"][0, 0] == 2.0
    assert telemetry.healthy()[0]


def test_a_failing_callback_is_counted() -> None:
    def callback(resource: str, value: float, limit: float) -> None:
        raise RuntimeError("host bug")

    guard = ResourceGuard(max_memory=1, on_exceeded=callback)
    assert guard.check().actions == {"callback_error": 1}


def test_background_checks(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q", eviction="drop_oldest", compression=None)
    with ResourceGuard(max_storage=4_000, interval_s=0.02).watch(queue) as guard:
        queue.put_many([b"p" * 200] * 100, topic="t")
        deadline = time.monotonic() + 10
        while queue.stats().stored_bytes > 4_000 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert guard.stats().checks >= 1
    assert queue.stats().stored_bytes <= 4_000
    queue.close()


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="max_cpu_percent must be at most 100"):
        ResourceGuard(max_cpu_percent=150)
    with pytest.raises(InvalidInputError, match="max_memory must be a positive number"):
        ResourceGuard(max_memory=0)
    with pytest.raises(InvalidInputError, match="watches queues"):
        ResourceGuard().watch(InferenceEngine(models.add_model(), verify=False))
    with pytest.raises(InvalidInputError, match="not a int"):
        ResourceGuard().watch(3)


def test_queue_evict_follows_its_policy(tmp_path: Path) -> None:
    for policy, first_left in (("drop_oldest", 50), ("drop_lowest_priority", 2)):
        queue = SyncQueue(tmp_path / policy, eviction=policy, compression=None)  # type: ignore[arg-type]
        for i in range(100):
            queue.put(bytes([i]) * 100, topic="t", priority=i % 3)
        stored = queue.stats().stored_bytes
        assert queue.evict(stored // 2) == 50
        stats = queue.stats()
        assert stats.stored_bytes <= stored // 2 and stats.evicted == 50
        if policy == "drop_lowest_priority":  # priority 2 first, then FIFO
            assert [m.payload[0] for m in queue.lease(3)] == [first_left, 5, 8]
        else:
            leased = queue.lease(100)
            assert sorted(m.payload[0] for m in leased)[0] == first_left
        queue.close()
    queue = SyncQueue(tmp_path / "reject")
    queue.put(b"x", topic="t")
    assert queue.evict(0) == 0
    with pytest.raises(InvalidInputError, match="target_bytes"):
        queue.evict(-1)
    queue.close()
