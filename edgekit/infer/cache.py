"""A result cache for inference: identical inputs to the same model return stored outputs."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
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


def key_prefix(
    model_digest: str, inputs: Sequence[tuple[str, np.dtype[Any], tuple[int, ...] | None]]
) -> str:
    """The part of a cache key fixed by the model: its digest, each input's name and dtype,
    and the shape of inputs whose shape is fixed (``None`` when the shape varies)."""
    return "|".join(
        [
            model_digest,
            *(
                f"{name}:{np.dtype(dtype).str}:{'*' if shape is None else shape}"
                for name, dtype, shape in inputs
            ),
        ]
    )


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
    used entries are evicted first. Recency is tracked once the cache is half full
    (before that no eviction is near, and a hit skips the reordering). One cache may be shared by several engines
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

        self._hash: Callable[[Any], int] = xxhash.xxh3_128_intdigest
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._data: OrderedDict[Any, tuple[Any, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self._hits = itertools.count()
        self.misses = 0
        self.evictions = 0
        self.expirations = 0

    # -- keys ------------------------------------------------------------------------------

    def key(self, model_digest: str, feeds: Mapping[str, np.ndarray], order: Sequence[str]) -> Any:
        """The cache key of ``feeds`` (taken in ``order``) for the model with ``model_digest``.

        ``(prefix, shape, hash, shape, hash, ...)`` where ``prefix`` joins the model
        digest with each input's name and dtype, and each ``hash`` is the xxh3-128
        of that input's bytes (C order).
        """
        prefix = key_prefix(model_digest, [(n, np.asarray(feeds[n]).dtype, None) for n in order])
        plan = tuple((n, True, False) for n in order)
        return self.fast_key(prefix, {n: np.asarray(feeds[n]) for n in order}, plan)

    def fast_key(
        self,
        prefix: str,
        feeds: Mapping[str, np.ndarray],
        plan: Sequence[tuple[str, bool, bool]],
    ) -> Any:
        """:meth:`key` for validated feeds, with the model's part precomputed (the engine's path).

        ``plan`` lists ``(input name, shape goes into the key, bytes go in as they are)``:
        an input of fixed shape has its shape in ``prefix`` already, and a fixed input
        of at most 16 bytes (a sample rate, a flag) enters as its bytes, which is exact
        and cheaper than hashing them.
        """
        hash_bytes = self._hash
        parts: list[Any] = [prefix]
        append = parts.append
        try:
            for name, with_shape, small in plan:
                a = feeds[name]
                if with_shape:
                    append(a.shape)
                append(a.tobytes() if small else hash_bytes(a))
        except (BufferError, TypeError, ValueError):  # not C-contiguous: hash a contiguous copy
            parts = [prefix]
            for name, with_shape, small in plan:
                a = np.ascontiguousarray(feeds[name])
                if with_shape:
                    parts.append(a.shape)
                parts.append(a.tobytes() if small else hash_bytes(a))
        return tuple(parts)

    # -- lookups ---------------------------------------------------------------------------

    def get(self, key: Any) -> Any | None:
        """The value stored under ``key``, or ``None``; counts a hit or a miss.

        A hit takes no lock: reading and reordering an ``OrderedDict`` are single
        C calls under the GIL, and the hit counter is an atomic ``itertools.count``.
        """
        entry = self._data.get(key)
        if entry is None or (self.ttl is not None and time.monotonic() > entry[2]):
            self._miss(key, entry)
            return None
        if self._track_recency():
            try:  # noqa: SIM105 - try is cheaper than contextlib.suppress on this path
                self._data.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile: the result is still valid
                pass
        next(self._hits)
        return entry[0]

    def _track_recency(self) -> bool:
        """Recency matters once the cache is half full: only then can eviction come soon."""
        return (self.max_entries is not None and 2 * len(self._data) >= self.max_entries) or (
            self.max_bytes is not None and 2 * self._bytes >= self.max_bytes
        )

    def _miss(self, key: Any, entry: Any) -> None:
        with self._lock:
            if entry is not None and self._data.get(key) is entry:
                self._drop(key)
                self.expirations += 1
            self.misses += 1

    @property
    def hits(self) -> int:
        """Lookups that found a valid entry."""
        return int(self._hits.__reduce__()[1][0])

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
            self._hits = itertools.count()
            self.misses = self.evictions = self.expirations = 0

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
