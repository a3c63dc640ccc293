"""Parse recorded BLE advertisement payloads: fields, beacon/sensor decoders, batch columns.

    python examples/scan_parse_advertisements.py

Runs anywhere, no radio needed. Needs: nothing beyond ``pip install edgekit``.
"""

from __future__ import annotations

import argparse
import sys

from edgekit.scan import (
    company_name,
    decode_bthome,
    decode_eddystone,
    decode_ibeacon,
    parse_advertisement,
    parse_advertisements,
)

PAYLOADS = [
    # BTHome v2 temperature/humidity from a LYWSD03MMC running ATC firmware.
    bytes.fromhex("0201060b094154435f3844313842320a16d2fc4002ca0903bf13"),
    # iBeacon.
    bytes.fromhex("0201061aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5"),
    # Eddystone-URL https://www.google.com/
    bytes.fromhex("0303aafe0d16aafe10f801") + b"google\x00",
    # A LOOKin remote, captured by Home Assistant users (bluetooth-data-tools' corpus).
    b"\x02\x01\x06\x03\x03\x12\x18\x10\tLOOKin_98F33163\x03\x19\xc1\x03",
    # A truncated payload: reported, not raised.
    bytes.fromhex("02010605ff4c00"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    for payload in PAYLOADS:
        adv = parse_advertisement(payload)
        companies = [company_name(c) for c in adv.manufacturer_data]
        print(
            f"{payload.hex()}\n  name={adv.local_name!r} uuids={adv.service_uuids} companies={companies}"
        )
        print(f"  flags={adv.flags} appearance={adv.appearance} malformed={list(adv.malformed)}")
        for decode in (decode_bthome, decode_ibeacon, decode_eddystone):
            decoded = decode(adv)
            if decoded is not None:
                print(f"  {decode.__name__}: {decoded}")
    batch = parse_advertisements(PAYLOADS * 1000)
    print(f"batch of {len(batch)}: company ids {sorted(set(batch.company_id.tolist()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
