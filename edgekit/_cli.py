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
    """Inference subcommands: added by the infer layer."""


# --- dsp commands --------------------------------------------------------------


def _add_dsp_commands(cli: Any) -> None:
    """DSP subcommands: added by the dsp layer."""


# --- codec commands ------------------------------------------------------------


def _add_codec_commands(cli: Any) -> None:
    """``edgekit codec``: compress and decompress ``.npy`` files, describe frames."""
    import click

    @click.group()
    def codec() -> None:
        """Lossless compression of numeric arrays (.npy) into edgekit frames."""

    cli.add_command(codec)

    @codec.command("compress")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @click.argument("target", type=click.Path(dir_okay=False))
    @click.option("--level", type=click.IntRange(1, 2), default=None, help="1 = no Huffman stage.")
    def codec_compress(source: str, target: str, level: int | None) -> None:
        """Compress the array in SOURCE (.npy) into the frame file TARGET."""
        import numpy as np

        from edgekit.codec import compress
        from edgekit.errors import EdgekitError

        try:
            array = np.load(source, allow_pickle=False)
            frame = compress(array, level=level)
        except (EdgekitError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        with open(target, "wb") as fh:
            fh.write(frame)
        ratio = array.nbytes / len(frame) if frame else 0.0
        click.echo(f"{array.nbytes} -> {len(frame)} bytes ({ratio:.2f}x)")

    @codec.command("decompress")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @click.argument("target", type=click.Path(dir_okay=False))
    def codec_decompress(source: str, target: str) -> None:
        """Decode the frame file SOURCE into TARGET (.npy)."""
        import numpy as np

        from edgekit.codec import decompress
        from edgekit.errors import EdgekitError

        try:
            with open(source, "rb") as fh:
                array = decompress(fh.read())
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc
        np.save(target, array, allow_pickle=False)
        click.echo(f"{array.dtype} {array.shape}")

    @codec.command("info")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    def codec_info(source: str) -> None:
        """Describe the frame file SOURCE: dtype, shape and the scheme of each block."""
        from edgekit.codec import frame_info
        from edgekit.errors import EdgekitError

        try:
            with open(source, "rb") as fh:
                info = frame_info(fh.read())
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"dtype {info.dtype}, shape {info.shape}, {info.nbytes} bytes")
        for i, (scheme, size) in enumerate(zip(info.schemes, info.block_bytes, strict=True)):
            click.echo(f"block {i}: {scheme}, {size} bytes")


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
