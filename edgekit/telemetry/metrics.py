"""Every metric, read from the observed objects' snapshots at scrape time, in one neutral
form (:class:`Family`) that the Prometheus collector, the recorder and the OpenTelemetry
export share. The list, with units and meanings, is in ``docs/telemetry.md``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgekit._snapshot import Snapshot
from edgekit.telemetry.health import Health

__all__ = ["Family", "Observed", "Source", "flatten", "read_families", "status_of"]


@dataclass(frozen=True)
class Observed:
    """One observed object: its kind, its name (the metrics' label) and the object."""

    kind: str
    name: str
    obj: Any


class Source(Protocol):
    """What the metrics are read from (a :class:`~edgekit.telemetry.Telemetry`)."""

    @property
    def observed(self) -> list[Observed]: ...

    def health(self) -> Health: ...


Labels = dict[str, str]


@dataclass
class Family:
    """One metric: its exposition name (counters end in ``_total``), type, help and samples.

    Attributes:
        name: ``edgekit_<layer>_<what>_<unit>``; a counter's name ends in ``_total``.
        type: ``"gauge"`` or ``"counter"``.
        help: What it measures, with its unit.
        unit: The base unit (``bytes``, ``seconds``, ``ratio``, ``celsius``), or "".
        samples: (labels, value) pairs.
    """

    name: str
    type: str
    help: str
    unit: str = ""
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, labels: Labels, value: float | int | bool | None) -> None:
        """Add a sample; None, NaN and infinities are left out."""
        if value is None:
            return
        number = float(value)
        if math.isfinite(number):
            self.samples.append((labels, number))


class _Families:
    """Families by name, in the order they were first used."""

    def __init__(self) -> None:
        self.by_name: dict[str, Family] = {}

    def __call__(self, name: str, type_: str, help_: str, unit: str = "") -> Family:
        family = self.by_name.get(name)
        if family is None:
            family = self.by_name[name] = Family(name, type_, help_, unit)
        return family

    def gauge(self, name: str, help_: str, labels: Labels, value: Any, unit: str = "") -> None:
        self(name, "gauge", help_, unit).add(labels, value)

    def counter(self, name: str, help_: str, labels: Labels, value: Any, unit: str = "") -> None:
        self(name, "counter", help_, unit).add(labels, value)


# -- one reader per kind -----------------------------------------------------------------


def _queue(f: _Families, o: Observed) -> None:
    s = o.obj.stats()
    q = {"queue": o.name}
    for topic, (messages, nbytes) in sorted(s.topics.items()):
        labels = {"queue": o.name, "topic": topic}
        f.gauge(
            "edgekit_queue_messages",
            "Live messages per topic (ready, delayed, in flight).",
            labels,
            messages,
        )
        f.gauge(
            "edgekit_queue_bytes",
            "Stored bytes of the live messages per topic, after compression.",
            labels,
            nbytes,
            "bytes",
        )
    f.gauge(
        "edgekit_queue_depth_messages",
        "Messages not yet acked or dead (ready + delayed + in flight).",
        q,
        s.depth,
    )
    f.gauge("edgekit_queue_ready_messages", "Messages that can be leased now.", q, s.ready)
    f.gauge(
        "edgekit_queue_delayed_messages",
        "Nacked messages waiting for their retry time.",
        q,
        s.delayed,
    )
    f.gauge("edgekit_queue_in_flight_messages", "Leased messages not yet acked.", q, s.in_flight)
    f.gauge(
        "edgekit_queue_dead_messages", "Dead letters kept in the queue (not dropped).", q, s.dead
    )
    f.gauge(
        "edgekit_queue_stored_bytes",
        "Bytes stored for every message, dead letters included.",
        q,
        s.stored_bytes,
        "bytes",
    )
    if s.max_bytes is not None:
        f.gauge("edgekit_queue_max_bytes", "The queue's bound in bytes.", q, s.max_bytes, "bytes")
    f.gauge(
        "edgekit_queue_oldest_age_seconds",
        "Age of the oldest stored message (0 when empty).",
        q,
        s.oldest_age_s or 0.0,
        "seconds",
    )
    f.gauge("edgekit_queue_map_size_bytes", "The LMDB map size.", q, s.map_size_bytes, "bytes")
    reason = {"queue": o.name, "reason": "evicted"}
    f.counter(
        "edgekit_queue_dropped_messages_total",
        "Accepted messages the queue deleted undelivered, by reason.",
        reason,
        s.evicted,
    )
    f.counter(
        "edgekit_queue_dropped_bytes_total",
        "Stored bytes of those messages.",
        reason,
        s.evicted_bytes,
        "bytes",
    )
    f.counter(
        "edgekit_queue_group_commits_total",
        "Commits led under durability='power' (one fsync each).",
        q,
        s.group_commits,
    )
    f.counter(
        "edgekit_queue_group_commit_puts_total",
        "Puts those commits carried.",
        q,
        s.group_commit_puts,
    )


