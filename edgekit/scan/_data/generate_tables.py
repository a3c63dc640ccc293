"""Regenerate the compact lookup tables shipped in ``edgekit/scan/_data``.

Run from the repository root::

    python edgekit/scan/_data/generate_tables.py [--ieee-dir /usr/share/ieee-data]

Sources:

- ``bluetooth_numbers.gz``: Bluetooth SIG assigned numbers (company identifiers
  and service UUIDs) from the ``bluetooth-numbers`` PyPI package.
- ``ieee_oui.gz``: the IEEE registries MA-L (24-bit prefixes), MA-M (28-bit),
  MA-S and IAB (36-bit) from Debian's ``ieee-data`` package (``oui.csv``,
  ``mam.csv``, ``oui36.csv``, ``iab.csv``).

Both files are gzip-compressed text, one record a line, ``key<TAB>name``;
lines starting with ``#`` are headers.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_bluetooth_numbers(out: Path) -> int:
    import bluetooth_numbers

    lines = [f"# bluetooth-numbers {getattr(bluetooth_numbers, '__version__', '')}".rstrip()]
    for cid, name in sorted(bluetooth_numbers.company.items()):
        lines.append(f"c{cid:04x}\t{name}")
    for key, name in bluetooth_numbers.service.items():
        lines.append(f"s{key:08x}\t{name}" if isinstance(key, int) else f"s{key}\t{name}")
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("\n".join(lines) + "\n")
    return len(lines) - 1


def write_ieee(ieee_dir: Path, out: Path) -> int:
    rows: dict[str, str] = {}
    for filename in ("oui.csv", "mam.csv", "oui36.csv", "iab.csv"):
        with open(ieee_dir / filename, newline="", encoding="utf-8") as fh:
            for record in csv.DictReader(fh):
                prefix = record["Assignment"].strip().upper()
                name = " ".join(record["Organization Name"].split())
                if prefix and name:
                    rows[prefix] = name
    lines = ["# IEEE MA-L/MA-M/MA-S/IAB registries from Debian ieee-data"]
    lines += [f"{prefix}\t{rows[prefix]}" for prefix in sorted(rows)]
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("\n".join(lines) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ieee-dir", type=Path, default=Path("/usr/share/ieee-data"))
    args = parser.parse_args()
    print("bluetooth numbers:", write_bluetooth_numbers(HERE / "bluetooth_numbers.gz"))
    print("ieee prefixes:", write_ieee(args.ieee_dir, HERE / "ieee_oui.gz"))


if __name__ == "__main__":
    main()
