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
    """Codec subcommands: added by the codec layer."""


# --- sync commands -------------------------------------------------------------


def _add_sync_commands(cli: Any) -> None:
    """``edgekit queue stats|peek|requeue-dead PATH`` and ``edgekit sync PATH --nats|--mqtt|--http|--dir``."""
    import click

    group: click.Group = cli

    def open_queue(path: str) -> Any:
        from pathlib import Path

        from edgekit.errors import EdgekitError
        from edgekit.sync import SyncQueue

        if not Path(path).is_dir():
            raise click.ClickException(f"{path} is not a queue directory")
        try:
            return SyncQueue(path)
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc

    @group.group()
    def queue() -> None:
        """Inspect and repair a sync queue (an LMDB directory)."""

    @queue.command("stats")
    @click.argument("path")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    def queue_stats(path: str, as_json: bool) -> None:
        """Depth per topic, bytes, in flight, dead and evicted counts."""
        import dataclasses
        import json

        from rich.console import Console
        from rich.table import Table

        with open_queue(path) as q:
            stats = q.stats()
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(stats), indent=2))
            return
        table = Table(title=f"queue {path}")
        table.add_column("field")
        table.add_column("value", justify="right")
        for name in ("depth", "ready", "delayed", "in_flight", "dead", "bytes", "max_bytes"):
            table.add_row(name, str(getattr(stats, name)))
        table.add_row("evicted", f"{stats.evicted} ({stats.evicted_bytes} bytes)")
        age = "-" if stats.oldest_age is None else f"{stats.oldest_age:.1f} s"
        table.add_row("oldest age", age)
        for topic, (count, nbytes) in sorted(stats.topics.items()):
            table.add_row(f"topic {topic}", f"{count} ({nbytes} bytes)")
        Console().print(table)

    @queue.command("peek")
    @click.argument("path")
    @click.option("-n", "count", default=10, show_default=True, help="messages to show")
    @click.option("--topic", default=None, help="only this topic")
    @click.option("--dead", is_flag=True, help="show dead letters instead")
    def queue_peek(path: str, count: int, topic: str | None, dead: bool) -> None:
        """Show the next messages (without leasing them) or the dead letters."""
        with open_queue(path) as q:
            messages = q.dead_letters(count) if dead else q.peek(count, topic=topic)
        for m in messages:
            preview = m.payload[:60]
            click.echo(
                f"{m.id}\t{m.topic}\tprio={m.priority}\tattempt={m.attempt}\t"
                f"{len(m.payload)} B\t{preview!r}"
            )
        if not messages:
            click.echo("(empty)")

    @queue.command("requeue-dead")
    @click.argument("path")
    def queue_requeue_dead(path: str) -> None:
        """Make every dead letter ready again."""
        with open_queue(path) as q:
            click.echo(f"requeued {q.requeue_dead()} dead letters")

    @group.command("sync")
    @click.argument("path")
    @click.option("--nats", "nats_url", default=None, help="NATS URL (JetStream)")
    @click.option("--stream", default="EDGEKIT", show_default=True, help="JetStream stream")
    @click.option("--create-stream", is_flag=True, help="create the JetStream stream")
    @click.option("--mqtt", "mqtt_url", default=None, help="MQTT URL, mqtt://host:port")
    @click.option("--http", "http_url", default=None, help="HTTP endpoint to POST batches to")
    @click.option("--dir", "out_dir", default=None, help="directory to write batch files into")
    @click.option("--timeout", default=60.0, show_default=True, help="seconds to wait")
    @click.option("--follow", is_flag=True, help="keep running and sync as messages arrive")
    def sync_command(
        path: str,
        nats_url: str | None,
        stream: str,
        create_stream: bool,
        mqtt_url: str | None,
        http_url: str | None,
        out_dir: str | None,
        timeout: float,
        follow: bool,
    ) -> int:
        """Drain the queue at PATH through one transport."""
        import time

        from edgekit.errors import EdgekitError
        from edgekit.sync import (
            DirectoryTransport,
            HttpTransport,
            MqttTransport,
            NatsTransport,
            SyncEngine,
            Transport,
        )

        chosen = [x for x in (nats_url, mqtt_url, http_url, out_dir) if x]
        if len(chosen) != 1:
            raise click.UsageError("give exactly one of --nats, --mqtt, --http, --dir")
        transport: Transport
        try:
            if nats_url:
                transport = NatsTransport(nats_url, stream=stream, create_stream=create_stream)
            elif mqtt_url:
                transport = MqttTransport(mqtt_url)
            elif http_url:
                transport = HttpTransport(http_url)
            else:
                assert out_dir is not None
                transport = DirectoryTransport(out_dir)
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc
        with open_queue(path) as q:
            engine = SyncEngine(q, transport)
            try:
                if follow:
                    engine.start()
                    try:
                        while True:
                            time.sleep(1)
                    except KeyboardInterrupt:
                        pass
                    status = engine.status()
                    click.echo(f"sent {status.sent_messages} messages")
                else:
                    sent = engine.sync_now(timeout)
                    click.echo(f"sent {sent} messages; {len(q)} left")
            except EdgekitError as exc:
                raise click.ClickException(str(exc)) from exc
            finally:
                engine.stop()
        return 0


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
