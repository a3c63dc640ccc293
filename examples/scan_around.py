"""Scan mDNS, BLE and WiFi for a few seconds and print one device table.

    python examples/scan_around.py [seconds]

Protocols that cannot run on this machine (no Bluetooth adapter, no nmcli/iw)
are listed at the end instead of stopping the scan.
"""

from __future__ import annotations

import sys

from edgekit.scan import scan


def main() -> None:
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    inventory = scan(timeout=timeout)
    try:
        from rich.console import Console

        Console().print(inventory)
    except ImportError:
        print(inventory)
    for protocol, reason in inventory.unavailable.items():
        print(f"{protocol} unavailable: {reason}")


if __name__ == "__main__":
    main()
