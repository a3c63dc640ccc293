"""The values a state store hands out: :class:`Entry`, :class:`Change`, :class:`Conflict`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from edgekit.state.hlc import Hlc

__all__ = ["Change", "Conflict", "Entry"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's state: its value, the HLC stamp and node of the write that made it.

    ``deleted``: a tombstone (``value`` is None). ``siblings``: the other values kept by
    the ``keep_both`` strategy, until a later write replaces them.
    """

    key: str
    value: Any
    hlc: Hlc
    node_id: str
    deleted: bool = False
    siblings: tuple[Any, ...] = ()

    def order(self) -> tuple[Hlc, str]:
        """What last-writer-wins compares: the stamp, then the node id."""
        return (self.hlc, self.node_id)

    def as_dict(self) -> dict[str, Any]:
        """The entry as plain JSON-ready values."""
        out: dict[str, Any] = {
            "key": self.key,
            "value": self.value,
            "hlc": list(self.hlc),
            "node_id": self.node_id,
            "deleted": self.deleted,
        }
        if self.siblings:
            out["siblings"] = list(self.siblings)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        """The inverse of :meth:`as_dict`."""
        hlc = d["hlc"]
        return cls(
            str(d["key"]),
            d.get("value"),
            Hlc(int(hlc[0]), int(hlc[1])),
            str(d["node_id"]),
            bool(d.get("deleted", False)),
            tuple(d.get("siblings", ())),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """What subscribers receive after a key's visible entry changed.

    ``previous``: the entry before (None: the key was new), ``origin``: ``"local"`` for
    this process's writes, ``"remote"`` for entries applied from a replica.
    """

    entry: Entry
    origin: Literal["local", "remote"]
    previous: Entry | None


@dataclass(frozen=True, slots=True)
class Conflict:
    """One true conflict (both sides changed the key since the last synced base) and how
    it was resolved. ``at``: when, seconds since the epoch (the store's clock)."""

    key: str
    strategy: str
    base: Entry | None
    local: Entry | None
    remote: Entry
    result: Entry
    at: float

    def as_dict(self) -> dict[str, Any]:
        """The conflict as plain JSON-ready values."""
        return {
            "key": self.key,
            "strategy": self.strategy,
            "base": None if self.base is None else self.base.as_dict(),
            "local": None if self.local is None else self.local.as_dict(),
            "remote": self.remote.as_dict(),
            "result": self.result.as_dict(),
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Conflict:
        """The inverse of :meth:`as_dict`."""

        def entry(x: Any) -> Entry | None:
            return None if x is None else Entry.from_dict(x)

        remote, result = entry(d["remote"]), entry(d["result"])
        assert remote is not None and result is not None
        return cls(
            str(d["key"]),
            str(d["strategy"]),
            entry(d["base"]),
            entry(d["local"]),
            remote,
            result,
            float(d["at"]),
        )
