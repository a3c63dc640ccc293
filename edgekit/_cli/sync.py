"""``edgekit queue stats|peek|dead|requeue-dead|delete-dead|check|salvage PATH`` and ``edgekit sync PATH --nats|--mqtt|--http|--dir``."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import click

__all__ = ["COMMANDS"]


def _open_queue(path: str) -> Any:
    from pathlib import Path

    from edgekit.sync import SyncQueue

    if not Path(path).is_dir():
        raise click.ClickException(f"{path} is not a queue directory")
    return SyncQueue(path)


@click.group()
def queue() -> None:
    """Inspect and repair a sync queue (an LMDB directory)."""


@queue.command("stats")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def queue_stats(path: str, as_json: bool) -> None:
    """Depth per topic, bytes, in flight, dead and evicted counts."""
    from rich.console import Console

    from edgekit._cli._render import snapshot_table

    with _open_queue(path) as q:
        stats = q.stats()
    if as_json:
        click.echo(stats.to_json(indent=2))
    else:
        Console().print(snapshot_table(stats, title=f"queue {path}"))


@queue.command("peek")
@click.argument("path")
@click.option("-n", "count", default=10, show_default=True, help="messages to show")
@click.option("--topic", default=None, help="only this topic")
@click.option("--dead", is_flag=True, help="show dead letters instead")
def queue_peek(path: str, count: int, topic: str | None, dead: bool) -> None:
    """Show the next messages (without leasing them) or the dead letters."""
    with _open_queue(path) as q:
        messages = q.dead_letters(count) if dead else q.peek(count, topic=topic)
        stats = q.stats()
    for m in messages:
        preview = m.payload[:60]
        click.echo(
            f"{m.id}\t{m.topic}\tprio={m.priority}\tattempt={m.attempt}\t"
            f"{len(m.payload)} B\t{preview!r}"
        )
    if dead:
        if not messages:
            click.echo("(no dead letters)")
    elif stats.delayed or stats.in_flight or not messages:
        # peek shows ready messages only: say what else waits
        shown = "no ready messages" if not messages else f"{len(messages)} ready shown"
        click.echo(f"({shown}; {stats.delayed} delayed, {stats.in_flight} in flight, not shown)")


@queue.command("dead")
@click.argument("path")
@click.option("-n", "count", default=100, show_default=True, help="dead letters to show")
def queue_dead(path: str, count: int) -> None:
    """List dead letters: id, topic, attempts, reason, last error."""
    with _open_queue(path) as q:
        messages = q.dead_letters(count)
        total = q.stats().dead
    for m in messages:
        click.echo(
            f"{m.id}\t{m.topic or '?'}\tattempts={m.attempt}\t"
            f"reason={m.dead_reason or '(not recorded)'}\tlast_error={m.last_error or '-'}"
        )
    if not messages:
        click.echo("(no dead letters)")
    elif total > len(messages):
        click.echo(f"... {total - len(messages)} more (-n to show more)")


@queue.command("check")
@click.argument("path")
def queue_check(path: str) -> None:
    """Walk the queue file in a child process: every database, every record's checksum."""
    from pathlib import Path

    from edgekit.sync.queue import check_queue

    if not Path(path).is_dir():
        raise click.ClickException(f"{path} is not a queue directory")
    found = check_queue(path)  # (CorruptDataError: one clean line from the root command)
    click.echo(
        f"ok: {found.records} records, {found.entries} entries walked in "
        f"{found.duration_s:.2f} s; {found.corrupt_records} records fail their checksum "
        "(quarantined into the dead letters when leased)"
    )


@queue.command("salvage")
@click.argument("path")
@click.argument("new")
def queue_salvage(path: str, new: str) -> None:
    """Copy every message that still reads from the queue at PATH into a new queue NEW."""
    from pathlib import Path

    from edgekit.sync.queue import salvage_queue

    if not Path(path).is_dir():
        raise click.ClickException(f"{path} is not a queue directory")
    report = salvage_queue(path, new)
    click.echo(
        f"saved {report.saved} messages ({report.dead_letters} dead letters) into {new}; "
        f"lost {report.lost}; {report.walks} walks"
    )


@queue.command("requeue-dead")
@click.argument("path")
@click.option("--id", "ids", type=int, multiple=True, help="only this dead letter (repeatable)")
def queue_requeue_dead(path: str, ids: tuple[int, ...]) -> None:
    """Make dead letters ready again (every one, or those given with --id)."""
    with _open_queue(path) as q:
        click.echo(f"requeued {q.requeue_dead(list(ids) if ids else None)} dead letters")


@queue.command("delete-dead")
@click.argument("path")
@click.option("--id", "ids", type=int, multiple=True, help="this dead letter (repeatable)")
@click.option("--all", "everything", is_flag=True, help="every dead letter")
def queue_delete_dead(path: str, ids: tuple[int, ...], everything: bool) -> None:
    """Delete dead letters for good: those given with --id, or --all."""
    if bool(ids) == everything:
        raise click.UsageError("give --id N (one or more) or --all")
    with _open_queue(path) as q:
        click.echo(f"deleted {q.delete_dead(None if everything else list(ids))} dead letters")


@click.command("sync")
@click.argument("path")
@click.option("--nats", "nats_url", default=None, help="NATS URL (JetStream), nats:// or tls://")
@click.option("--stream", default="EDGEKIT", show_default=True, help="JetStream stream")
@click.option(
    "--create-stream/--no-create-stream",
    default=True,
    show_default=True,
    help="create (or update) the JetStream stream",
)
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

    from edgekit.errors import InvalidInputError
    from edgekit.sync import (
        DirectoryTransport,
        HttpTransport,
        MqttTransport,
        NatsTransport,
        SyncEngine,
        Transport,
    )

    given = [("--nats", nats_url), ("--mqtt", mqtt_url), ("--http", http_url), ("--dir", out_dir)]
    chosen = [(flag, spec) for flag, spec in given if spec]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --nats, --mqtt, --http, --dir")
    ((flag, spec),) = chosen
    transport: Transport
    try:  # each transport checks its own URL (scheme, host, port) and says what it expects
        if flag == "--nats":
            transport = NatsTransport(spec, stream=stream, create_stream=create_stream)
        elif flag == "--mqtt":
            transport = MqttTransport(spec)
        elif flag == "--http":
            transport = HttpTransport(spec)
        else:
            transport = DirectoryTransport(spec)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{flag}: {exc}") from exc
    with _open_queue(path) as q:
        engine = SyncEngine(q, transport)
        try:
            if follow:
                engine.start()
                shown = None
                with _stop_on_signals() as stopping:
                    while not stopping.wait(0.2):  # each new error once, on stderr
                        error = engine.status().last_error
                        if error is not None and error != shown:
                            click.echo(f"edgekit sync: {error} (retrying)", err=True)
                        shown = error
                click.echo(f"sent {engine.status().sent_messages} messages")
            else:
                sent = engine.sync_now(timeout)
                click.echo(f"sent {sent} messages; {len(q)} left")
        finally:
            engine.stop()
    return 0


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) or SIGTERM while the block runs: the loop ends
    between two steps instead of a KeyboardInterrupt landing anywhere in it."""
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


COMMANDS = [queue, sync_command]
