"""``edgekit infer info MODEL`` and ``edgekit infer time MODEL``."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["COMMANDS"]

_backend_option = click.option(
    "--backend",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "onnxruntime", "litert"]),
    help="runtime to use",
)


def _open(model: str, backend: str) -> Any:
    from edgekit.infer import InferenceEngine

    return InferenceEngine(model, backend=backend)  # type: ignore[arg-type]


@click.group()
def infer() -> None:
    """Inspect and time ONNX and TFLite models."""


@infer.command("info")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@_backend_option
def infer_info(model: str, backend: str) -> None:
    """Show a model's runtime, digest, inputs and outputs."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    engine = _open(model, backend)
    console = Console()
    console.print(
        f"[bold]{escape(engine.model_name)}[/bold] on {engine.backend}; xxh3-128 {engine.digest}"
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
            table.add_row(kind, Text(t.name), str(t.dtype), shape, qtext)
    console.print(table)


@infer.command("time")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@_backend_option
@click.option("-n", "--number", default=1000, show_default=True, help="runs to time")
def infer_time(model: str, backend: str, number: int) -> None:
    """Time runs on zero inputs (dynamic dimensions set to 1); print p50/p90/p99 in us."""
    from edgekit.errors import EdgekitError

    engine = _open(model, backend)
    feeds = engine._model.synthetic_feeds()
    try:
        for _ in range(max(1, number)):
            engine.run(feeds)
    except EdgekitError as exc:  # the context matters here: the feeds are made up
        raise click.ClickException(f"the model does not run on zero inputs: {exc}") from exc
    click.echo(str(engine.stats()))


COMMANDS = [infer]
