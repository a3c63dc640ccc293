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
    "dsp": (),
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
    def info() -> None:
        """Show the installed layers, their public API and optional backends."""
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"edgekit {__version__}: installed layers")
        table.add_column("layer", style="bold")
        table.add_column("what it does")
        table.add_column("public API")
        table.add_column("optional backends")
        for row in layer_report():
            backends = ", ".join(
                f"{name} [green]ok[/]"
                if ok
                else f"{name} [red]missing[/] " + escape(f"(edgekit[{row['extras'][name]}])")
                for name, ok in row["backends"].items()
            )
            table.add_row(row["layer"], row["summary"], ", ".join(row["names"]), backends or "-")
        Console().print(table)

    _add_demo_command(cli)
    _add_bench_command(cli)
    _add_scan_commands(cli)
    _add_infer_commands(cli)
    _add_dsp_commands(cli)
    _add_codec_commands(cli)
    _add_sync_commands(cli)
    return cli


# --- demo and bench ------------------------------------------------------------


def _add_demo_command(cli: Any) -> None:
    """``edgekit demo``: a complete edge application on this machine."""
    import click

    @cli.command()  # type: ignore[untyped-decorator]
    @click.option("--nats", "nats_url", metavar="URL", help="Sync to NATS JetStream at URL.")
    @click.option("--mqtt", "mqtt_url", metavar="URL", help="Sync to the MQTT broker at URL.")
    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        help="Where the queue lives (default: ~/.local/share/edgekit/demo).",
    )
    @click.option("--scan-timeout", default=3.0, show_default=True, help="Seconds to scan.")
    @click.option(
        "--lan",
        is_flag=True,
        help="Advertise and scan mDNS on every interface, not just 127.0.0.1.",
    )
    @click.option(
        "--sync-timeout", default=30.0, show_default=True, help="Seconds to wait for the upload."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    def demo(
        nats_url: str | None,
        mqtt_url: str | None,
        data_dir: str | None,
        scan_timeout: float,
        lan: bool,
        sync_timeout: float,
        as_json: bool,
    ) -> int:
        """Scan, detect a wake word and speech, compress a sensor series, queue and sync it all."""
        import json

        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        from edgekit.pipelines.demo import StepResult, run_demo

        if nats_url and mqtt_url:
            raise click.UsageError("give --nats or --mqtt, not both")
        transport = nats_url or mqtt_url or "auto"
        console = Console(stderr=as_json)
        labels = {
            "scan": "advertising _edgekit._tcp and scanning mDNS, BLE and WiFi",
            "audio": "wake word and voice activity on speech",
            "sensor": "compressing a day of 1 Hz sensor readings",
            "queue": "putting every result on the LMDB queue",
            "sync": f"draining the queue to {transport if transport != 'auto' else 'a directory'}",
        }
        status = console.status("starting")

        def on_step(name: str) -> None:
            status.update(f"[bold]{name}[/]: {labels.get(name, name)}...")

        def on_result(result: StepResult) -> None:
            mark = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
            console.print(
                f"{mark} [bold]{result.name:<7}[/] {escape(result.summary)} [dim]({result.seconds:.1f} s)[/]"
            )
            if result.name == "scan" and "inventory" in result.details:
                inventory = result.details["inventory"]
                if len(inventory):
                    console.print(inventory.table(title="devices around"))
                for protocol, reason in result.details.get("unavailable", {}).items():
                    console.print(f"   [yellow]{protocol} unavailable[/]: {escape(reason)}")

        with status:
            report = run_demo(
                data_dir=data_dir,
                transport=transport,
                scan_timeout=scan_timeout,
                lan=lan,
                sync_timeout=sync_timeout,
                on_step=on_step,
                on_result=on_result,
            )
        table = Table(title=f"edgekit demo: {report.seconds:.1f} s, data in {report.data_dir}")
        table.add_column("step", style="bold")
        table.add_column("result")
        table.add_column("seconds", justify="right")
        for step in report.steps:
            table.add_row(
                step.name,
                ("" if step.ok else "[red]FAILED[/] ") + escape(step.summary),
                f"{step.seconds:.1f}",
            )
        console.print(table)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ok": report.ok,
                        "seconds": report.seconds,
                        "steps": [
                            {"name": s.name, "ok": s.ok, "summary": s.summary, "seconds": s.seconds}
                            for s in report.steps
                        ],
                    },
                    indent=2,
                )
            )
        if not report.ok:
            failed = ", ".join(step.name for step in report.steps if not step.ok)
            console.print(f"[red]the demo did not complete: {failed} failed[/]")
            return 1
        return 0


def _add_bench_command(cli: Any) -> None:
    """``edgekit bench``: the side-by-side benchmarks, from a source checkout."""
    import click

    @cli.command()  # type: ignore[untyped-decorator]
    @click.argument("layers", nargs=-1)
    @click.option("--quick", is_flag=True, help="Fewer repeats (about a minute a layer).")
    def bench(layers: tuple[str, ...], quick: bool) -> int:
        """Run the side-by-side benchmarks of LAYERS (default: all) against their peers."""
        import os
        import subprocess
        from pathlib import Path

        candidates = [Path.cwd(), Path(__file__).resolve().parents[1]]
        root = next((c for c in candidates if (c / "benchmarks" / "__main__.py").exists()), None)
        if root is None:
            raise click.ClickException(
                "the benchmarks ship with edgekit's source, not with the wheel: "
                "run `edgekit bench` from a clone of the repository"
            )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "benchmarks", *layers, *(["--quick"] if quick else [])]
        return subprocess.run(command, cwd=root, env=env).returncode


