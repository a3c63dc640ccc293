""":class:`Twin`: a device twin (AWS IoT shadow semantics) on a :class:`StateStore`.

A twin named ``pump1`` keeps each top-level field of its ``desired`` and ``reported``
documents as one key, ``twin/pump1/desired/<field>`` and ``twin/pump1/reported/<field>``,
so each field replicates and resolves conflicts on its own (with patterns such as
``{"twin/*/desired/*": "cloud_wins", "twin/*/reported/*": "edge_wins"}``). Updates are
JSON merge patches (RFC 7396: ``None`` deletes a field); ``delta`` is what ``desired``
asks that ``reported`` does not show yet.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from edgekit.errors import InvalidInputError
from edgekit.state.store import Change, StateStore

__all__ = ["Twin", "delta", "merge_patch"]

_NAME = re.compile(r"[A-Za-z0-9_=-][A-Za-z0-9_.=-]{0,99}")
_FIELD = re.compile(r"[A-Za-z0-9_=-]([A-Za-z0-9_.=-]{0,98}[A-Za-z0-9_=-])?")


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the JSON merge ``patch`` applied (RFC 7396); inputs are not changed."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = merge_patch(out.get(name), value)
    return out


def delta(desired: Mapping[str, Any], reported: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``desired`` that differ from ``reported`` (objects compared field by
    field, arrays and scalars as a whole), as AWS IoT computes a shadow's delta."""
    out: dict[str, Any] = {}
    for name, want in desired.items():
        have = reported.get(name)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            sub = delta(want, have)
            if sub:
                out[name] = sub
        elif name not in reported or want != have or type(want) is not type(have):
            out[name] = want
    return out


def _depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, (list, tuple)):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


class Twin:
    """The twin ``name`` of ``store``.

    Args:
        store: Where the twin lives (and replicates, with the store's sync).
        name: 1 to 100 of ``A-Z a-z 0-9 _ . = -`` (not starting with ``.``).
        max_bytes: The largest the twin's desired and reported documents may be together,
            as compact JSON.
        max_depth: How deeply a document may nest objects and arrays (``{"a": {"b": 1}}``
            is 2 deep).
    """

    def __init__(
        self, store: StateStore, name: str, *, max_bytes: int = 64 * 1024, max_depth: int = 8
    ) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith("."):
            raise InvalidInputError(
                f"twin name {name!r} must be 1 to 100 of A-Z a-z 0-9 _ . = - (not starting "
                "or ending with '.')"
            )
        self.store = store
        self.name = name
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.prefix = f"twin/{name}/"
        self._lock = threading.Lock()

    def _section(self, section: str) -> dict[str, Any]:
        head = f"{self.prefix}{section}/"
        return {k[len(head) :]: v for k, v in self.store.items(head)}

    @property
    def desired(self) -> dict[str, Any]:
        """The desired document (what the cloud or the host asks for)."""
        return self._section("desired")

    @property
    def reported(self) -> dict[str, Any]:
        """The reported document (what the device says it is)."""
        return self._section("reported")

    @property
    def delta(self) -> dict[str, Any]:
        """The fields of ``desired`` that ``reported`` does not show yet."""
        return delta(self.desired, self.reported)

    @property
    def version(self) -> int:
        """Grows with every change of the twin, local or remote (the latest HLC stamp of
        its fields, as ``wall_ms * 2**20 + logical``); 0 for a twin never written."""
        stamps = [e.hlc for e in self.store.entries(self.prefix)]
        if not stamps:
            return 0
        wall, logical = max(stamps)
        return int(wall) * (1 << 20) + int(logical)

    def document(self) -> dict[str, Any]:
        """The whole twin as AWS writes a shadow: ``{"state": {"desired", "reported",
        "delta"}, "version"}`` (``delta`` left out when empty)."""
        desired, reported = self.desired, self.reported
        state: dict[str, Any] = {"desired": desired, "reported": reported}
        d = delta(desired, reported)
        if d:
            state["delta"] = d
        return {"state": state, "version": self.version}

    def set_desired(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``patch`` into ``desired`` (RFC 7396); returns the new desired document.

        Raises:
            InvalidInputError: ``patch`` is not an object, a field name cannot be a key
                segment, or the twin would pass ``max_bytes`` or ``max_depth``; nothing
                is stored.
        """
        return self._patch("desired", patch)

    def report(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``patch`` into ``reported`` (RFC 7396); returns the new reported document.

        Raises:
            InvalidInputError: As :meth:`set_desired`.
        """
        return self._patch("reported", patch)

    def _patch(self, section: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, Mapping):
            raise InvalidInputError(
                f"twin {self.name!r}: a {section} patch must be an object (a dict), not "
                f"{type(patch).__name__}"
            )
        for field in patch:
            if not isinstance(field, str) or not _FIELD.fullmatch(field):
                raise InvalidInputError(
                    f"twin {self.name!r}: top-level field {field!r} must be 1 to 100 of "
                    "A-Z a-z 0-9 _ . = - (not starting or ending with '.'); nest other names"
                )
        with self._lock:
            current = self._section(section)
            new: dict[str, Any] = merge_patch(current, patch)
            other = self._section("reported" if section == "desired" else "desired")
            depth = _depth(new)
            if depth > self.max_depth:
                raise InvalidInputError(
                    f"twin {self.name!r}: the {section} document would nest {depth} deep, "
                    f"more than max_depth={self.max_depth}"
                )
            try:
                size = len(json.dumps([new, other], separators=(",", ":"), allow_nan=False)) - 3
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"twin {self.name!r}: the {section} patch is not JSON ({exc})"
                ) from exc
            if size > self.max_bytes:
                raise InvalidInputError(
                    f"twin {self.name!r}: desired and reported would be {size:,} bytes as "
                    f"JSON, more than max_bytes={self.max_bytes:,}"
                )
            head = f"{self.prefix}{section}/"
            sets = {head + f: v for f, v in new.items() if f not in current or current[f] != v}
            gone = [head + f for f in current if f not in new]
            if sets or gone:
                self.store.update(sets, delete=gone)
            return new

    def on_delta(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(delta)`` after every change of the delta (``{}`` once it
        empties), local or remote, with the delta of the twin as it is then: after a
        replicator applies a reconnect's changes in one batch, once, with the final
        desired state. Returns the function that unsubscribes."""
        last = [self.delta]
        lock = threading.Lock()

        def on_change(change: Change) -> None:
            if not change.entry.key.startswith(self.prefix):
                return
            with lock:
                now = self.delta
                if now == last[0]:
                    return
                last[0] = now
            callback(now)

        return self.store.subscribe(on_change)

    def __repr__(self) -> str:
        return f"Twin({self.name!r}, store={self.store.path})"
