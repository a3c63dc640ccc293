"""The one shape of every ``stats()`` / ``status()`` result: :class:`Snapshot`.

A snapshot is a frozen dataclass that derives from :class:`Snapshot`. Its fields
are plain values (numbers, strings, None, and dicts, lists or tuples of them, or
other snapshots) with the unit in the name: ``_s`` seconds, ``_us`` microseconds,
``_bytes`` bytes, ``_per_s`` a rate per second, ``_at`` a time in seconds since the
epoch. ``as_dict()``, ``to_json()`` and the Jupyter table ``_repr_html_()`` all come
from the fields (and from the properties named in ``derived``), so a new field
shows up everywhere at once, and telemetry reads every layer the same way::

    @dataclass(frozen=True)
    class PumpStats(Snapshot):
        strokes: int
        uptime_s: float

    PumpStats(3, 1.5).as_dict()  # {'strokes': 3, 'uptime_s': 1.5}
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from datetime import datetime, timezone
from typing import Any, ClassVar

__all__ = ["Snapshot", "iso_utc"]

# Field-name suffix -> unit shown in the HTML table.
_UNITS = (
    ("_per_s", "/s"),
    ("_bytes", "bytes"),
    ("_us", "µs"),
    ("_ms", "ms"),
    ("_s", "s"),
)


def iso_utc(seconds: float) -> str:
    """A time in seconds since the epoch as ISO-8601 UTC to the second: ``2026-12-03T15:50:22Z``."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python values (snapshots and tuples included)."""
    if isinstance(value, Snapshot):
        return value.as_dict()
    if isinstance(value, dict):
        return {
            (k if isinstance(k, (str, int, float, bool)) else str(k)): _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(name: str, value: Any) -> str:
    """One value as escaped HTML, with thousands separators and the unit of ``name``."""
    if isinstance(value, Snapshot):
        return value._repr_html_()
    if isinstance(value, dict):
        if not value:
            return "-"
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{_cell('', v)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    if value is None:
        return "-"
    if name.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return html.escape(iso_utc(value))
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        text = f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
    return html.escape(f"{text} {unit}" if unit else text)


class Snapshot:
    """Base of a frozen dataclass that is a stats or status snapshot (see the module doc).

    Class attributes:
        derived: names of properties that ``as_dict()`` and the HTML table add after
            the fields (a rate computed from two counters, say).
    """

    __slots__ = ()
    derived: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain Python values: fields, then ``derived`` properties."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name in self.derived:
            out[name] = _plain(getattr(self, name))
        return out

    def to_json(self, **kwargs: Any) -> str:
        """``as_dict()`` as JSON (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.as_dict(), **kwargs)

    def _repr_html_(self) -> str:
        names = [f.name for f in dataclasses.fields(self)] + list(self.derived)  # type: ignore[arg-type]
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name.replace('_', ' '))}</th>"
            f"<td>{_cell(name, getattr(self, name))}</td></tr>"
            for name in names
        )
        caption = html.escape(type(self).__name__)
        return f"<table class='edgekit-snapshot'><caption>{caption}</caption>{rows}</table>"
