"""A result cache for inference: identical inputs to the same model return stored outputs."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.errors import InvalidInputError

__all__ = ["CacheInfo", "ResultCache"]

_ENTRY_OVERHEAD = 256  # bytes charged per entry for the key, dict slot and array headers


@dataclass(frozen=True)
class CacheInfo:
    """Counters and size of a :class:`ResultCache`."""

    hits: int
    misses: int
    evictions: int
    expirations: int
    entries: int
    bytes: int
    max_entries: int | None
    max_bytes: int | None
    ttl: float | None

    @property
    def hit_rate(self) -> float:
        """Hits over lookups, 0.0 before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ResultCache:
    """Least-recently-used store of model outputs keyed by exact inputs.

    A key is the model's digest (xxh3-128 of the model file) and, for each input in
    the model's input order, its name, dtype, shape and the xxh3-128 hash of its
    bytes. Two inputs with equal bytes but another shape or dtype are different keys.

    Outputs are stored as read-only arrays and the same read-only arrays are
    returned on a hit (and on the miss that stored them): a caller cannot change
    what the cache holds. Copy an output (``out.copy()``) to modify it.

    Bounds: ``max_entries`` entries, ``max_bytes`` bytes of outputs (plus a small
    fixed charge per entry) and ``ttl`` seconds since insertion; the least recently
    used entries are evicted first. One cache may be shared by several engines
    (the model digest keeps their entries apart) and by several threads.

    Args:
        max_entries: most entries kept; ``None`` for no limit on the count.
        max_bytes: most bytes of outputs kept; ``None`` for no limit on size.
        ttl: seconds an entry stays valid after it was stored; ``None`` for ever.
    """

    def __init__(
        self,
        max_entries: int | None = 4096,
        max_bytes: int | None = 64 * 1024 * 1024,
        ttl: float | None = None,
    ) -> None:
        if max_entries is not None and max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1 or None, not {max_entries}")
        if max_bytes is not None and max_bytes < 1:
            raise InvalidInputError(f"max_bytes must be at least 1 or None, not {max_bytes}")
        if ttl is not None and not ttl > 0:
            raise InvalidInputError(f"ttl must be a positive number of seconds or None, not {ttl}")
        import xxhash

        self._hash = xxhash.xxh3_128_intdigest
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._data: OrderedDict[Any, tuple[Any, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.expirations = 0

    # -- keys ------------------------------------------------------------------------------

    def key(self, model_digest: str, feeds: Mapping[str, np.ndarray], order: Sequence[str]) -> Any:
        """The cache key of ``feeds`` (taken in ``order``) for the model with ``model_digest``."""
        parts: list[Any] = [model_digest]
        hash_bytes = self._hash
        for name in order:
            a = feeds[name]
            try:
                h = hash_bytes(a)
            except (BufferError, TypeError, ValueError):
                h = hash_bytes(np.ascontiguousarray(a))
            parts += (name, a.dtype.str, a.shape, h)
        return tuple(parts)

    # -- lookups ---------------------------------------------------------------------------

    def get(self, key: Any) -> Any | None:
        """The value stored under ``key``, or ``None``; counts a hit or a miss."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            if self.ttl is not None and time.monotonic() > entry[2]:
                self._drop(key)
                self.expirations += 1
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Any, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Store ``outputs`` (made read-only) under ``key`` and return them.

        Arrays that do not own their memory are copied first, so no other object can
        change them later.
        """
        frozen: dict[str, np.ndarray] = {}
        size = _ENTRY_OVERHEAD
        for name, array in outputs.items():
            a = np.asarray(array)
            if a.base is not None or a.flags.writeable is False:
                a = a.copy()
            a.flags.writeable = False
            frozen[name] = a
            size += a.nbytes
        if self.max_bytes is not None and size > self.max_bytes:
            return frozen  # larger than the whole cache: never stored
        expires = time.monotonic() + self.ttl if self.ttl is not None else 0.0
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (frozen, size, expires)
            self._bytes += size
            self._evict()
        return frozen

    def _drop(self, key: Any) -> None:
        entry = self._data.pop(key)
        self._bytes -= entry[1]

    def _evict(self) -> None:
        data = self._data
        while (self.max_entries is not None and len(data) > self.max_entries) or (
            self.max_bytes is not None and self._bytes > self.max_bytes
        ):
            _, entry = data.popitem(last=False)
            self._bytes -= entry[1]
            self.evictions += 1

    # -- housekeeping ----------------------------------------------------------------------

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def reset_counters(self) -> None:
        """Set hits, misses, evictions and expirations back to zero."""
        with self._lock:
            self.hits = self.misses = self.evictions = self.expirations = 0

    def info(self) -> CacheInfo:
        """Counters and current size."""
        with self._lock:
            return CacheInfo(
                self.hits,
                self.misses,
                self.evictions,
                self.expirations,
                len(self._data),
                self._bytes,
                self.max_entries,
                self.max_bytes,
                self.ttl,
            )

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        i = self.info()
        return (
            f"ResultCache(entries={i.entries}, bytes={i.bytes}, hits={i.hits}, "
            f"misses={i.misses}, evictions={i.evictions})"
        )
