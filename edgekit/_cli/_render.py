"""Snapshots (every ``stats()`` / ``status()`` result) as terminal tables, from their fields."""

from __future__ import annotations

from typing import Any

from edgekit._snapshot import _UNITS, Snapshot, iso_utc

__all__ = ["snapshot_table"]


def _text(value: Any, unit: str = "", name: str = "") -> str:
    """One value as text, followed by its unit; a time (a name ending in ``_at``) in UTC."""
    if value is None:
        return "-"
    if name.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso_utc(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def snapshot_table(snapshot: Snapshot, title: str) -> Any:
    """A rich table of the snapshot's ``as_dict()``, a row a field, as the Jupyter table shows
    it (values with the unit their name ends in); a dict field has a row per key, labelled
    with the field's singular (``topics`` -> ``topic cli``)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    table.add_column("field")
    table.add_column("value", justify="right")
    for name, value in snapshot.as_dict().items():
        if isinstance(value, dict):
            for key, item in sorted(value.items()):
                table.add_row(Text(f"{name.removesuffix('s')} {key}"), _text(item))
            continue
        unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
        table.add_row(name.replace("_", " "), _text(value, unit, name))
    return table
