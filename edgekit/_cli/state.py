"""``edgekit state get|set|delete|ls|conflicts|sync PATH``: a replicated state store from the shell."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["COMMANDS"]


def _open_store(path: str, *, create: bool = False) -> Any:
    from pathlib import Path

    from edgekit.state import StateStore

    if not create and not Path(path).is_dir():
        raise click.ClickException(f"{path} is not a state store directory")
    return StateStore(path)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@click.group()
def state() -> None:
    """Read, write and sync a replicated state store (an LMDB directory)."""


@state.command("get")
@click.argument("path")
@click.argument("key")
@click.option("--entry", "whole", is_flag=True, help="print the whole entry (HLC, node, siblings)")
def state_get(path: str, key: str, whole: bool) -> None:
    """Print KEY's value as JSON (exit status 1 when the key is absent)."""
    with _open_store(path) as store:
        entry = store.entry(key)
    if entry is None or entry.deleted:
        raise click.ClickException(f"no key {key!r} in {path}")
    click.echo(_show(entry.as_dict()) if whole else _show(entry.value))


@state.command("set")
@click.argument("path")
@click.argument("key")
@click.argument("value")
@click.option("--string", "as_string", is_flag=True, help="store VALUE as a string, not JSON")
def state_set(path: str, key: str, value: str, as_string: bool) -> None:
    """Set KEY to VALUE, parsed as JSON (``--string``: as it is); creates the store."""
    if as_string:
        parsed: Any = value
    else:
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise click.UsageError(
                f"VALUE {value!r} is not JSON ({exc.args[0]}); quote a string "
                f"('\"{value}\"') or pass --string"
            ) from exc
    with _open_store(path, create=True) as store:
        entry = store.set(key, parsed)
    click.echo(f"{key} = {_show(entry.value)} (hlc {entry.hlc.wall_ms}.{entry.hlc.logical})")


@state.command("delete")
@click.argument("path")
@click.argument("key")
def state_delete(path: str, key: str) -> None:
    """Delete KEY (a tombstone, synced like a write)."""
    with _open_store(path) as store:
        store.delete(key)
    click.echo(f"deleted {key}")


@state.command("ls")
@click.argument("path")
@click.argument("prefix", default="")
@click.option("--json", "as_json", is_flag=True, help="one JSON entry a line")
def state_ls(path: str, prefix: str, as_json: bool) -> None:
    """List the keys under PREFIX with their values; ``*`` marks changes not yet synced."""
    with _open_store(path) as store:
        pending = {e.key for e in store.pending()}
        rows = [entry for _key, entry in _entries(store, prefix)]
    for entry in rows:
        if as_json:
            click.echo(_show(entry.as_dict()))
            continue
        text = _show(entry.value)
        if len(text) > 70:
            text = text[:67] + "..."
        mark = "*" if entry.key in pending else " "
        siblings = f"\t(+{len(entry.siblings)} siblings)" if entry.siblings else ""
        click.echo(f"{mark} {entry.key}\t{text}{siblings}")
    if not rows and not as_json:
        click.echo(f"(no keys under {prefix!r})" if prefix else "(no keys)")


def _entries(store: Any, prefix: str) -> list[tuple[str, Any]]:
    out = []
    for key in store.keys(prefix):
        entry = store.entry(key)
        if entry is not None and not entry.deleted:
            out.append((key, entry))
    return out


@state.command("conflicts")
@click.argument("path")
@click.option("-n", "count", default=20, show_default=True, help="conflicts to show, newest last")
def state_conflicts(path: str, count: int) -> None:
    """The conflicts resolved: when, key, strategy, local, remote and the result."""
    from edgekit._snapshot import iso_utc

    with _open_store(path) as store:
        found = list(store.conflicts())[-count:] if count > 0 else []
    for c in found:
        local = "-" if c.local is None else _show(c.local.value)
        click.echo(
            f"{iso_utc(c.at)}\t{c.key}\t{c.strategy}\tlocal={local}\t"
            f"remote={_show(c.remote.value)}\tresult={_show(c.result.value)}"
        )
    if not found:
        click.echo("(no conflicts)")


@state.command("sync")
@click.argument("path")
@click.option("--nats", "nats_url", required=True, help="NATS URL (JetStream), nats:// or tls://")
@click.option("--bucket", required=True, help="the KeyValue bucket")
@click.option(
    "--create-bucket/--no-create-bucket",
    default=False,
    show_default=True,
    help="create the bucket when it does not exist",
)
@click.option("--replicas", default=1, show_default=True, help="replicas of a created bucket")
@click.option(
    "--prefix", "prefixes", multiple=True, help="only keys under this prefix (repeatable)"
)
@click.option("--timeout", default=60.0, show_default=True, help="seconds to wait")
@click.option("--follow", is_flag=True, help="keep running and sync both ways as changes happen")
def state_sync(
    path: str,
    nats_url: str,
    bucket: str,
    create_bucket: bool,
    replicas: int,
    prefixes: tuple[str, ...],
    timeout: float,
    follow: bool,
) -> None:
    """Sync the store at PATH with a NATS KeyValue bucket (both ways)."""
    from edgekit._cli.sync import _stop_on_signals
    from edgekit.errors import InvalidInputError
    from edgekit.state.sync import StateSync

    with _open_store(path, create=True) as store:
        try:
            syncer = StateSync(
                store,
                nats_url,
                bucket=bucket,
                prefixes=prefixes or None,
                create_bucket=create_bucket,
                replicas=replicas,
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"--nats/--bucket: {exc}") from exc
        try:
            if follow:
                syncer.start()
                shown = None
                with _stop_on_signals() as stopping:
                    while not stopping.wait(0.2):  # each new error once, on stderr
                        error = syncer.status().last_error
                        if error is not None and error != shown:
                            click.echo(f"edgekit state sync: {error} (retrying)", err=True)
                        shown = error
                status = syncer.status()
                click.echo(
                    f"sent {status.sent}, received {status.received}, conflicts {status.conflicts}"
                )
            else:
                report = syncer.sync_now(timeout)
                left = syncer.status().pending_changes
                click.echo(
                    f"sent {report.sent}, received {report.received}, "
                    f"conflicts {report.conflicts}; {left} pending"
                )
        finally:
            syncer.stop()


COMMANDS = [state]
