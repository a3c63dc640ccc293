"""``edgekit scan``: mDNS, BLE and WiFi into one live-updating device table."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.command("scan")
@click.option("--mdns", "use_mdns", is_flag=True, help="Browse mDNS/DNS-SD services.")
@click.option("--ble", "use_ble", is_flag=True, help="Scan BLE advertisements.")
@click.option("--wifi", "use_wifi", is_flag=True, help="List WiFi access points.")
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=float,
    help="Most seconds to scan (mDNS alone ends once its answers settle, about 3.6 s).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON at the end.")
@click.option(
    "--interface",
    "interfaces",
    multiple=True,
    help="IP address of an interface for mDNS (repeatable; default: all).",
)
@click.option(
    "--service-type",
    "--type",
    "service_types",
    multiple=True,
    help="mDNS service type: _http._tcp, or http for short (repeatable; default: every type).",
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
    import warnings

    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape

    from edgekit.errors import EdgekitWarning
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

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EdgekitWarning)
        asyncio.run(run())
    if as_json:
        click.echo(inventory.to_json(indent=2))
    elif not console.is_terminal:
        console.print(inventory.table())
    for name, reason in inventory.unavailable.items():
        console.print(f"[yellow]{name} unavailable:[/] {escape(reason)}")
    for warning in caught:
        if issubclass(warning.category, EdgekitWarning):
            console.print(f"[yellow]warning:[/] {escape(str(warning.message))}", soft_wrap=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return 0


COMMANDS = [scan_command]
