"""``edgekit serve`` (the status page and /metrics of a queue and a state store) and
``edgekit status`` (the same figures in the terminal, from a running serve or the files)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from edgekit._cli.sync import _stop_on_signals

__all__ = ["COMMANDS"]


def _read_token(token_file: str | None) -> str | None:
    """The token in ``token_file`` (its first line, stripped), or None without a file."""
    if token_file is None:
        return None
    from edgekit.errors import InvalidInputError

    token = Path(token_file).read_text().strip().split("\n")[0].strip()
    if not token:
        raise InvalidInputError(f"--token-file {token_file} is empty")
    return token


@contextlib.contextmanager
def _observing(queues: tuple[str, ...], state: str | None) -> Iterator[Any]:
    """A Telemetry observing the queues and the state store at these paths (closed after).

    A queue is opened as a second user of the file (LMDB allows several processes; a
    SyncQueue has no read-only mode): ``serve`` only reads its figures, while the
    process that owns it keeps putting and leasing.
    """
    from edgekit.errors import InvalidInputError
    from edgekit.telemetry import Telemetry

    with contextlib.ExitStack() as stack:
        telemetry = Telemetry()
        for path in queues:
            if not Path(path).is_dir():
                raise InvalidInputError(f"--queue {path} is not a queue directory")
            from edgekit.sync import SyncQueue

            telemetry.observe(stack.enter_context(SyncQueue(path)))
        if state is not None:
            if not Path(state).exists():
                raise InvalidInputError(f"--state {state} does not exist")
            from edgekit.state import StateStore

            telemetry.observe(stack.enter_context(StateStore(state)))
        yield telemetry


@click.command("serve")
@click.option("--queue", "queues", multiple=True, help="a sync queue directory (repeatable)")
@click.option("--state", default=None, help="a state store directory")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=9600, show_default=True, help="TCP port")
@click.option("--token-file", default=None, help="file holding the token (needed beyond loopback)")
def serve_command(
    queues: tuple[str, ...], state: str | None, host: str, port: int, token_file: str | None
) -> None:
    """Serve the status page, /metrics, /status.json and /healthz until Ctrl-C."""
    from edgekit.telemetry import serve

    token = _read_token(token_file)
    with (
        _observing(queues, state) as telemetry,
        serve(telemetry, host=host, port=port, token=token) as server,
    ):
        click.echo(f"edgekit serve: {server.url}/ (metrics at {server.url}/metrics); Ctrl-C stops")
        with _stop_on_signals() as stopping:
            stopping.wait()


def _fetch(url: str, token: str | None) -> dict[str, Any]:
    """``/status.json`` of a running serve at ``url``."""
    import urllib.error
    import urllib.request

    from edgekit.errors import TransportError

    request = urllib.request.Request(url.rstrip("/") + "/status.json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            found: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        hint = " (give --token-file)" if exc.code == 401 else ""
        raise TransportError(f"{url}: HTTP {exc.code} {exc.reason}{hint}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{url}: {reason}") from exc
    return found


def _value(name: str, value: Any) -> str:
    """One figure as text, in the unit its name ends in (``_bytes``, ``_s``, ``_us``...)."""
    from edgekit._cli._render import _text

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _text(value, "", name)
    if name.endswith("_bytes"):
        size, unit = float(value), "B"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or unit == "TiB":
                break
            size /= 1024
        return f"{value} B" if unit == "B" else f"{size:.1f} {unit}"
    if name.endswith("_percent"):
        return f"{value:.1f} %"
    if name.endswith("_at"):
        return _text(value, "", name)
    if name.endswith("_s") and not name.endswith("_per_s"):
        for limit, divisor, unit in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
            if abs(value) < limit:
                return f"{value / divisor:.3g} {unit}"
        return f"{value / 86400:.1f} d"
    for suffix, unit in (("_per_s", "/s"), ("_us", "µs"), ("_c", "°C")):
        if name.endswith(suffix):
            return f"{value:.4g} {unit}"
    return _text(value)


def _rows(section: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, value) of a status section; a dict field has a row per key."""
    for name, value in section.items():
        if isinstance(value, dict):
            for key, item in sorted(value.items()):
                if name == "topics" and isinstance(item, (list, tuple)) and len(item) == 2:
                    shown = f"{item[0]} messages, {_value('_bytes', item[1])}"
                else:
                    shown = _value(name, item)
                yield f"{name.removesuffix('s')} {key}", shown
        else:
            label = re.sub(r"_(bytes|percent|per_s|us|at|s|c)$", "", name)
            yield label.replace("_", " "), _value(name, value)


