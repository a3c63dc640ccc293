""":class:`ResourceGuard`: watches memory, storage and CPU, and acts when one is over its
limit (evicts by the queue's policy, pauses sync engines, refuses new inference, calls the
host); every action counted in :meth:`ResourceGuard.stats`."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from edgekit._snapshot import Snapshot
from edgekit.errors import InvalidInputError, ResourceLimitError
from edgekit.telemetry.health import _cpu_total, _psutil
from edgekit.telemetry.observe import kind_of

__all__ = ["GatedEngine", "GuardStats", "ResourceGuard"]

Resource = Literal["memory", "storage", "cpu"]
OnExceeded = Callable[[str, float, float], object]


@dataclass(frozen=True)
class GuardStats(Snapshot):
    """What a :class:`ResourceGuard` saw and did (a table in Jupyter).

    Attributes:
        max_memory_bytes: The process's resident memory limit, or None.
        max_storage_bytes: The limit on bytes stored by the watched queues, or None.
        max_cpu_percent: The CPU limit (0-100), or None.
        memory_bytes: Resident memory of this process at the last check.
        storage_bytes: Bytes the watched queues stored at the last check (after eviction).
        cpu_percent: CPU busy (the system's or this process's, see ``cpu``) between the
            last two checks, 0-100 of one core for a process, of all cores for the system.
        exceeded: The resources over their limit at the last check.
        actions: How many times each action was taken: ``evict`` (a queue dropped
            messages by its policy), ``evict_refused`` (storage over, but a queue's policy
            is "reject"), ``pause`` / ``resume`` (of a watched engine), ``refuse`` (an
            inference request refused), ``callback`` / ``callback_error`` (the host's).
        refused: Inference requests refused with ResourceLimitError.
        evicted_messages: Messages the guard had the queues evict.
        paused: Names of the objects the guard has paused now.
        checks: Checks run.
        last_check_at: When the last check ran (the guard's clock, seconds since the
            epoch), or None.
    """

    max_memory_bytes: int | None
    max_storage_bytes: int | None
    max_cpu_percent: float | None
    memory_bytes: int | None
    storage_bytes: int | None
    cpu_percent: float | None
    exceeded: tuple[str, ...]
    actions: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    evicted_messages: int = 0
    paused: tuple[str, ...] = ()
    checks: int = 0
    last_check_at: float | None = None


def _limit(name: str, value: float | None, *, upper: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(f"{name} must be a positive number or None, not {value!r}")
    if upper is not None and value > upper:
        raise InvalidInputError(f"{name} must be at most {upper}, not {value!r}")
    return value


def _observed_as(obj: Any) -> str | None:
    try:
        return kind_of(obj)
    except InvalidInputError:
        return None


def _paused(obj: Any) -> bool:
    """Whether ``obj`` is paused already (its ``paused`` flag or ``status().paused``)."""
    flag = getattr(obj, "paused", None)
    if isinstance(flag, bool):
        return flag
    status = getattr(obj, "status", None)
    return callable(status) and bool(getattr(status(), "paused", False))


class ResourceGuard:
    """Watches memory, storage and CPU every ``interval_s`` (or at each :meth:`check`) and
    acts while one is over its limit:

    - storage: the watched queues evict by their own policy (``drop_oldest``,
      ``drop_lowest_priority``) down to ``1 - headroom`` of ``max_storage``; a queue whose
      policy is ``"reject"`` keeps every message (counted as ``evict_refused``);
    - CPU: the watched sync engines (and any watched object with ``pause()`` /
      ``resume()``) are paused, and resumed once CPU is back under the limit (only those
      the guard paused);
    - memory: new inference through :meth:`gate`'d engines (or :meth:`admit`) is refused
      with :class:`~edgekit.errors.ResourceLimitError` until memory is back under;
    - every resource: ``on_exceeded(resource, value, limit)`` is called when it goes over.

    Args:
        max_memory: Limit on this process's resident memory, bytes.
        max_storage: Limit on the bytes the watched queues store together.
        max_cpu_percent: Limit on CPU busy, percent (0-100; of one core for
            ``cpu="process"``, of all cores for ``cpu="system"``).
        on_exceeded: Host callback ``(resource, value, limit)``; its errors are counted,
            never raised.
        interval_s: Seconds between checks of the background thread (:meth:`start`).
        cpu: Whose CPU is measured: ``"system"`` (the device) or ``"process"`` (this
            process).
        headroom: Fraction under ``max_storage`` that eviction goes down to.
        clock: Wall clock (``last_check_at``), seconds since the epoch.

    Raises:
        InvalidInputError: A limit is not a positive number, or an argument is wrong.
        BackendUnavailableError: psutil is not installed (the ``telemetry`` extra).
    """

    def __init__(
        self,
        *,
        max_memory: int | None = None,
        max_storage: int | None = None,
        max_cpu_percent: float | None = None,
        on_exceeded: OnExceeded | None = None,
        interval_s: float = 5.0,
        cpu: Literal["system", "process"] = "system",
        headroom: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_memory = _limit("max_memory", max_memory)
        self.max_storage = _limit("max_storage", max_storage)
        self.max_cpu_percent = _limit("max_cpu_percent", max_cpu_percent, upper=100.0)
        if on_exceeded is not None and not callable(on_exceeded):
            raise InvalidInputError("on_exceeded must be a callable (resource, value, limit)")
        if not interval_s > 0:
            raise InvalidInputError(f"interval_s must be > 0, not {interval_s!r}")
        if cpu not in ("system", "process"):
            raise InvalidInputError(f"cpu must be 'system' or 'process', not {cpu!r}")
        if not 0 <= headroom < 1:
            raise InvalidInputError(f"headroom must be in [0, 1), not {headroom!r}")
        self.on_exceeded = on_exceeded
        self.interval_s = float(interval_s)
        self.cpu = cpu
        self.headroom = float(headroom)
        self.clock = clock
        self._psutil = _psutil()
        self._process = self._psutil.Process()
        self._cpu_mark = self._cpu_sample()
        self._queues: list[Any] = []
        self._pausable: list[Any] = []
        self._paused: list[Any] = []
        self._exceeded: frozenset[str] = frozenset()
        self._memory_over = False
        self._actions: Counter[str] = Counter()
        self._refused = 0
        self._evicted = 0
        self._checks = 0
        self._last: dict[str, float | None] = {"memory": None, "storage": None, "cpu": None}
        self._last_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is watched ----------------------------------------------------------------

    def watch(self, *objects: Any) -> ResourceGuard:
        """Watch queues (their storage), sync engines and anything with ``pause()`` /
        ``resume()`` (paused while CPU is over); returns self.

        Raises:
            InvalidInputError: An object is neither.
        """
        for obj in objects:
            is_queue = _observed_as(obj) == "queue"
            pausable = callable(getattr(obj, "pause", None)) and callable(
                getattr(obj, "resume", None)
            )
            if not (is_queue or pausable):
                raise InvalidInputError(
                    "a ResourceGuard watches queues and objects with pause()/resume(),"
                    f" not a {type(obj).__name__} (gate an InferenceEngine with gate())"
                )
            with self._lock:
                kept = self._queues if is_queue else self._pausable
                if not any(o is obj for o in kept):
                    kept.append(obj)
        return self

    def gate(self, engine: Any) -> GatedEngine:
        """``engine`` behind this guard: its ``run``/``submit`` raise ResourceLimitError
        while memory is over (everything else is the engine's)."""
        return GatedEngine(engine, self)

    def admit(self) -> None:
        """Raise :class:`~edgekit.errors.ResourceLimitError` while memory is over its limit
        (counted as ``refuse``); a host calls it before work it wants guarded."""
        if self._memory_over:
            with self._lock:
                self._refused += 1
                self._actions["refuse"] += 1
            used = self._last["memory"]
            raise ResourceLimitError(
                f"inference refused: this process holds {used or 0:,.0f} bytes of memory, "
                f"over the guard's max_memory of {self.max_memory:,.0f}"
            )

    # -- checking -----------------------------------------------------------------------

    def _cpu_sample(self) -> tuple[float, float]:
        if self.cpu == "process":
            times = self._process.cpu_times()
            return time.monotonic(), float(times.user + times.system)
        times = self._psutil.cpu_times()
        busy = _cpu_total(times) - times.idle - getattr(times, "iowait", 0.0)
        return _cpu_total(times), busy

    def _cpu_percent(self) -> float:
        before, self._cpu_mark = self._cpu_mark, self._cpu_sample()
        span = self._cpu_mark[0] - before[0]
        busy = self._cpu_mark[1] - before[1]
        return 0.0 if span <= 0 else max(100.0 * busy / span, 0.0)

    def _storage(self) -> int:
        return sum(int(q.stats().stored_bytes) for q in self._queues)

    def _evict(self, stored: int) -> int:
        assert self.max_storage is not None
        target = int(self.max_storage * (1 - self.headroom))
        for queue in self._queues:
            if stored <= target:
                break
            if queue.eviction == "reject":
                self._actions["evict_refused"] += 1
                continue
            have = int(queue.stats().stored_bytes)
            dropped = queue.evict(max(have - (stored - target), 0))
            if dropped:
                self._actions["evict"] += 1
                self._evicted += dropped
            stored = self._storage()
        return stored

    def check(self) -> GuardStats:
        """Measure every limited resource now, act on those over their limit, and
        return the stats."""
        with self._lock:
            measured: dict[str, tuple[float, float]] = {}
            if self.max_memory is not None:
                rss = float(self._process.memory_info().rss)
                self._last["memory"] = rss
                measured["memory"] = (rss, self.max_memory)
            if self.max_storage is not None and self._queues:
                stored = self._storage()
                if stored > self.max_storage:
                    measured["storage"] = (stored, self.max_storage)
                    stored = self._evict(stored)
                self._last["storage"] = stored
                measured.setdefault("storage", (stored, self.max_storage))
            if self.max_cpu_percent is not None:
                cpu = self._cpu_percent()
                self._last["cpu"] = cpu
                measured["cpu"] = (cpu, self.max_cpu_percent)
            over = frozenset(r for r, (value, limit) in measured.items() if value > limit)
            self._memory_over = "memory" in over
            if "cpu" in over:
                for obj in self._pausable:
                    if not any(p is obj for p in self._paused) and not _paused(obj):
                        obj.pause()
                        self._paused.append(obj)
                        self._actions["pause"] += 1
            elif self._paused:
                for obj in self._paused:
                    obj.resume()
                    self._actions["resume"] += 1
                self._paused.clear()
            newly = sorted(over - self._exceeded)
            self._exceeded = over
            self._checks += 1
            self._last_at = self.clock()
        for resource in newly:
            self._call(resource, *measured[resource])
        return self.stats()

    def _call(self, resource: str, value: float, limit: float) -> None:
        if self.on_exceeded is None:
            return
        try:
            self.on_exceeded(resource, value, limit)
            outcome = "callback"
        except Exception:  # the host's error must not stop the guard
            outcome = "callback_error"
        with self._lock:
            self._actions[outcome] += 1

    def stats(self) -> GuardStats:
        """Limits, the last measurements, what is over, and every action counted."""
        with self._lock:
            last = self._last
            return GuardStats(
                max_memory_bytes=None if self.max_memory is None else int(self.max_memory),
                max_storage_bytes=None if self.max_storage is None else int(self.max_storage),
                max_cpu_percent=self.max_cpu_percent,
                memory_bytes=None if last["memory"] is None else int(last["memory"]),
                storage_bytes=None if last["storage"] is None else int(last["storage"]),
                cpu_percent=last["cpu"],
                exceeded=tuple(sorted(self._exceeded)),
                actions=dict(sorted(self._actions.items())),
                refused=self._refused,
                evicted_messages=self._evicted,
                paused=tuple(type(p).__name__ for p in self._paused),
                checks=self._checks,
                last_check_at=self._last_at,
            )

    # -- background thread -----------------------------------------------------------------

    def start(self) -> ResourceGuard:
        """Check every ``interval_s`` in a daemon thread until :meth:`stop`; returns self."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="edgekit-guard", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # a closed queue: counted, the guard goes on
                with self._lock:
                    self._actions["check_error"] += 1

    def stop(self) -> None:
        """Stop the background thread and resume what the guard paused."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            for obj in self._paused:
                obj.resume()
                self._actions["resume"] += 1
            self._paused.clear()

    def __enter__(self) -> ResourceGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GatedEngine:
    """An :class:`~edgekit.infer.InferenceEngine` behind a :class:`ResourceGuard`: ``run``,
    ``submit`` and calling it raise :class:`~edgekit.errors.ResourceLimitError` while the
    guard's memory limit is exceeded; every other attribute is the engine's."""

    def __init__(self, engine: Any, guard: ResourceGuard) -> None:
        self.engine = engine
        self.guard = guard

    def run(self, feeds: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        """The engine's ``run``, once the guard admits it."""
        self.guard.admit()
        result: dict[str, np.ndarray] = self.engine.run(feeds, **kwargs)
        return result

    __call__ = run

    def submit(self, feeds: Any, **kwargs: Any) -> Future[dict[str, np.ndarray]]:
        """The engine's ``submit``, once the guard admits it."""
        self.guard.admit()
        future: Future[dict[str, np.ndarray]] = self.engine.submit(feeds, **kwargs)
        return future

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
