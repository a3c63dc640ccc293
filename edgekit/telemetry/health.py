"""Device health: CPU, memory, disk free for the data directory, temperature, RSS, open
files and uptimes, as one :class:`Health` snapshot (psutil, the ``telemetry`` extra)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit._snapshot import Snapshot
from edgekit.errors import BackendUnavailableError

__all__ = ["Health", "HealthReader", "read_health", "read_temperatures"]

THERMAL_ROOT = Path("/sys/class/thermal")


@dataclass(frozen=True)
class Health(Snapshot):
    """The device and this process, now (a table in Jupyter).

    Attributes:
        cpu_percent: CPU busy, all cores, 0-100, since the previous reading of the same
            reader (the first reading covers the last 0.1 s).
        memory_used_bytes: Memory in use (total minus available).
        memory_total_bytes: Physical memory.
        disk_free_bytes: Free bytes for an unprivileged user on the data directory's
            file system.
        disk_total_bytes: Size of that file system.
        temperature_c: The CPU's temperature in degrees Celsius (the zone whose type names
            the CPU or SoC, else the hottest), or None where ``/sys/class/thermal`` has none.
        temperatures_c: Every thermal zone by its type, degrees Celsius.
        rss_bytes: This process's resident memory.
        open_files: File descriptors this process holds open (handles on Windows).
        uptime_s: Seconds since the device booted.
        process_uptime_s: Seconds since this process started.
        data_dir: The directory whose disk is measured.
    """

    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_free_bytes: int
    disk_total_bytes: int
    temperature_c: float | None
    rss_bytes: int
    open_files: int
    uptime_s: float
    process_uptime_s: float
    temperatures_c: dict[str, float] = field(default_factory=dict)
    data_dir: str = ""


def _psutil() -> Any:
    try:
        import psutil
    except ImportError as exc:
        raise BackendUnavailableError("psutil", extra="telemetry") from exc
    return psutil


def read_temperatures(root: str | os.PathLike[str] = THERMAL_ROOT) -> dict[str, float]:
    """Degrees Celsius of each thermal zone under ``root`` (``/sys/class/thermal``), by its
    ``type`` (``cpu-thermal``...; a repeated type gets ``-1``, ``-2`` appended); empty where
    there is none. Unreadable zones are skipped."""
    out: dict[str, float] = {}
    base = Path(root)
    try:
        zones = sorted(base.glob("thermal_zone*"), key=lambda p: (len(p.name), p.name))
    except OSError:
        return out
    for zone in zones:
        try:
            millis = int((zone / "temp").read_text().strip())
            kind = (zone / "type").read_text().strip() or zone.name
        except (OSError, ValueError):
            continue
        name, n = kind, 0
        while name in out:
            n += 1
            name = f"{kind}-{n}"
        out[name] = millis / 1000.0
    return out


def _cpu_temperature(temps: dict[str, float]) -> float | None:
    if not temps:
        return None
    for name, value in temps.items():
        lowered = name.lower()
        if any(word in lowered for word in ("cpu", "soc", "x86_pkg", "package")):
            return value
    return max(temps.values())


def _cpu_total(times: Any) -> float:
    return float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _boot_uptime(psutil: Any) -> float:
    """Seconds since boot, from a clock that does not follow wall-clock changes."""
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return max(time.time() - float(psutil.boot_time()), 0.0)


def _process_uptime(psutil: Any, process: Any, uptime: float) -> float:
    if sys.platform.startswith("linux"):
        try:
            stat = Path("/proc/self/stat").read_text()
            start_ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
            return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
        except (OSError, ValueError, IndexError):
            pass
    return max(time.time() - float(process.create_time()), 0.0)


class HealthReader:
    """Reads :class:`Health` again and again (it keeps the CPU counters between readings).

    Args:
        data_dir: The directory whose file system's free space is measured (default:
            the current directory).
        thermal_root: Where thermal zones are read (``/sys/class/thermal``; tests pass a
            directory of their own).

    Raises:
        BackendUnavailableError: psutil is not installed (the ``telemetry`` extra).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        thermal_root: str | os.PathLike[str] = THERMAL_ROOT,
    ) -> None:
        self._psutil = _psutil()
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.thermal_root = Path(thermal_root)
        self._process = self._psutil.Process()
        self._cpu_times = self._psutil.cpu_times()
        self._first = time.monotonic()
        self._read = False

    def _cpu_percent(self) -> float:
        now = self._psutil.cpu_times()
        before, self._cpu_times = self._cpu_times, now
        # guest time is already in user time (as psutil counts it).
        total = _cpu_total(now) - _cpu_total(before)
        rest = sum(getattr(now, n, 0.0) - getattr(before, n, 0.0) for n in ("idle", "iowait"))
        return 0.0 if total <= 0 else min(max(100.0 * (total - rest) / total, 0.0), 100.0)

    def read(self) -> Health:
        """The health now."""
        ps = self._psutil
        if not self._read and time.monotonic() - self._first < 0.1:
            time.sleep(0.1 - (time.monotonic() - self._first))
        self._read = True
        cpu = self._cpu_percent()
        memory = ps.virtual_memory()
        directory = self.data_dir if self.data_dir is not None else Path.cwd()
        while not directory.exists() and directory != directory.parent:
            directory = directory.parent
        disk = shutil.disk_usage(directory)
        temps = read_temperatures(self.thermal_root)
        process = self._process
        with process.oneshot():
            rss = int(process.memory_info().rss)
            try:
                files = int(
                    process.num_fds() if hasattr(process, "num_fds") else process.num_handles()
                )
            except (ps.Error, OSError):
                files = -1
        uptime = _boot_uptime(ps)
        return Health(
            cpu_percent=cpu,
            memory_used_bytes=int(memory.total - memory.available),
            memory_total_bytes=int(memory.total),
            disk_free_bytes=int(disk.free),
            disk_total_bytes=int(disk.total),
            temperature_c=_cpu_temperature(temps),
            rss_bytes=rss,
            open_files=files,
            uptime_s=uptime,
            process_uptime_s=_process_uptime(ps, process, uptime),
            temperatures_c=temps,
            data_dir=str(directory),
        )


def read_health(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    thermal_root: str | os.PathLike[str] = THERMAL_ROOT,
) -> Health:
    """One :class:`Health` reading (CPU over the next 0.1 s); see :class:`HealthReader`."""
    return HealthReader(data_dir, thermal_root=thermal_root).read()
