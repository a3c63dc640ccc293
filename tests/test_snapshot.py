"""The one snapshot shape: as_dict(), to_json() and _repr_html_() from the fields."""

from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from edgekit._snapshot import Snapshot


@dataclass(frozen=True)
class Inner(Snapshot):
    hits: int
    latency_us: float


@dataclass(frozen=True)
class Outer(Snapshot):
    derived = ("hit_rate",)

    name: str
    calls: int
    uptime_s: float
    last_error_at: float | None
    sizes: dict[int, int] = field(default_factory=dict)
    topics: dict[str, tuple[int, int]] = field(default_factory=dict)
    inner: Inner | None = None
    rate_per_s: float = math.nan

    @property
    def hit_rate(self) -> float:
        return self.calls / 10


def sample() -> Outer:
    return Outer("m<1>", 1234, 2.5, None, {8: 3}, {"a": (1, 2)}, Inner(5, 1.25))


def test_as_dict_and_to_json_come_from_the_fields_and_derived_properties() -> None:
    snap = sample()
    assert snap.as_dict() == {
        "name": "m<1>",
        "calls": 1234,
        "uptime_s": 2.5,
        "last_error_at": None,
        "sizes": {8: 3},
        "topics": {"a": [1, 2]},
        "inner": {"hits": 5, "latency_us": 1.25},
        "rate_per_s": None,  # not a number: null in JSON, never NaN
        "hit_rate": 123.4,
    }
    assert json.loads(snap.to_json()) == {**snap.as_dict(), "sizes": {"8": 3}}


def test_html_table_escapes_and_shows_units() -> None:
    page = sample()._repr_html_()
    assert "<caption>Outer</caption>" in page and "m&lt;1&gt;" in page
    assert "1,234" in page and "2.5 s" in page and "1.25 µs" in page
    assert "<th style='text-align:left'>hit rate</th>" in page


def test_snapshots_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        sample().calls = 1  # type: ignore[misc]


def test_every_stats_and_status_result_is_a_snapshot() -> None:
    """The layers' stats()/status() results share the one shape (telemetry reads them so)."""
    import dataclasses
    import typing

    from edgekit.infer import EngineStats, InferenceEngine
    from edgekit.sync import QueueStats, SyncEngine, SyncQueue, SyncStatus

    for cls in (EngineStats, QueueStats, SyncStatus):
        assert issubclass(cls, Snapshot) and dataclasses.is_dataclass(cls), cls
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
    for method, cls in (
        (InferenceEngine.stats, EngineStats),
        (SyncQueue.stats, QueueStats),
        (SyncEngine.status, SyncStatus),
    ):
        assert typing.get_type_hints(method)["return"] is cls, method
