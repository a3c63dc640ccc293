"""Announce a service, discover it with MdnsScanner, and merge it into an Inventory.

    python examples/scan_mdns_inventory.py

Everything stays on loopback (127.0.0.1), so it runs on any machine.

Needs: pip install "edgekit[mdns]" (zeroconf).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from edgekit.scan import Inventory, MdnsAdvertiser, MdnsScanner

LOOPBACK = ["127.0.0.1"]


async def run() -> None:
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