def _sync(f: _Families, o: Observed) -> None:
    s = o.obj.status()
    e = {"engine": o.name}
    f.gauge("edgekit_sync_running", "1 while the engine's loop runs.", e, s.running)
    f.gauge("edgekit_sync_paused", "1 while sending is paused.", e, s.paused)
    f.gauge("edgekit_sync_connected", "1 while the transport's link is up.", e, s.connected)
    f.gauge("edgekit_sync_backlog_messages", "Messages in the queue not yet acked.", e, s.backlog)
    f.counter(
        "edgekit_sync_sent_messages_total", "Messages acked by the other end.", e, s.sent_messages
    )
    f.counter(
        "edgekit_sync_sent_bytes_total",
        "Payload bytes acked by the other end.",
        e,
        s.sent_bytes,
        "bytes",
    )
    f.counter(
        "edgekit_sync_errors_total",
        "Failed connects and deliveries, and queue errors.",
        e,
        s.errors,
    )
    f.counter(
        "edgekit_sync_received_messages_total",
        "Downlink messages handed to the host.",
        e,
        s.received,
    )
    if s.last_success_at is not None:
        f.gauge(
            "edgekit_sync_last_success_timestamp_seconds",
            "When a batch was last confirmed (since the epoch).",
            e,
            s.last_success_at,
            "seconds",
        )


def _infer(f: _Families, o: Observed) -> None:
    s = o.obj.stats()
    m = {"model": o.name}
    f.gauge(
        "edgekit_infer_info",
        "1, labelled with the model and runtime backend.",
        {**m, "backend": s.backend, "file": s.model},
        1,
    )
    f.counter(
        "edgekit_infer_calls_total",
        "Inference requests answered (cache hits and batched requests included).",
        m,
        s.calls,
    )
    f.counter("edgekit_infer_errors_total", "Inference requests that raised.", m, s.errors)
    for p, value in (("50", s.p50_us), ("90", s.p90_us), ("99", s.p99_us)):
        f.gauge(
            "edgekit_infer_latency_seconds",
            "Latency percentile of the last synchronous runs (a gauge: not a summary).",
            {**m, "percentile": p},
            value / 1e6,
            "seconds",
        )
    f.gauge(
        "edgekit_infer_latency_mean_seconds",
        "Mean latency of the last synchronous runs.",
        m,
        s.mean_us / 1e6,
        "seconds",
    )
    f.gauge("edgekit_infer_latency_window_runs", "Runs the latency figures cover.", m, s.window)
    f.counter("edgekit_infer_cache_hits_total", "Result cache hits.", m, s.cache_hits)
    f.counter("edgekit_infer_cache_misses_total", "Result cache misses.", m, s.cache_misses)
    f.counter("edgekit_infer_batches_total", "Micro-batches run.", m, s.batches)
    for size, count in sorted(s.batch_sizes.items()):
        f.counter(
            "edgekit_infer_batch_size_batches_total",
            "Micro-batches by size (requests merged).",
            {**m, "size": str(size)},
            count,
        )
    f.counter("edgekit_infer_swaps_total", "Hot swaps of the model.", m, s.swaps)


def _scan(f: _Families, o: Observed) -> None:
    inventory = o.obj
    devices = inventory.devices
    i = {"inventory": o.name}
    protocols: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for device in devices:
        protocols.update(device.protocols)
        kinds[device.kind or "unknown"] += 1
    f.gauge("edgekit_scan_devices", "Devices in the inventory.", i, len(devices))
    for protocol in ("ble", "mdns", "wifi", *sorted(set(protocols) - {"ble", "mdns", "wifi"})):
        f.gauge(
            "edgekit_scan_protocol_devices",
            "Devices heard on a protocol (a device may count on several).",
            {**i, "protocol": protocol},
            protocols[protocol],
        )
    for kind, n in sorted(kinds.items()):
        f.gauge(
            "edgekit_scan_kind_devices",
            "Devices by recognised kind ('unknown' when not recognised).",
            {**i, "kind": kind},
            n,
        )
    f.counter(
        "edgekit_scan_evicted_devices_total",
        "Devices dropped to keep max_devices.",
        i,
        inventory.evicted,
    )


