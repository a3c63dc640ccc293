"""The :class:`Telemetry` registry of observed objects: what the host has, read at scrape time."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import InvalidInputError
from edgekit.telemetry.collector import make_registry, text_format
from edgekit.telemetry.health import THERMAL_ROOT, Health, HealthReader
from edgekit.telemetry.metrics import Family, Observed, read_families, status_of

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Observed", "Telemetry", "kind_of"]

MiB = 1 << 20

# (module, class name) of each layer's class -> the kind it is observed as. Matched on the
# object's MRO, so no layer is imported to recognise it.
_CLASSES: dict[tuple[str, str], str] = {
    ("edgekit.sync.queue._queue", "SyncQueue"): "queue",
    ("edgekit.sync.engine", "SyncEngine"): "sync",
    ("edgekit.infer.engine", "InferenceEngine"): "infer",
    ("edgekit.telemetry.guard", "GatedEngine"): "infer",
    ("edgekit.scan.inventory", "Inventory"): "scan",
    ("edgekit.telemetry.guard", "ResourceGuard"): "guard",
    ("edgekit.telemetry.recorder", "TelemetryRecorder"): "recorder",
}
# Packages whose objects are observed through their stats()/status() snapshots, duck-typed.
_PACKAGES = {"edgekit.state": "state", "edgekit.mesh": "mesh"}
KINDS = ("queue", "sync", "infer", "scan", "state", "mesh", "guard", "recorder", "other")


def kind_of(obj: Any) -> str:
    """What ``obj`` is observed as: ``queue``, ``sync``, ``infer``, ``scan``, ``state``,
    ``mesh``, ``guard``, ``recorder``, or ``other`` (any object with a ``stats()`` or
    ``status()`` method).

    Raises:
        InvalidInputError: ``obj`` is none of those.
    """
    for cls in type(obj).__mro__:
        kind = _CLASSES.get((cls.__module__, cls.__name__))
        if kind is not None:
            return kind
    module = type(obj).__module__
    for package, kind in _PACKAGES.items():
        if module == package or module.startswith(package + "."):
            return kind
    if callable(getattr(obj, "stats", None)) or callable(getattr(obj, "status", None)):
        return "other"
    raise InvalidInputError(
        f"cannot observe a {type(obj).__name__}: pass a SyncQueue, SyncEngine, "
        "InferenceEngine, Inventory, ResourceGuard, TelemetryRecorder, or an object "
        "with a stats() or status() method"
    )


def _default_name(kind: str, obj: Any) -> str:
    if kind == "queue":
        return Path(obj.path).name
    if kind == "sync":
        return Path(obj.queue.path).name
    if kind == "infer":
        return str(obj.model_name)
    if kind in ("state", "mesh", "other"):
        return type(obj).__name__
    return kind


class Telemetry:
    """The objects a host observes, read at scrape time (nothing is counted on a hot path).

    Args:
        data_dir: The directory whose disk's free space is health's ``disk_free_bytes``
            (default: the first observed queue's directory, else the current directory).
        clock: Wall clock in seconds since the epoch (``status()["time"]``, how long the
            sync engine has been failing).
        thermal_root: Where thermal zones are read (``/sys/class/thermal``).
        disk_floor_bytes: ``healthy()`` is False when less disk than this is free.
        failing_after_s: ``healthy()`` is False when a sync engine has had an error and
            no success for this long.
    """

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        thermal_root: str | os.PathLike[str] = THERMAL_ROOT,
        disk_floor_bytes: int = 64 * MiB,
        failing_after_s: float = 300.0,
    ) -> None:
        if not callable(clock):
            raise InvalidInputError("clock must be a callable returning seconds since the epoch")
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.clock = clock
        self.thermal_root = Path(thermal_root)
        self.disk_floor_bytes = int(disk_floor_bytes)
        self.failing_after_s = float(failing_after_s)
        self._observed: list[Observed] = []
        self._lock = threading.Lock()
        self._registry: CollectorRegistry | None = None
        self._health: HealthReader | None = None
        self._failing_since: dict[str, tuple[float | None, float]] = {}

    # -- registration ---------------------------------------------------------------------

    def observe(self, *objects: Any, name: str | None = None) -> Telemetry:
        """Observe ``objects`` (a SyncQueue, SyncEngine, InferenceEngine, Inventory,
        ResourceGuard, TelemetryRecorder, or a state store/sync or any object with a
        ``stats()`` or ``status()`` snapshot); returns self. ``name`` labels the one object
        given (default: the queue's directory name, the engine's queue's, the model's
        name, the class name of a state, mesh or other object, else its kind; a second
        object of a kind with the same name gets ``-2``).

        Raises:
            InvalidInputError: An object cannot be observed, or ``name`` is given with
                more than one object.
        """
        if name is not None and len(objects) != 1:
            raise InvalidInputError("name labels one object: observe them one at a time")
        kinds = [kind_of(obj) for obj in objects]
        with self._lock:
            for obj, kind in zip(objects, kinds, strict=True):
                if any(o.obj is obj for o in self._observed):
                    continue
                base = name if name is not None else _default_name(kind, obj)
                taken = {o.name for o in self._observed if o.kind == kind}
                label, n = base, 1
                while label in taken:
                    n += 1
                    label = f"{base}-{n}"
                self._observed.append(Observed(kind, label, obj))
        return self

    def forget(self, obj: Any) -> None:
        """Stop observing ``obj`` (nothing happens if it was not observed)."""
        with self._lock:
            self._observed = [o for o in self._observed if o.obj is not obj]

    @property
    def observed(self) -> list[Observed]:
        """What is observed, in the order it was registered."""
        with self._lock:
            return list(self._observed)

    def of_kind(self, kind: str) -> list[Observed]:
        """The observed objects of one kind (see :func:`kind_of`)."""
        return [o for o in self.observed if o.kind == kind]

    # -- reading --------------------------------------------------------------------------

    @property
    def health_reader(self) -> HealthReader:
        """The :class:`HealthReader` of the data directory (made on first use).

        Raises:
            BackendUnavailableError: psutil is not installed (the ``telemetry`` extra).
        """
        if self._health is None:
            data_dir = self.data_dir
            if data_dir is None:
                queues = self.of_kind("queue")
                data_dir = Path(queues[0].obj.path).parent if queues else None
            self._health = HealthReader(data_dir, thermal_root=self.thermal_root)
        return self._health

    def health(self) -> Health:
        """CPU, memory, disk free for the data directory, temperature, RSS, open files and
        uptimes (:class:`~edgekit.telemetry.health.Health`)."""
        return self.health_reader.read()

    def families(self, *, health: bool = True) -> list[Family]:
        """Every metric of everything observed, read now (the neutral form the Prometheus
        collector, the recorder and the OpenTelemetry export share)."""
        return read_families(self, health=health)

    @property
    def registry(self) -> CollectorRegistry:
        """A ``prometheus_client`` registry that holds this telemetry's collector only
        (nothing global).

        Raises:
            BackendUnavailableError: prometheus_client is not installed (the
                ``telemetry`` extra).
        """
        if self._registry is None:
            self._registry = make_registry(self)
        return self._registry

    def metrics_text(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4) of everything observed: what
        ``generate_latest(self.registry)`` gives, written directly (it needs no
        prometheus_client)."""
        return text_format(self.families())

    def status(self) -> dict[str, Any]:
        """JSON-ready figures: ``{"health", "queue", "sync", "infer", "scan", "state",
        "mesh", "guard", "recorder", "time", "observed"}``; a kind not observed is None, a
        kind observed more than once shows its first (``observed`` lists every name by
        kind, and ``all`` holds every object's figures by kind and name)."""
        out: dict[str, Any] = {"health": self.health().as_dict()}
        every: dict[str, dict[str, Any]] = {}
        for o in self.observed:
            every.setdefault(o.kind, {})[o.name] = status_of(o)
        for kind in KINDS:
            figures = every.get(kind)
            out[kind] = None if not figures else next(iter(figures.values()))
        out["observed"] = {kind: list(figures) for kind, figures in every.items()}
        out["all"] = every
        out["time"] = self.clock()
        return out

    def healthy(self) -> tuple[bool, list[str]]:
        """For ``/healthz``: True, or False with the reasons (less than
        ``disk_floor_bytes`` free, a resource guard's limit exceeded, a sync engine with
        an error and no success for ``failing_after_s``)."""
        reasons: list[str] = []
        health = self.health()
        if health.disk_free_bytes < self.disk_floor_bytes:
            reasons.append(
                f"disk: {health.disk_free_bytes:,} bytes free on {health.data_dir}, "
                f"below the floor of {self.disk_floor_bytes:,}"
            )
        for o in self.of_kind("guard"):
            for resource in o.obj.stats().exceeded:
                reasons.append(f"guard {o.name}: {resource} limit exceeded")
        now = self.clock()
        for o in self.of_kind("sync"):
            status = o.obj.status()
            if status.last_error is None:
                self._failing_since.pop(o.name, None)
                continue
            last, since = self._failing_since.get(o.name, (status.last_success_at, now))
            if last != status.last_success_at:  # a success since: failing anew
                since = now
            self._failing_since[o.name] = (status.last_success_at, since)
            if now - since >= self.failing_after_s:
                reasons.append(
                    f"sync {o.name}: failing for {now - since:.0f} s: {status.last_error}"
                )
        return not reasons, reasons