# --- scan commands -------------------------------------------------------------


def _add_scan_commands(cli: Any) -> None:
    """``edgekit scan``: mDNS, BLE and WiFi into one live-updating device table."""
    import click

    @cli.command("scan")  # type: ignore[untyped-decorator]
    @click.option("--mdns", "use_mdns", is_flag=True, help="Browse mDNS/DNS-SD services.")
    @click.option("--ble", "use_ble", is_flag=True, help="Scan BLE advertisements.")
    @click.option("--wifi", "use_wifi", is_flag=True, help="List WiFi access points.")
    @click.option("--timeout", default=5.0, show_default=True, type=float, help="Seconds to scan.")
    @click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON at the end.")
    @click.option(
        "--interface",
        "interfaces",
        multiple=True,
        help="IP address of an interface for mDNS (repeatable; default: all).",
    )
    @click.option(
        "--type",
        "service_types",
        multiple=True,
        help="mDNS service type (repeatable; default: all).",
    )
    def scan_command(
        use_mdns: bool,
        use_ble: bool,
        use_wifi: bool,
        timeout: float,
        as_json: bool,
        interfaces: tuple[str, ...],
        service_types: tuple[str, ...],
    ) -> int:
        """Find devices around: mDNS services, BLE advertisers and WiFi access points.

        With no protocol flag, all three are scanned; protocols that cannot run
        on this machine are listed, not fatal.
        """
        import asyncio

        from rich.console import Console
        from rich.live import Live
        from rich.markup import escape

        from edgekit.errors import EdgekitError
        from edgekit.scan import Inventory, MdnsScanner, async_scan

        protocols = [
            name
            for name, chosen in (("mdns", use_mdns), ("ble", use_ble), ("wifi", use_wifi))
            if chosen
        ] or ["mdns", "ble", "wifi"]
        mdns = MdnsScanner(
            list(service_types) or None, interfaces=list(interfaces) if interfaces else "all"
        )
        console = Console(stderr=as_json)
        inventory = Inventory()

        async def run() -> None:
            if as_json or not console.is_terminal:
                await async_scan(protocols, timeout, inventory=inventory, mdns=mdns)
                return
            with Live(inventory.table(), console=console, refresh_per_second=4) as live:
                await async_scan(
                    protocols,
                    timeout,
                    inventory=inventory,
                    mdns=mdns,
                    on_update=lambda inv: live.update(inv.table()),
                )

        try:
            asyncio.run(run())
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            click.echo(inventory.to_json(indent=2))
        elif not console.is_terminal:
            console.print(inventory.table())
        for name, reason in inventory.unavailable.items():
            console.print(f"[yellow]{name} unavailable:[/] {escape(reason)}")
        return 0


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
    """``edgekit dsp features``: features of a WAV file (frontend, MFCC, log-mel)."""
    import click

    root: click.Group = cli

    @root.group()
    def dsp() -> None:
        """Audio features and filters (edgekit.dsp)."""

    @dsp.command()
    @click.argument("wav", type=click.Path(exists=True, dir_okay=False))
    @click.option(
        "--kind",
        type=click.Choice(["frontend", "mfcc", "log-mel"]),
        default="frontend",
        show_default=True,
        help="frontend: microWakeWord's 40 uint16 features; mfcc: 13 MFCCs; log-mel: 40 dB bands.",
    )
    @click.option("--out", type=click.Path(dir_okay=False), help="save the features as .npy")
    def features(wav: str, kind: str, out: str | None) -> None:
        """Compute features of a 16-bit PCM WAV file (mixed to mono, resampled to 16 kHz)."""
        import wave

        import numpy as np

        from edgekit import dsp as _dsp
        from edgekit.errors import EdgekitError

        try:
            with wave.open(wav) as reader:
                if reader.getsampwidth() != 2:
                    raise click.ClickException("only 16-bit PCM WAV files are supported")
                sr = reader.getframerate()
                channels = reader.getnchannels()
                pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        except (wave.Error, EOFError) as exc:
            raise click.ClickException(f"not a readable WAV file: {exc}") from exc
        if pcm.size == 0:
            raise click.ClickException("the WAV file has no samples")
        mono = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
        try:
            if sr != 16000:
                mono = _dsp.resample(mono, sr, 16000)
            if kind == "frontend":
                ints = np.clip(np.round(mono * 32768), -32768, 32767).astype(np.int16)
                result = _dsp.MicroFrontend().process(ints)
            else:
                options: dict[str, Any] = {
                    "sr": 16000,
                    "n_fft": 512,
                    "hop_length": 160,
                    "win_length": 400,
                }
                if kind == "mfcc":
                    result = _dsp.mfcc(y=mono, n_mfcc=13, n_mels=40, **options).T
                else:
                    mel = _dsp.melspectrogram(y=mono, n_mels=40, **options)
                    result = _dsp.power_to_db(mel).T
        except EdgekitError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"{wav}: {len(mono) / 16000:.2f} s -> {result.shape[0]} frames x {result.shape[1]} "
            f"{kind} features ({result.dtype}), min {result.min():.4g}, max {result.max():.4g}"
        )
        if out:
            np.save(out, result)
            click.echo(f"saved to {out}")


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
        from rich.text import Text

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
            table.add_row(Text(f"topic {topic}"), f"{count} ({nbytes} bytes)")
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
