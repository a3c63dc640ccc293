"""Device health read from this machine (psutil, /proc) and a thermal tree written by the
test in the layout of Linux's /sys/class/thermal; healthy() and its reasons."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from edgekit.errors import BackendUnavailableError
from edgekit.sync import MemoryTransport, SyncEngine, SyncQueue
from edgekit.telemetry import Telemetry
from edgekit.telemetry.health import HealthReader, read_health, read_temperatures


def thermal_tree(root: Path, zones: dict[str, str]) -> Path:
    """``root`` laid out as /sys/class/thermal: thermal_zoneN/{type,temp} (millidegrees)."""
    for n, (kind, temp) in enumerate(zones.items()):
        zone = root / f"thermal_zone{n}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(temp + "\n")
    (root / "cooling_device0").mkdir()
    return root


def test_temperatures_from_a_thermal_tree(tmp_path: Path) -> None:
    root = thermal_tree(
        tmp_path / "thermal", {"acpitz": "27800", "cpu-thermal": "48312", "broken": "n/a"}
    )
    assert read_temperatures(root) == {"acpitz": 27.8, "cpu-thermal": 48.312}
    health = read_health(tmp_path, thermal_root=root)
    assert health.temperature_c == 48.312  # the CPU's zone, not the hottest
    assert health.temperatures_c == {"acpitz": 27.8, "cpu-thermal": 48.312}
    text = Telemetry(data_dir=tmp_path, thermal_root=root).metrics_text().decode()
    assert 'edgekit_health_temperature_celsius{zone="cpu-thermal"} 48.312' in text


def test_the_hottest_zone_without_a_cpu_zone(tmp_path: Path) -> None:
    root = thermal_tree(tmp_path / "t", {"acpitz": "27800", "acpitz ": "61000"})
    assert read_temperatures(root) == {"acpitz": 27.8, "acpitz-1": 61.0}
    assert read_health(tmp_path, thermal_root=root).temperature_c == 61.0


def test_no_thermal_zones(tmp_path: Path) -> None:
    health = read_health(tmp_path, thermal_root=tmp_path / "missing")
    assert health.temperature_c is None and health.temperatures_c == {}
    text = Telemetry(data_dir=tmp_path, thermal_root=tmp_path / "missing").metrics_text()
    assert b"edgekit_health_temperature_celsius" not in text


def test_this_machine(tmp_path: Path) -> None:
    reader = HealthReader(tmp_path / "not" / "yet")  # measured on the nearest existing parent
    files = [open(os.devnull) for _ in range(20)]  # noqa: SIM115
    try:
        health = reader.read()
        assert health.open_files >= 20
    finally:
        for f in files:
            f.close()
    disk = shutil.disk_usage(tmp_path)
    assert health.data_dir == str(tmp_path)
    assert health.disk_total_bytes == disk.total
    assert abs(health.disk_free_bytes - disk.free) < 256 << 20
    assert 0 < health.memory_used_bytes < health.memory_total_bytes
    assert 1 << 20 < health.rss_bytes < health.memory_total_bytes
    assert 0 <= health.cpu_percent <= 100
    assert 0 <= health.process_uptime_s <= health.uptime_s
    if sys.platform.startswith("linux"):
        boot = float(Path("/proc/uptime").read_text().split()[0])
        assert abs(health.uptime_s - boot) < 5
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    assert reader.read().cpu_percent > 0  # this process kept a core busy


def test_missing_psutil_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.raises(BackendUnavailableError, match=r"edgekit\[telemetry\]"):
        HealthReader()


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(BackendUnavailableError, match=r"edgekit\[telemetry\]"):
        _ = Telemetry().registry


def test_healthy_and_its_reasons(tmp_path: Path) -> None:
    clock = [1_800_000_000.0]
    queue = SyncQueue(tmp_path / "q")
    transport = MemoryTransport()
    transport.online = False
    engine = SyncEngine(queue, transport, idle_interval=0.01)
    telemetry = Telemetry(clock=lambda: clock[0], failing_after_s=300).observe(queue, engine)
    assert telemetry.healthy() == (True, [])
    with engine:
        engine.start()
        deadline = time.monotonic() + 10
        while engine.status().last_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert telemetry.healthy() == (True, [])  # failing, not yet for long
        clock[0] += 301
        ok, reasons = telemetry.healthy()
        assert not ok and reasons[0].startswith("sync q: failing for 301 s")
        transport.online = True
        queue.put(b"x", topic="t")
        engine.sync_now(30)
        assert telemetry.healthy() == (True, [])
    telemetry.disk_floor_bytes = 1 << 62
    ok, reasons = telemetry.healthy()
    assert not ok and reasons[0].startswith("disk: ") and str(tmp_path) in reasons[0]
    status = telemetry.status()
    assert status["time"] == clock[0]
    assert status["sync"]["sent_messages"] == 1
    assert status["observed"] == {"queue": ["q"], "sync": ["q"]}
    queue.close()
