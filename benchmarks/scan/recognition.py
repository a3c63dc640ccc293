"""Recognition quality: precision and recall of vendor, kind and model on labelled sets.

Run: ``python -m benchmarks.scan.recognition`` (``--wrong`` lists wrong answers).
The sets, under ``tests/scan/data``:

- ``recognition_theengs.json`` (independent, round 3): real BLE captures from the
  decoder tests of theengs/decoder (GPL-3.0, kept as a separate data file under
  that licence), labelled with Theengs' own brand, model id and device type;
  neither its code, its documentation nor its captures were read for rules.
- ``recognition_independent.json``: real BLE captures from the parser tests of
  custom-components/ble_monitor (MIT), labelled with ble_monitor's manufacturer
  and type. Independent in rounds 1-2; its parser code is a rule source since
  round 3, so it is now a "sources read" row.
- ``recognition_holdout.json``: real BLE captures from the test files of open
  parser libraries (each record names repository, commit and test), labelled
  with what each library's parser reports; group ``held-out`` were the libraries
  not read in round 1 (their parser code became a rule source in round 2).
- ``labelled_devices.json``: the in-sample set the rules were written from.

A field counts as predicted when recognition gives a value and as labelled when
the record has one; precision = right / predicted, recall = right / labelled.
Names compare case-insensitively on their words, ignoring legal-form words
(``Ltd``, ``AG``...) and spaces between words (``Blue Maestro`` = ``BlueMaestro``),
a shorter name matching the start of a longer one
(``Ruuvi Innovations`` = ``Ruuvi Innovations Ltd.``). A label listing
alternatives with ``/`` matches any of them (``ClearGrass/Qingping``,
``H5072/H5075``); a short alternative replaces the end of the first
(``H5072/75`` = ``H5072`` or ``H5075``). A model may lead with the
brand, with or without a space (``ShellyBLU Button1`` = ``BLU Button1``), and a
trailing ``X`` after a digit stands for one character of a model family
(``TP35X`` = ``TP357``). A model label may carry a ``model_name`` (the
source's product name) as one more alternative. Vendor
names of the same maker are made equal by :data:`VENDOR_ALIASES`, one table for
every set (no per-record exceptions).
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


#: Names that sources use for the same maker (lower case), mapped to one name.
VENDOR_ALIASES = {
    "xiaomi aqara": "aqara",  # ble_monitor's name for Aqara (Lumi) products
    "lumi": "aqara",
    "cleargrass": "qingping",  # Qingping's former brand name
    "rbaron": "b-parasite",  # b-parasite is rbaron's open-hardware sensor
    "ruuvi": "ruuvi innovations",
    "garnet": "garnet instruments",
    "thermoplus": "thermobeacon",  # ble_monitor's renamed manufacturers
    "brifit": "thermobeacon",
}
#: MiBeacon parsers label every product of Xiaomi's Mi Home ecosystem "Xiaomi";
#: such a label also accepts the maker brands of that ecosystem.
XIAOMI_ECOSYSTEM = {
    "xiaomi",
    "mijia",
    "qingping",
    "miaomiaoce",
    "hhcc plant technology",
    "yeelight",
    "linptech",
    "aqara",
    "lockin",
    "viomi",
    "ptx",
    "honeywell",
    "soocas",
    "8h sleep",
}


def _uuid(u: str) -> str:
    return uuid16_to_str(int(u, 16)) if len(u) in (4, 8) else u.lower()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _LEGAL]


def _unbranded(words: list[str], brand: list[str]) -> list[str]:
    return words[len(brand) :] if brand and words[: len(brand)] == brand else words


def _unbranded_joined(words: list[str], brand: list[str]) -> str:
    joined, prefix = "".join(words), "".join(brand)
    return joined[len(prefix) :] if prefix and joined.startswith(prefix) else joined


def _alternatives(label: str) -> list[str]:
    parts = [p.strip() for p in label.split("/") if p.strip()]
    if len(parts) < 2:
        return [label]
    first = parts[0]
    out = [label, first]
    for p in parts[1:]:
        short = len(p) < len(first) and " " not in p
        out.append(first[: len(first) - len(p)] + p if short else p)
    return out


def _vendor_key(name: str) -> str:
    key = " ".join(_words(name))
    return " ".join(_words(VENDOR_ALIASES.get(key, key)))


def _starts(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + " ")


def same(field: str, got: str, expected: str, vendor: str | None = None) -> bool:
    """Whether ``got`` names the same vendor, kind or model as the label ``expected``.

    ``vendor`` is the record's vendor label: a model may lead with it or not
    (``Kegtron KT-200`` = ``KT-200``).
    """
    if field == "kind":
        return got == expected
    options = _alternatives(expected)
    if field == "vendor":
        g = _vendor_key(got)
        for option in options:
            e = _vendor_key(option)
            if e == "xiaomi" and any(_starts(g, _vendor_key(x)) for x in XIAOMI_ECOSYSTEM):
                return True
            if _starts(g, e) or _starts(e, g) or g.replace(" ", "") == e.replace(" ", ""):
                return True
        return False
    brand = _words(vendor) if vendor else []
    g_words = _unbranded(_words(got), brand)
    g_joined = _unbranded_joined(g_words, brand)
    for option in options:
        e_words = _unbranded(_words(option), brand)
        n = min(len(g_words), len(e_words))
        if (
            n
            and g_words[:n] == e_words[:n]
            and (len(g_words) == len(e_words) or "".join(g_words[:n]) == "".join(e_words))
        ):
            return True
        e_joined = _unbranded_joined(e_words, brand)
        if g_joined == e_joined:
            return True
        if (  # a family label: TP35X = TP357, TP358...
            len(e_joined) > 2
            and e_joined[-1] == "x"
            and e_joined[-2].isdigit()
            and len(g_joined) == len(e_joined)
            and g_joined[:-1] == e_joined[:-1]
        ):
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
            if same(field, value, label, expect.get("vendor")) or (
                field == "model"
                and "model_name" in expect
                and same(field, value, expect["model_name"], expect.get("vendor"))
            ):
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
    """Scores of the independent, sources-read and in-sample sets."""
    holdout = load("recognition_holdout.json")
    return [
        ("independent: Theengs decoder test captures", score(load("recognition_theengs.json"))),
        (
            "sources read: ble_monitor test captures",
            score(load("recognition_independent.json")),
        ),
        (
            "sources read: captures, round-1 held-out libraries",
            score(r for r in holdout if r["group"] == "held-out"),
        ),
        (
            "sources read: captures, round-1 dev libraries",
            score(r for r in holdout if r["group"] == "dev"),
        ),
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