def render(status: dict[str, Any], source: str, width: int = 120) -> Any:
    """The status as rich tables (as many side by side as ``width`` columns hold): health,
    each observed object, devices around."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    healthz = status.get("healthz")
    if healthz is None:
        head = Text(f"edgekit status: {source}", style="bold")
    else:
        ok = healthz.get("healthy")
        head = Text.assemble(
            (f"edgekit status: {source}  ", "bold"),
            ("healthy" if ok else "unhealthy", "bold green" if ok else "bold red"),
        )
        for reason in healthz.get("reasons", []):
            head.append(f"\n  {reason}", style="red")
    parts: list[Any] = [head]
    grid = Table.grid(padding=(0, 2))
    tables = []
    every = status.get("all") or {}
    for kind in ("health", "queue", "sync", "infer", "state", "mesh", "guard", "recorder"):
        sections = every.get(kind) or {kind: status.get(kind)}  # each object of a kind
        for name, section in sections.items():
            if not isinstance(section, dict):
                continue
            title = kind if len(sections) == 1 else f"{kind} {name}"
            table = Table(title=title, title_justify="left", show_header=False)
            table.add_column("field")
            table.add_column("value", justify="right")
            for label, value in _rows(section):
                table.add_row(label, value)
            tables.append(table)
    per_row = max(1, width // 38)
    for i in range(0, len(tables), per_row):
        grid.add_row(*tables[i : i + per_row])
    parts.append(grid)
    scan = status.get("scan")
    if isinstance(scan, dict):
        devices = Table(
            title=f"devices around ({len(scan.get('devices', []))})", title_justify="left"
        )
        for column in ("name", "kind", "vendor", "protocols", "rssi"):
            devices.add_column(column)
        for device in scan.get("devices", [])[:50]:
            devices.add_row(
                *(_value(c, device.get(c)) for c in ("name", "kind", "vendor", "protocols", "rssi"))
            )
        parts.append(devices)
    return Group(*parts)


@click.command("status")
@click.option("--url", default=None, help="a running edgekit serve, http://127.0.0.1:9600")
@click.option("--queue", "queues", multiple=True, help="a sync queue directory (repeatable)")
@click.option("--state", default=None, help="a state store directory")
@click.option("--token-file", default=None, help="file holding the serve's token")
@click.option("--watch", is_flag=True, help="keep updating until Ctrl-C")
@click.option("--interval", default=2.0, show_default=True, help="seconds between updates")
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON, once")
def status_command(
    url: str | None,
    queues: tuple[str, ...],
    state: str | None,
    token_file: str | None,
    watch: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Health, queue, sync, inference and state figures, from a running serve or the files."""
    from rich.console import Console

    if (url is None) == (not queues and state is None):
        raise click.UsageError("give --url, or --queue/--state")
    if watch and as_json:
        raise click.UsageError("--json prints once: leave out --watch")
    token = _read_token(token_file)
    with contextlib.ExitStack() as stack:
        if url is not None:
            source = url

            def read() -> dict[str, Any]:
                return _fetch(url, token)
        else:
            telemetry = stack.enter_context(_observing(queues, state))
            source = ", ".join([*queues, *([state] if state else [])])

            def read() -> dict[str, Any]:
                ok, reasons = telemetry.healthy()
                return {**telemetry.status(), "healthz": {"healthy": ok, "reasons": reasons}}

        if as_json:
            click.echo(json.dumps(read(), indent=2, default=str))
            return
        console = Console()
        if not watch:
            console.print(render(read(), source, console.width))
            return
        from rich.live import Live
        from rich.text import Text

        from edgekit.errors import EdgekitError

        def frame() -> Any:
            try:
                return render(read(), source, console.width)
            except EdgekitError as exc:  # a serve restarting: keep watching
                return Text(f"edgekit status: {exc} (retrying every {interval} s)", style="red")

        with (
            _stop_on_signals() as stopping,
            Live(frame(), console=console, auto_refresh=False) as live,
        ):
            while not stopping.wait(interval):
                live.update(frame(), refresh=True)


COMMANDS = [serve_command, status_command]
