"""The Prometheus collector: each layer's real object is used, then the exposition's values
are checked, and ``promtool check metrics`` lints the names, units and types."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgekit._snapshot import Snapshot
from edgekit.errors import InvalidInputError
from edgekit.infer import InferenceEngine, ResultCache
from edgekit.scan import Inventory, MdnsService, parse_iw_scan
from edgekit.sync import MemoryTransport, SyncEngine, SyncQueue
from edgekit.telemetry import ResourceGuard, Telemetry
from edgekit.telemetry.collector import exposition
from tests.infer import models

SCAN_DATA = Path(__file__).parents[1] / "scan" / "data"


def values(telemetry: Telemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition: (sample name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(telemetry.metrics_text().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def promtool_check(text: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian prometheus) is not installed")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert not done.stdout.strip(), done.stdout.decode()


@pytest.fixture
def engine() -> InferenceEngine:
    return InferenceEngine(models.add_model(), verify=False, cache=ResultCache(64))


def test_queue_metrics(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    queue = SyncQueue(tmp_path / "uplink", clock=lambda: clock[0], compression=None)
    queue.put_many([b"a" * 100] * 7, topic="sensors/temp")
    queue.put(b"b" * 50, topic="alerts", priority=5)
    leased = queue.lease(1, topic="alerts")
    clock[0] += 42.0
    v = values(Telemetry().observe(queue))
    q = (("queue", "uplink"),)
    stats = queue.stats()
    assert v[("edgekit_queue_messages", (*q, ("topic", "sensors/temp")))] == 7
    assert v[("edgekit_queue_messages", (*q, ("topic", "alerts")))] == 1
    assert (
        v[("edgekit_queue_bytes", (*q, ("topic", "sensors/temp")))]
        == stats.topics["sensors/temp"][1]
    )
    assert v[("edgekit_queue_depth_messages", q)] == 8
    assert v[("edgekit_queue_in_flight_messages", q)] == 1
    assert v[("edgekit_queue_ready_messages", q)] == 7
    assert v[("edgekit_queue_oldest_age_seconds", q)] == pytest.approx(42.0)
    assert v[("edgekit_queue_stored_bytes", q)] == stats.stored_bytes
    queue.reject(leased, reason="bad payload")
    v = values(Telemetry().observe(queue))
    assert v[("edgekit_queue_dead_messages", q)] == 1
    assert v[("edgekit_queue_dropped_messages_total", (*q, ("reason", "evicted")))] == 0
    queue.close()


def test_queue_evictions_are_drops(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q", max_bytes=4096, eviction="drop_oldest", compression=None)
    for i in range(100):
        queue.put(bytes([i]) * 200, topic="t")
    stats = queue.stats()
    assert stats.evicted > 0
    v = values(Telemetry().observe(queue))
    labels = (("queue", "q"), ("reason", "evicted"))
    assert v[("edgekit_queue_dropped_messages_total", labels)] == stats.evicted
    assert v[("edgekit_queue_dropped_bytes_total", labels)] == stats.evicted_bytes
    assert v[("edgekit_queue_max_bytes", (("queue", "q"),))] == 4096
    assert stats.evicted + stats.depth == 100  # every accepted message: stored or counted
    queue.close()


def test_sync_metrics(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    transport = MemoryTransport()
    with SyncEngine(queue, transport) as engine:
        queue.put_many([b"x" * 10] * 25, topic="t")
        assert engine.sync_now(timeout=30) == 25
        v = values(Telemetry().observe(engine))
    e = (("engine", "q"),)
    assert v[("edgekit_sync_sent_messages_total", e)] == 25
    assert v[("edgekit_sync_sent_bytes_total", e)] == 250
    assert v[("edgekit_sync_backlog_messages", e)] == 0
    assert v[("edgekit_sync_errors_total", e)] == 0
    assert v[("edgekit_sync_last_success_timestamp_seconds", e)] > 0
    assert ("edgekit_sync_connected", e) in v
    assert len(transport.delivered) == 25
    queue.close()


def test_infer_metrics(engine: InferenceEngine) -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 16)
    for i in range(10):
        engine.run({"x": x, "y": x + (i % 3)})
    with pytest.raises(InvalidInputError):
        engine.run({"x": x})
    telemetry = Telemetry().observe(engine, name="adder")
    v = values(telemetry)
    m = (("model", "adder"),)
    assert v[("edgekit_infer_calls_total", m)] == 10
    assert v[("edgekit_infer_errors_total", m)] == 1
    assert v[("edgekit_infer_cache_hits_total", m)] == 7
    assert v[("edgekit_infer_cache_misses_total", m)] == 3
    stats = engine.stats()
    assert v[("edgekit_infer_latency_seconds", (*m, ("percentile", "50")))] == pytest.approx(
        stats.p50_us / 1e6, rel=1e-6
    )
    futures = [engine.submit({"x": x, "y": x * k}) for k in range(5, 9)]
    for future in futures:
        future.result(10)
    v = values(telemetry)
    sizes = {
        dict(labels)["size"]: n
        for (name, labels), n in v.items()
        if name == "edgekit_infer_batch_size_batches_total"
    }
    assert sum(int(size) * n for size, n in sizes.items()) == 4


def test_scan_metrics() -> None:
    inventory = Inventory()
    inventory.extend(parse_iw_scan((SCAN_DATA / "iw_scan.txt").read_text()))
    inventory.add_mdns(
        MdnsService(
            "Kitchen._googlecast._tcp.local.",
            "_googlecast._tcp.local.",
            "kitchen.local.",
            ("192.168.1.20",),
            8009,
            {"md": "Google Home Mini", "fn": "Kitchen"},
        )
    )
    v = values(Telemetry().observe(inventory))
    i = (("inventory", "scan"),)
    devices = inventory.devices
    assert v[("edgekit_scan_devices", i)] == len(devices) > 1
    wifi = sum("wifi" in d.protocols for d in devices)
    assert v[("edgekit_scan_protocol_devices", (*i, ("protocol", "wifi")))] == wifi > 0
    assert v[("edgekit_scan_protocol_devices", (*i, ("protocol", "mdns")))] == 1
    kinds = {
        dict(labels)["kind"]: n
        for (name, labels), n in v.items()
        if name == "edgekit_scan_kind_devices"
    }
    assert sum(kinds.values()) == len(devices)
    status = Telemetry().observe(inventory).status()["scan"]
    assert status["count"] == len(devices)
    assert len(status["devices"]) == len(devices)


@dataclass(frozen=True)
class _PeerStats(Snapshot):
    keys: int
    sync_lag_s: float
    conflicts_by_strategy: dict[str, int]
    last_merge_at: float | None
    healthy: bool


class _StateLike:
    """A duck-typed state store (the state layer's real class is read the same way)."""

    def stats(self) -> _PeerStats:
        return _PeerStats(12, 0.25, {"lww": 3, "merge": 1}, 1_000_000.5, True)


def test_duck_typed_snapshots_are_gauges_in_base_units() -> None:
    telemetry = Telemetry()
    telemetry.observe(_StateLike(), name="kv")
    assert Telemetry().observe(_StateLike()).observed[0].name == "_StateLike"
    v = values(telemetry)
    n = (("name", "kv"),)
    assert v[("edgekit_other_keys", n)] == 12
    assert v[("edgekit_other_sync_lag_seconds", n)] == 0.25
    assert v[("edgekit_other_conflicts_total", (*n, ("strategy", "lww")))] == 3
    assert v[("edgekit_other_last_merge_timestamp_seconds", n)] == 1_000_000.5
    assert v[("edgekit_other_healthy", n)] == 1
    promtool_check(telemetry.metrics_text())


def test_state_layer(tmp_path: Path) -> None:
    state = pytest.importorskip("edgekit.state")
    store = state.StateStore(tmp_path / "state", node_id="gw1")
    try:
        store.set("config/rate", 10)
        store.set("config/mode", "eco")
        store.delete("config/mode")
        telemetry = Telemetry().observe(store, name="twin")
        assert [o.kind for o in telemetry.observed] == ["state"]
        v = values(telemetry)
        n = (("name", "twin"),)
        stats = store.stats()
        assert v[("edgekit_state_keys", n)] == stats.keys == 1
        assert v[("edgekit_state_tombstones", n)] == stats.tombstones == 1
        assert v[("edgekit_state_pending", n)] == stats.pending
        assert v[("edgekit_state_used_bytes", n)] == stats.used_bytes
        promtool_check(telemetry.metrics_text())
        assert telemetry.status()["state"]["node_id"] == "gw1"
        sync = state.StateSync(store, "nats://127.0.0.1:9", bucket="twins")  # not started
        v = values(Telemetry().observe(store, sync))
        s = (("name", "StateSync"),)
        assert v[("edgekit_state_keys", (("name", "StateStore"),))] == 1
        assert v[("edgekit_state_pending_changes", s)] == sync.status().pending_changes
        assert v[("edgekit_state_connected", s)] == 0
        assert v[("edgekit_state_sent_total", s)] == 0
    finally:
        store.close()


def test_every_layer_passes_promtool(tmp_path: Path, engine: InferenceEngine) -> None:
    queue = SyncQueue(tmp_path / "q", max_bytes=1 << 20, eviction="drop_oldest")
    queue.put_many([b"p" * 64] * 10, topic="a")
    sync = SyncEngine(queue, MemoryTransport())
    engine.run({"x": np.ones((1, 16), np.float32), "y": np.ones((1, 16), np.float32)})
    inventory = Inventory()
    inventory.extend(parse_iw_scan((SCAN_DATA / "iw_scan.txt").read_text()))
    guard = ResourceGuard(max_memory=1 << 40, max_storage=1 << 30, max_cpu_percent=100)
    guard.watch(queue).check()
    telemetry = Telemetry(data_dir=tmp_path)
    telemetry.observe(queue, sync, engine, inventory, guard, _StateLike())
    text = telemetry.metrics_text()
    promtool_check(text)
    names = {f.name for f in text_string_to_metric_families(text.decode())}
    for layer in ("queue", "sync", "infer", "scan", "guard", "health", "other"):
        assert any(name.startswith(f"edgekit_{layer}_") for name in names), layer
    assert "edgekit_telemetry_read_errors" not in names
    status = json.loads(json.dumps(telemetry.status()))  # JSON-ready, as /status.json serves it
    assert status["queue"]["depth"] == 10
    assert status["sync"]["backlog"] == 10
    assert status["infer"]["calls"] == 1
    assert status["guard"]["checks"] == 1
    assert status["state"] is None
    queue.close()


def test_the_text_is_what_prometheus_client_writes(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    queue.put(b"x", topic='odd"topic\\x')
    telemetry = Telemetry(data_dir=tmp_path).observe(queue)
    telemetry.observe(_StateLike(), name='a "name"\\with\na newline')
    ours = list(text_string_to_metric_families(telemetry.metrics_text().decode()))
    theirs = list(text_string_to_metric_families(exposition(telemetry.registry).decode()))
    volatile = ("edgekit_health_", "edgekit_queue_oldest_age_seconds")
    assert [(f.name, f.type, f.documentation) for f in ours] == [
        (f.name, f.type, f.documentation) for f in theirs
    ]
    ours_samples = [s for f in ours for s in f.samples if not s.name.startswith(volatile)]
    theirs_samples = [s for f in theirs for s in f.samples if not s.name.startswith(volatile)]
    assert ours_samples == theirs_samples
    assert any(s.labels.get("topic") == 'odd"topic\\x' for s in ours_samples)
    assert any(s.labels.get("name") == 'a "name"\\with\na newline' for s in ours_samples)
    queue.close()


def test_a_closed_queue_does_not_fail_the_scrape(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    telemetry = Telemetry().observe(queue)
    queue.close()
    v = values(telemetry)
    assert v[("edgekit_telemetry_read_errors", (("kind", "queue"), ("name", "q")))] == 1
    assert ("edgekit_health_disk_free_bytes", ()) in v


def test_observe_rejects_what_it_cannot_read() -> None:
    with pytest.raises(InvalidInputError, match="cannot observe a int"):
        Telemetry().observe(3)
    with pytest.raises(InvalidInputError, match="one object"):
        Telemetry().observe(Inventory(), Inventory(), name="x")


def test_names_of_a_kind_stay_unique(tmp_path: Path) -> None:
    a, b = Inventory(), Inventory()
    telemetry = Telemetry().observe(a, b).observe(a)
    assert [o.name for o in telemetry.observed] == ["scan", "scan-2"]
    telemetry.forget(a)
    assert [o.obj for o in telemetry.observed] == [b]
