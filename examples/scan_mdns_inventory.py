"""Announce a service, discover it with MdnsScanner, and merge it into an Inventory.

    python examples/scan_mdns_inventory.py

Everything stays on loopback (127.0.0.1), so it runs on any machine.
"""

from __future__ import annotations

import asyncio

from edgekit.scan import Inventory, MdnsAdvertiser, MdnsScanner

LOOPBACK = ["127.0.0.1"]


async def main() -> None:
    inventory = Inventory()
    advertiser = MdnsAdvertiser(
        "Living Room",
        "_googlecast._tcp",
        8009,
        txt={"md": "Chromecast Ultra", "fn": "Living Room"},
        interfaces=LOOPBACK,
    )
    async with (
        advertiser,
        MdnsScanner(
            ["_googlecast._tcp"],
            interfaces=LOOPBACK,
            on_event=lambda event: print(event.kind, event.service.name),
        ) as scanner,
    ):
        await scanner.async_wait_complete(timeout=5.0, expected=1)
        for service in scanner.services.values():
            inventory.add_mdns(service)
    print(inventory)


if __name__ == "__main__":
    asyncio.run(main())
