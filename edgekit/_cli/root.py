"""The ``edgekit`` group, where every EdgekitError becomes a click error, and ``edgekit info``."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

import click

from edgekit import LAYERS, __version__
from edgekit._cli import bench, codec, demo, dsp, infer, scan, state, sync, telemetry
from edgekit.errors import EdgekitError

__all__ = ["cli", "layer_report"]

# Optional backends by layer: (import name, extra).
BACKENDS: dict[str, tuple[tuple[str, str], ...]] = {
    "scan": (("zeroconf", "mdns"), ("bleak", "ble"), ("pandas", "notebook")),
    "infer": (("onnxruntime", "onnx"), ("ai_edge_litert", "litert")),
    "dsp": (),
    "codec": (),
    "sync": (
        ("nats", "nats"),
        ("paho.mqtt", "mqtt"),
        ("aiohttp", "http"),
        ("cryptography", "crypto"),
    ),
    "analytics": (),
    "state": (("nats", "nats"),),
    "pipelines": (("ai_edge_litert", "litert"), ("onnxruntime", "onnx")),
    "telemetry": (
        ("prometheus_client", "telemetry"),
        ("psutil", "telemetry"),
        ("aiohttp", "telemetry"),
        ("opentelemetry.sdk", "otel"),
    ),
}


#: Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
DEBUG_ENV = "EDGEKIT_DEBUG"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class EdgekitGroup(click.Group):
    """The root group: every error of a command is one line ``Error: <message>``, status 1.

    An EdgekitError shows its message, an OSError its cause and file; anything else
    is a bug, shown as one line with its type and a hint to set ``EDGEKIT_DEBUG=1``
    for the traceback (with it set, the traceback is printed instead).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except EdgekitError as exc:
            raise click.ClickException(_one_line(str(exc))) from exc
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            why = exc.strerror or str(exc) or type(exc).__name__
            raise click.ClickException(_one_line(f"{why}{where}")) from exc
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            raise click.ClickException(
                _one_line(f"unexpected {type(exc).__name__}: {exc}")
                + f" (a bug: set {DEBUG_ENV}=1 to see the traceback)"
            ) from exc


@click.group(cls=EdgekitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="edgekit")
def cli() -> None:
    """edgekit: scanners, inference, streaming DSP, sensor codecs and a sync queue for the edge."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def layer_report() -> list[dict[str, Any]]:
    """What each layer offers on this installation: its public names and optional backends."""
    rows = []
    for layer in (*LAYERS, "pipelines", "telemetry"):
        module = importlib.import_module(f"edgekit.{layer}")
        rows.append(
            {
                "layer": layer,
                "summary": " ".join((module.__doc__ or "").strip().split("\n\n")[0].split()),
                "names": list(module.__all__),
                "backends": {name: _installed(name) for name, _ in BACKENDS[layer]},
                "extras": {name: extra for name, extra in BACKENDS[layer]},
            }
        )
    return rows


@cli.command()
def info() -> None:
    """Show the installed layers, their public API and optional backends."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows = layer_report()
    longest = max(len(name) for row in rows for name in row["names"])
    # The API column is as wide as the longest name and its comma, so names wrap between,
    # never inside; the two text columns share what is left of the terminal.
    table = Table(title=f"edgekit {__version__}: installed layers", expand=True)
    table.add_column("layer", style="bold", no_wrap=True)
    table.add_column("what it does", ratio=1)
    table.add_column("public API", width=longest + 1)
    table.add_column("optional backends", ratio=1)
    for row in rows:
        backends = ", ".join(
            f"{name} [green]ok[/]"
            if ok
            else f"{name} [red]missing[/] " + escape(f"(edgekit[{row['extras'][name]}])")
            for name, ok in row["backends"].items()
        )
        table.add_row(row["layer"], row["summary"], ", ".join(row["names"]), backends or "-")
    Console().print(table)


for _module in (demo, bench, scan, infer, dsp, codec, sync, state, telemetry):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
