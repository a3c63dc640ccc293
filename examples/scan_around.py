"""Scan mDNS, BLE and WiFi for a few seconds and print one device table.

    python examples/scan_around.py [seconds]

Protocols that cannot run on this machine (no Bluetooth adapter, no nmcli/iw)
are listed at the end instead of stopping the scan.

Needs: pip install "edgekit[mdns,ble,cli]" (zeroconf, bleak, and rich for the table).
"""

from __future__ import annotations

import argparse
import sys

from edgekit.scan import scan


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "seconds", nargs="?", type=float, default=5.0, help="scan time (default: 5)"
    )
    args = parser.parse_args(argv)
    inventory = scan(timeout=args.seconds)
    try:
        from rich.console import Console

        Console().print(inventory)
    except ImportError:
        print(inventory)
    for protocol, reason in inventory.unavailable.items():
        print(f"{protocol} unavailable: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