def _guard(f: _Families, o: Observed) -> None:
    s = o.obj.stats()
    g = {"guard": o.name}
    for resource, limit, value, unit in (
        ("memory", s.max_memory_bytes, s.memory_bytes, "bytes"),
        ("storage", s.max_storage_bytes, s.storage_bytes, "bytes"),
        ("cpu", s.max_cpu_percent, s.cpu_percent, "ratio"),
    ):
        if limit is None:
            continue
        scale = 0.01 if unit == "ratio" else 1
        r = {**g, "resource": resource}
        f.gauge(
            f"edgekit_guard_limit_{unit}", "A guarded resource's limit.", r, limit * scale, unit
        )
        f.gauge(
            f"edgekit_guard_usage_{unit}",
            "A guarded resource's use at the last check.",
            r,
            None if value is None else value * scale,
            unit,
        )
        f.gauge(
            "edgekit_guard_exceeded",
            "1 while a resource is over its limit.",
            r,
            resource in s.exceeded,
        )
    for action, n in sorted(s.actions.items()):
        f.counter(
            "edgekit_guard_actions_total",
            "Actions the guard took, by action.",
            {**g, "action": action},
            n,
        )
    f.counter(
        "edgekit_guard_refused_total",
        "Inference requests refused while memory was over.",
        g,
        s.refused,
    )
    f.counter(
        "edgekit_guard_evicted_messages_total",
        "Messages the guard evicted by the queue's policy.",
        g,
        s.evicted_messages,
    )
    f.counter("edgekit_guard_checks_total", "Checks run.", g, s.checks)


def _recorder(f: _Families, o: Observed) -> None:
    s = o.obj.stats()
    r = {"recorder": o.name}
    f.counter("edgekit_recorder_samples_total", "Samples taken.", r, s.samples)
    f.counter("edgekit_recorder_frames_total", "Frames put on the queue.", r, s.frames)
    f.counter(
        "edgekit_recorder_frame_bytes_total", "Bytes of those frames.", r, s.frame_bytes, "bytes"
    )
    f.counter("edgekit_recorder_errors_total", "Samples or puts that failed.", r, s.errors)
    f.gauge("edgekit_recorder_pending_samples", "Samples not yet in a frame.", r, s.pending)


# -- duck-typed snapshots (state, mesh, anything with stats()/status()) ------------------

_UNIT_SUFFIXES = (
    ("_per_s", "_per_second", 1.0, ""),
    ("_at", "_timestamp_seconds", 1.0, "seconds"),
    ("_us", "_seconds", 1e-6, "seconds"),
    ("_ms", "_seconds", 1e-3, "seconds"),
    ("_s", "_seconds", 1.0, "seconds"),
    ("_percent", "_ratio", 0.01, "ratio"),
    ("_bytes", "_bytes", 1.0, "bytes"),
)
_BAD = re.compile(r"[^a-zA-Z0-9_]")


def _metric_name(field_name: str) -> tuple[str, float, str]:
    """(name with the Prometheus base unit, scale to that unit, unit) of a snapshot field."""
    name = _BAD.sub("_", field_name)
    for suffix, replacement, scale, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] + replacement, scale, unit
    return name, 1.0, ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def snapshot_dict(obj: Any) -> dict[str, Any]:
    """The merged ``stats()`` and ``status()`` of a duck-typed object, as plain values."""
    out: dict[str, Any] = {}
    for method in ("stats", "status"):
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        value = fn()
        if isinstance(value, Snapshot):
            out.update(value.as_dict())
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(dataclasses.asdict(value))
        elif isinstance(value, dict):
            out.update(value)
    return out


# Fields of duck-typed snapshots that only grow (exposed as ``_total`` counters), and the
# label of a dict field whose name does not say it (``peers_by_state`` says ``state``).
_COUNTER_FIELDS = frozenset(
    {"errors", "sent", "received", "bad_entries", "conflicts", "calls", "evicted", "swaps"}
)
_DICT_LABELS = {"conflicts": "strategy", "peers": "state"}


def flatten(f: _Families, prefix: str, labels: Labels, values: dict[str, Any]) -> None:
    """Metrics ``<prefix>_<field>`` (base units) from a snapshot's numeric fields: gauges,
    except the counters of ``_COUNTER_FIELDS`` (``_total``); a dict of numbers becomes one
    metric labelled by its keys (``peers_by_state`` -> ``<prefix>_peers{state=...}``,
    ``conflicts`` -> ``{strategy=...}``, else ``{key=...}``)."""
    for key, value in values.items():
        base, _, label = key.partition("_by_")
        name, scale, unit = _metric_name(base)
        counter = base in _COUNTER_FIELDS
        kind = "counter" if counter else "gauge"
        full = f"{prefix}_{name}_total" if counter else f"{prefix}_{name}"
        help_ = f"{prefix.removeprefix('edgekit_')} {key} ({kind})."
        if isinstance(value, dict):
            label = label or _DICT_LABELS.get(base, "key")
            for sub, item in value.items():
                number = _number(item)
                if number is not None:
                    f(full, kind, help_, unit).add({**labels, label: str(sub)}, number * scale)
            continue
        number = _number(value)
        if number is not None:
            f(full, kind, help_, unit).add(labels, number * scale)


