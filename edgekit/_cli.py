"""The ``edgekit`` command.

This is the only module that imports the CLI toolkit (click, with rich for
tables). Both come with the ``cli`` extra; without them the command says which
extra to install. Each layer adds its subcommands in its own section below.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

from edgekit import LAYERS, __version__

__all__ = ["main"]

_MISSING_CLI = 'the edgekit command needs the "cli" extra: pip install "edgekit[cli]"\n'

# Optional backends by layer: (import name, extra).
BACKENDS: dict[str, tuple[tuple[str, str], ...]] = {
    "scan": (("zeroconf", "mdns"), ("bleak", "ble")),
    "infer": (("onnxruntime", "onnx"), ("ai_edge_litert", "litert")),
    "dsp": (("rocket_fft", "fft"),),
    "codec": (),
    "sync": (
        ("nats", "nats"),
        ("paho.mqtt", "mqtt"),
        ("aiohttp", "http"),
        ("cryptography", "crypto"),
    ),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def layer_report() -> list[dict[str, Any]]:
    """What each layer offers on this installation: its public names and optional backends."""
    rows = []
    for layer in LAYERS:
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


def _make_cli() -> Any:
    import click

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "-V", "--version", prog_name="edgekit")
    def cli() -> None:
        """edgekit: scanners, inference, streaming DSP, sensor codecs and a sync queue for the edge."""

    @cli.command()
    def demo() -> None:
        """Show what the installed layers can do."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table(title=f"edgekit {__version__}: installed layers")
        table.add_column("layer", style="bold")
        table.add_column("what it does")
        table.add_column("public API")
        table.add_column("optional backends")
        for row in layer_report():
            backends = ", ".join(
                f"{name} [green]ok[/]"
                if ok
                else f"{name} [red]missing[/] (edgekit[{row['extras'][name]}])"
                for name, ok in row["backends"].items()
            )
            names = ", ".join(row["names"]) or "[dim](not yet implemented)[/]"
            table.add_row(row["layer"], row["summary"], names, backends or "-")
        console.print(table)
        if not any(row["names"] for row in layer_report()):
            console.print(
                "No layer is implemented yet, so there is nothing to run. "
                "The end-to-end demo arrives with edgekit.pipelines."
            )

    _add_scan_commands(cli)
    _add_infer_commands(cli)
    _add_dsp_commands(cli)
    _add_codec_commands(cli)
    _add_sync_commands(cli)
    return cli


# --- scan commands -------------------------------------------------------------


def _add_scan_commands(cli: Any) -> None:
    """``edgekit scan``: added by the scan layer."""


# --- infer commands ------------------------------------------------------------


def _add_infer_commands(cli: Any) -> None:
    """``edgekit infer info MODEL`` and ``edgekit infer time MODEL``."""
    import click

    group: click.Group = cli

    @group.group()
    def infer() -> None:
        """Inspect and time ONNX and TFLite models."""

    def _open(model: str, backend: str) -> Any:
        from edgekit.errors import EdgekitError
        from edgekit.infer import InferenceEngine

        try:
            return InferenceEngine(model, backend=backend)  # type: ignore[arg-type]
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc

    backend_option = click.option(
        "--backend",
        default="auto",
        show_default=True,
        type=click.Choice(["auto", "onnxruntime", "litert"]),
        help="runtime to use",
    )

    @infer.command("info")
    @click.argument("model", type=click.Path(exists=True, dir_okay=False))
    @backend_option
    def infer_info(model: str, backend: str) -> None:
        """Show a model's runtime, digest, inputs and outputs."""
        from rich.console import Console
        from rich.table import Table

        engine = _open(model, backend)
        console = Console()
        console.print(
            f"[bold]{engine.model_name}[/bold] on {engine.backend}; xxh3-128 {engine.digest}"
            + ("; stateful (resource variables)" if engine.stateful else "")
            + ("; batchable" if engine.batchable else "")
        )
        table = Table()
        for column in ("", "name", "dtype", "shape", "quantization"):
            table.add_column(column)
        for kind, tensors in (("input", engine.inputs), ("output", engine.outputs)):
            for t in tensors:
                q = t.quantization
                qtext = "-"
                if q is not None:
                    qtext = (
                        f"scale {q.scale[0]:.6g}, zero point {q.zero_point[0]}"
                        if q.per_tensor
                        else f"per-axis ({len(q.scale)} channels on axis {q.axis})"
                    )
                shape = "[" + ", ".join("?" if d is None else str(d) for d in t.shape) + "]"
                table.add_row(kind, t.name, str(t.dtype), shape, qtext)
        console.print(table)

    @infer.command("time")
    @click.argument("model", type=click.Path(exists=True, dir_okay=False))
    @backend_option
    @click.option("-n", "--number", default=1000, show_default=True, help="runs to time")
    def infer_time(model: str, backend: str, number: int) -> None:
        """Time runs on zero inputs (dynamic dimensions set to 1); print p50/p90/p99 in us."""
        from edgekit.errors import EdgekitError

        engine = _open(model, backend)
        feeds = engine._model.synthetic_feeds()
        try:
            for _ in range(max(1, number)):
                engine.run(feeds)
        except EdgekitError as exc:
            raise click.ClickException(f"the model does not run on zero inputs: {exc}") from exc
        click.echo(str(engine.stats()))


# --- dsp commands --------------------------------------------------------------


def _add_dsp_commands(cli: Any) -> None:
    """DSP subcommands: added by the dsp layer."""


# --- codec commands ------------------------------------------------------------


def _add_codec_commands(cli: Any) -> None:
    """Codec subcommands: added by the codec layer."""


# --- sync commands -------------------------------------------------------------


def _add_sync_commands(cli: Any) -> None:
    """``edgekit queue`` and ``edgekit sync``: added by the sync layer."""


# --- entry point ---------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``edgekit`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(f"edgekit, version {__version__}")
        return 0
    try:
        import click
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write(_MISSING_CLI)
        return 2
    cli = _make_cli()
    try:
        result = cli.main(args=args, prog_name="edgekit", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
