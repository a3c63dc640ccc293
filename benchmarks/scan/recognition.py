"""Recognition quality: precision and recall of vendor, kind and model on labelled sets.

Run: ``python -m benchmarks.scan.recognition`` (``--wrong`` lists wrong answers).
Three sets, under ``tests/scan/data``:

- ``recognition_independent.json``: real BLE captures from the parser tests of
  custom-components/ble_monitor (MIT), labelled with ble_monitor's manufacturer
  and type; not read while writing rules.
- ``recognition_holdout.json``: real BLE captures from the test files of open
  parser libraries (each record names repository, commit and test), labelled
  with what each library's parser reports; group ``held-out`` were the libraries
  not read in round 1 (their parser code became a rule source in round 2).
- ``labelled_devices.json``: the in-sample set the rules were written from.

A field counts as predicted when recognition gives a value and as labelled when
the record has one; precision = right / predicted, recall = right / labelled.
Names compare case-insensitively on their words, ignoring legal-form words
(``Ltd``, ``AG``...), a shorter name matching the start of a longer one
(``Ruuvi Innovations`` = ``Ruuvi Innovations Ltd.``); a label listing
alternatives (``H5072/H5075``) matches any of them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edgekit.scan import AccessPoint, Advertisement, Inventory, MdnsService, recognize
from edgekit.scan.advertisement import uuid16_to_str

DATA = Path(__file__).resolve().parents[2] / "tests" / "scan" / "data"
FIELDS = ("vendor", "kind", "model")
_LEGAL = {
    "ltd",
    "inc",
    "co",
    "corp",
    "corporation",
    "company",
    "ag",
    "gmbh",
    "llc",
    "oy",
    "ab",
    "bv",
    "sa",
}


def _uuid(u: str) -> str:
    return uuid16_to_str(int(u, 16)) if len(u) in (4, 8) else u.lower()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _LEGAL]


def _unbranded(words: list[str], brand: list[str]) -> list[str]:
    return words[len(brand) :] if brand and words[: len(brand)] == brand else words


def same(field: str, got: str, expected: str, vendor: str | None = None) -> bool:
    """Whether ``got`` names the same vendor, kind or model as the label ``expected``.

    ``vendor`` is the record's vendor label: a model may lead with it or not
    (``Kegtron KT-200`` = ``KT-200``).
    """
    if field == "kind":
        return got == expected
    options = [expected, *expected.split("/")] if field == "model" else [expected]
    brand = _words(vendor) if field == "model" and vendor else []
    g = _unbranded(_words(got), brand)
    for option in options:
        e = _unbranded(_words(option), brand)
        n = min(len(g), len(e))
        if (
            n
            and g[:n] == e[:n]
            and (field == "vendor" or len(g) == len(e) or "".join(g[:n]) == "".join(e))
        ):
            return True
        if field == "model" and "".join(g) == "".join(e):
            return True
    return False


def device_of(record: Mapping[str, Any], inventory: Inventory) -> Any:
    """Feed one labelled record to ``inventory``; returns the device and its service data."""
    if "mdns" in record:
        m = record["mdns"]
        service = MdnsService(m["name"], m["type"], m["server"], ("192.0.2.7",), 80, m["txt"])
        return inventory.add_mdns(service), {}
    if "ble" in record:
        b = record["ble"]
        service_data = {_uuid(u): bytes.fromhex(v) for u, v in b.get("service_data", {}).items()}
        adv = Advertisement(
            b.get("name") or None,
            [_uuid(u) for u in b.get("service_uuids", [])],
            service_data,
            {int(c): bytes.fromhex(v) for c, v in b.get("manufacturer_data", {}).items()},
            None,
        )
        address = b.get("address") or "C0:11:22:33:44:55"
        return inventory.add_ble(address, adv, rssi=-60), service_data
    w = record["wifi"]
    ap = AccessPoint(w["bssid"], w["ssid"], 2412, 1, "2.4", -50.0, "WPA2")
    return inventory.add_wifi(ap), {}


def score(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-field counts, precision and recall, and the wrong answers, over ``records``."""
    counts = {f: {"labelled": 0, "predicted": 0, "right": 0} for f in FIELDS}
    wrong: list[tuple[str, str, str, str]] = []
    brands: set[str] = set()
    n = 0
    for record in records:
        n += 1
        device, service_data = device_of(record, Inventory(recognize=False))
        got = recognize(device, service_data=service_data)
        expect = record["expect"]
        if "vendor" in expect:
            brands.add(expect["vendor"].lower())
        for field in FIELDS:
            value, label = getattr(got, field), expect.get(field)
            c = counts[field]
            c["labelled"] += label is not None
            if value is None:
                continue
            if label is None:
                continue  # nothing to judge the answer against
            c["predicted"] += 1
            if same(field, value, label, expect.get("vendor")):
                c["right"] += 1
            else:
                wrong.append((field, str(label), value, record.get("source", "")))
    out: dict[str, Any] = {"records": n, "brands": len(brands), "wrong": wrong}
    for field, c in counts.items():
        out[field] = {
            **c,
            "precision": c["right"] / c["predicted"] if c["predicted"] else 1.0,
            "recall": c["right"] / c["labelled"] if c["labelled"] else 1.0,
        }
    return out


def load(name: str) -> list[dict[str, Any]]:
    """The records of ``tests/scan/data/<name>``."""
    records: list[dict[str, Any]] = json.loads((DATA / name).read_text("utf-8"))["records"]
    return records


def table() -> list[tuple[str, dict[str, Any]]]:
    """Scores of the held-out, dev and in-sample sets."""
    holdout = load("recognition_holdout.json")
    return [
        ("independent: ble_monitor test captures", score(load("recognition_independent.json"))),
        (
            "captures, round-1 held-out libraries",
            score(r for r in holdout if r["group"] == "held-out"),
        ),
        ("captures, round-1 dev libraries", score(r for r in holdout if r["group"] == "dev")),
        ("captures, all", score(holdout)),
        ("in-sample (rule sources)", score(load("labelled_devices.json"))),
    ]


def main(argv: list[str] | None = None) -> None:
    show_wrong = "--wrong" in (argv if argv is not None else sys.argv[1:])
    print("| set | devices | brands | vendor P / R | kind P / R | model P / R |")
    print("|---|---|---|---|---|---|")
    results = table()
    for label, s in results:
        cells = " | ".join(f"{s[f]['precision']:.3f} / {s[f]['recall']:.3f}" for f in FIELDS)
        print(f"| {label} | {s['records']} | {s['brands']} | {cells} |")
    if show_wrong:
        for label, s in results:
            for w in s["wrong"]:
                print(label, *w, sep="\t")


if __name__ == "__main__":
    main()
