"""What people read is readable: times in ISO-8601 UTC (not epoch floats), lists as
comma-separated text (not Python reprs), counts with their plural, `edgekit info` whole at
80 columns, and the extras the README promises."""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli there
    import tomli as tomllib

import pytest

import edgekit
from edgekit._snapshot import Snapshot, iso_utc
from edgekit.scan import Inventory, MdnsService

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_796_313_022.5  # 2026-12-03T15:50:22Z


@dataclass(frozen=True)
class _Status(Snapshot):
    last_success_at: float | None
    names: list[str]
    uptime_s: float


def test_iso_utc() -> None:
    assert iso_utc(T0) == "2026-12-03T15:50:22Z"
    assert iso_utc(0) == "1970-01-01T00:00:00Z"


def test_snapshot_html_shows_times_in_utc_and_lists_as_text() -> None:
    page = _Status(T0, ["a", "b"], 3.5)._repr_html_()
    assert "2026-12-03T15:50:22Z" in page
    assert "1,796,313,022" not in page and "since the epoch" not in page
    assert "a, b" in page and "[" not in page
    assert _Status(None, [], 0.0)._repr_html_().count("<td>-</td>") == 1


def test_cli_snapshot_table_shows_times_in_utc() -> None:
    from rich.console import Console

    from edgekit._cli._render import snapshot_table

    console = Console(width=100, record=True)
    console.print(snapshot_table(_Status(T0, ["a", "b"], 3.5), "status"))
    text = console.export_text()
    assert "2026-12-03T15:50:22Z" in text and "1.796e+09" not in text
    assert "a, b" in text


def _inventory() -> Inventory:
    inventory = Inventory()
    service = MdnsService(
        "Living Room._googlecast._tcp.local.",
        "_googlecast._tcp.local.",
        "lr.local.",
        ("127.0.0.1", "::1"),
        8009,
        {"md": "Chromecast Ultra"},
        updated_at=T0,
    )
    inventory.add_mdns(service, now=T0)
    return inventory


def test_device_html_shows_times_in_utc_and_lists_as_text() -> None:
    (device,) = _inventory()
    page = device._repr_html_()
    assert "<td>2026-12-03T15:50:22Z</td>" in page
    assert str(T0) not in page and "1796313022" not in page
    assert "127.0.0.1, ::1" in page
    assert "[" not in page and "&#x27;" not in page  # no Python list or string reprs


def test_inventory_counts_with_a_plural() -> None:
    inventory = _inventory()
    assert "<caption>1 device</caption>" in inventory._repr_html_()
    assert repr(inventory).startswith("<Inventory: 1 device (")
    assert "<caption>0 devices</caption>" in Inventory()._repr_html_()


def test_edgekit_info_at_80_columns_has_every_name_whole_and_a_pipelines_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgekit._cli import main

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    api = " ".join(line.split("│")[3] for line in out.splitlines() if line.count("│") == 5)
    shown = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", api))
    for layer in (*edgekit.LAYERS, "pipelines"):
        assert re.search(rf"^│ {layer}\b", out, re.M), f"no {layer} row"
        missing = set(importlib.import_module(f"edgekit.{layer}").__all__) - shown
        assert not missing, f"{layer}: names cut or missing: {sorted(missing)}"


def test_notebook_extra_is_in_all_and_the_readme_says_what_all_brings() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[<>=;\[ ]", r)[0] for r in extras["notebook"]}
    assert {"pandas", "matplotlib", "statsmodels"} <= names
    (all_extras,) = extras["all"]
    in_all = set(all_extras.split("[")[1].rstrip("]").split(","))
    assert in_all == set(extras) - {"all", "test", "docs", "dev"}
    readme = (ROOT / "README.md").read_text()
    assert "| `notebook` |" in readme
    assert "| `all` | all of the above |" not in readme
    assert "`all` is not everything" in readme


def test_to_dataframe_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(edgekit.BackendUnavailableError, match=r"edgekit\[notebook\]"):
        _inventory().to_dataframe()
