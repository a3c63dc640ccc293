"""``edgekit demo``: a complete edge application on this machine."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.command()
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


COMMANDS = [demo]