def _generic(f: _Families, o: Observed) -> None:
    flatten(f, f"edgekit_{o.kind}", {"name": o.name}, snapshot_dict(o.obj))


def _health(f: _Families, telemetry: Source) -> None:
    h = telemetry.health()
    n: Labels = {}
    f.gauge(
        "edgekit_health_cpu_usage_ratio",
        "CPU busy, all cores, 0-1, since the previous scrape.",
        n,
        h.cpu_percent / 100,
        "ratio",
    )
    f.gauge(
        "edgekit_health_memory_used_bytes",
        "Memory in use (total minus available).",
        n,
        h.memory_used_bytes,
        "bytes",
    )
    f.gauge(
        "edgekit_health_memory_total_bytes", "Physical memory.", n, h.memory_total_bytes, "bytes"
    )
    f.gauge(
        "edgekit_health_disk_free_bytes",
        "Free bytes on the data directory's file system.",
        n,
        h.disk_free_bytes,
        "bytes",
    )
    f.gauge(
        "edgekit_health_disk_total_bytes",
        "Size of the data directory's file system.",
        n,
        h.disk_total_bytes,
        "bytes",
    )
    for zone, celsius in h.temperatures_c.items():
        f.gauge(
            "edgekit_health_temperature_celsius",
            "Thermal zone temperature.",
            {"zone": zone},
            celsius,
            "celsius",
        )
    f.gauge(
        "edgekit_health_process_resident_memory_bytes",
        "This process's resident memory.",
        n,
        h.rss_bytes,
        "bytes",
    )
    f.gauge(
        "edgekit_health_process_open_files", "File descriptors this process holds.", n, h.open_files
    )
    f.gauge(
        "edgekit_health_uptime_seconds",
        "Seconds since the device booted.",
        n,
        h.uptime_s,
        "seconds",
    )
    f.gauge(
        "edgekit_health_process_uptime_seconds",
        "Seconds since this process started.",
        n,
        h.process_uptime_s,
        "seconds",
    )


_READERS = {
    "queue": _queue,
    "sync": _sync,
    "infer": _infer,
    "scan": _scan,
    "guard": _guard,
    "recorder": _recorder,
}


def read_families(telemetry: Source, *, health: bool = True) -> list[Family]:
    """Every metric of ``telemetry``'s observed objects (and health), read now. An object
    whose snapshot fails (a closed queue) is left out of this reading and counted in
    ``edgekit_telemetry_read_errors{kind,name}``."""
    f = _Families()
    if health:
        _health(f, telemetry)
    for o in telemetry.observed:
        try:
            _READERS.get(o.kind, _generic)(f, o)
        except Exception:  # one closed object must not fail the scrape
            f.gauge(
                "edgekit_telemetry_read_errors",
                "1 when an observed object could not be read.",
                {"kind": o.kind, "name": o.name},
                1,
            )
    return [family for family in f.by_name.values() if family.samples]


def _inventory_status(inventory: Any, limit: int = 500) -> dict[str, Any]:
    devices = inventory.devices
    protocols: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for device in devices:
        protocols.update(device.protocols)
        kinds[device.kind or "unknown"] += 1
    return {
        "count": len(devices),
        "by_protocol": dict(sorted(protocols.items())),
        "by_kind": dict(sorted(kinds.items())),
        "evicted": inventory.evicted,
        "unavailable": dict(inventory.unavailable),
        "devices": [d.to_dict() for d in devices[:limit]],
    }


def status_of(o: Observed) -> dict[str, Any]:
    """One observed object's figures as JSON-ready values (the inventory: counts and the
    500 most recently seen devices)."""
    if o.kind == "scan":
        out = _inventory_status(o.obj)
    elif o.kind in ("queue", "infer", "guard", "recorder"):
        out = o.obj.stats().as_dict()
    elif o.kind == "sync":
        out = o.obj.status().as_dict()
    else:
        out = snapshot_dict(o.obj)
    out["name"] = o.name
    return dict(_json_ready(out))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value
