"""Recognition from the rule table: precision on a labelled set, rule-table format, host rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.errors import InvalidInputError
from edgekit.scan import (
    AccessPoint,
    Advertisement,
    Inventory,
    MdnsService,
    Rule,
    RuleSet,
    company_name,
    default_rules,
    recognize,
)
from edgekit.scan.advertisement import uuid16_to_str

DATA = Path(__file__).parent / "data"


def _adv(spec: dict) -> Advertisement:  # type: ignore[type-arg]
    return Advertisement(
        spec.get("name"),
        [uuid16_to_str(int(u, 16)) for u in spec.get("service_uuids", [])],
        {
            uuid16_to_str(int(u, 16)): bytes.fromhex(v)
            for u, v in spec.get("service_data", {}).items()
        },
        {int(c): bytes.fromhex(v) for c, v in spec.get("manufacturer_data", {}).items()},
        None,
    )


def device_of(record: dict, inventory: Inventory):  # type: ignore[no-untyped-def,type-arg]
    if "mdns" in record:
        m = record["mdns"]
        service = MdnsService(m["name"], m["type"], m["server"], ("192.0.2.7",), 80, m["txt"])
        return inventory.add_mdns(service)
    if "ble" in record:
        return inventory.add_ble("C0:11:22:33:44:55", _adv(record["ble"]), rssi=-60)
    w = record["wifi"]
    return inventory.add_wifi(AccessPoint(w["bssid"], w["ssid"], 2412, 1, "2.4", -50.0, "WPA2"))


def test_precision_on_labelled_set() -> None:
    records = json.loads((DATA / "labelled_devices.json").read_text("utf-8"))["records"]
    predicted = correct = labelled = 0
    wrong = []
    for record in records:
        inventory = Inventory()
        device = device_of(record, inventory)
        got = recognize(device)
        for field, expected in record["expect"].items():
            labelled += 1
            value = getattr(got, field)
            if value is None:
                continue
            predicted += 1
            if value == expected:
                correct += 1
            else:
                wrong.append((field, expected, value))
    precision = correct / predicted
    recall = correct / labelled
    print(
        f"recognition: {len(records)} records, {labelled} labelled fields, precision {precision:.3f}, recall {recall:.3f}"
    )
    assert len(records) >= 45
    assert precision >= 0.95, wrong
    assert recall >= 0.9, wrong


def test_inventory_fills_recognition() -> None:
    inventory = Inventory()
    service = MdnsService(
        "Living Room._googlecast._tcp.local.",
        "_googlecast._tcp.local.",
        "cc1.local.",
        ("192.0.2.1",),
        8009,
        {"md": "Chromecast", "fn": "Living Room"},
    )
    inventory.add_mdns(service)
    (device,) = inventory.devices
    assert (device.vendor, device.kind, device.model) == ("Google", "tv", "Chromecast")


def test_host_rules_win_and_templates() -> None:
    rules = RuleSet.shipped()
    n = len(rules)
    rules.add(
        {
            "id": "my-sensor",
            "when": {"name": "^EDGE-"},
            "then": {"vendor": "Acme", "kind": "sensor", "model": "{name}"},
        }
    )
    assert len(rules) == n + 1
    inventory = Inventory(recognize=False)
    device = inventory.add_ble(
        "C0:00:00:00:00:01", _adv({"name": "EDGE-42", "service_data": {"fcd2": "4002c409"}})
    )
    got = recognize(device, rules)
    assert (got.vendor, got.kind, got.model) == ("Acme", "sensor", "EDGE-42")
    assert got.rules[0] == "my-sensor"
    # The shipped default set is untouched by a copy's additions.
    assert recognize(device).kind == "sensor"


def test_inventory_rules_leave_the_process_wide_default_alone() -> None:
    rules = RuleSet.shipped()
    rules.add(
        {
            "id": "test-only",
            "when": {"mdns_type": "_edgekit-test._tcp"},
            "then": {"kind": "other"},
        }
    )
    service = MdnsService(
        "x._edgekit-test._tcp.local.", "_edgekit-test._tcp.local.", "x.local.", (), 1
    )
    mine, plain = Inventory(rules=rules), Inventory()
    mine.add_mdns(service)
    plain.add_mdns(service)
    assert mine.devices[0].kind == "other"
    assert plain.devices[0].kind is None
    n = len(default_rules())
    with pytest.raises(InvalidInputError, match="cannot be changed"):
        default_rules().add({"id": "x", "when": {"name": "x"}, "then": {"kind": "other"}})
    assert len(default_rules()) == n
    with pytest.raises(InvalidInputError, match="RuleSet"):
        Inventory(rules=[{"id": "x"}])  # type: ignore[arg-type]


def test_missing_template_value_leaves_field_unset() -> None:
    rule = Rule.from_dict(
        {
            "id": "t",
            "when": {"mdns_type": "_x._tcp"},
            "then": {"model": "{txt.md}", "kind": "other"},
        }
    )
    rules = RuleSet([rule])
    inventory = Inventory(recognize=False)
    device = inventory.add_mdns(
        MdnsService("a._x._tcp.local.", "_x._tcp.local.", "a.local.", (), 1, {})
    )
    got = recognize(device, rules)
    assert got.model is None and got.kind == "other"


def test_vendor_fallbacks() -> None:
    inventory = Inventory(recognize=False)
    # A public BLE address more often names the radio module's maker: no vendor from it.
    public = inventory.add_ble("00:17:88:AA:BB:CC")
    assert recognize(public).vendor is None
    ap = AccessPoint("00:17:88:AA:BB:CD", "hue", 2412, 1, "2.4", -50.0, "WPA2")
    assert recognize(inventory.add_wifi(ap)).vendor == "Philips Lighting BV"
    # A company id alone names no vendor (it may be measurement bytes); the name backs it.
    ble = inventory.add_ble("D0:00:00:00:00:01", _adv({"manufacturer_data": {"1177": "05"}}))
    assert recognize(ble, RuleSet()).vendor is None
    named = inventory.add_ble(
        "D0:00:00:00:00:02", _adv({"name": "Ruuvi 1A2B", "manufacturer_data": {"1177": "05"}})
    )
    assert recognize(named, RuleSet()).vendor == company_name(1177)


@pytest.mark.parametrize(
    "bad",
    [
        {"when": {}, "then": {}},
        {"id": "x", "when": {"colour": "red"}, "then": {"kind": "x"}},
        {"id": "x", "when": {"name": "("}, "then": {"kind": "x"}},
        {"id": "x", "when": {}, "then": {"price": "1"}},
        {"id": "x", "when": {"ble_data_prefix": "zz"}, "then": {"kind": "sensor"}},
        {"id": "x", "when": {"name": "a"}, "then": {"kind": "smart home device"}},
        {"id": "x", "when": {"ble_service_data": {"fe95": "("}}, "then": {"kind": "sensor"}},
    ],
)
def test_bad_rules(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError):
        Rule.from_dict(bad)


def test_rule_files_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(
        json.dumps(
            {"rules": [{"id": "a", "when": {"protocol": "wifi"}, "then": {"kind": "router"}}]}
        )
    )
    (tmp_path / "r.toml").write_text(
        '[[rules]]\nid = "b"\nthen = { kind = "printer" }\n[rules.when]\nmdns_type = "_ipp._tcp"\n'
    )
    assert [r.id for r in RuleSet.from_file(tmp_path / "r.json")] == ["a"]
    assert [r.id for r in RuleSet.from_file(tmp_path / "r.toml")] == ["b"]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidInputError):
        RuleSet.from_file(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError):
        RuleSet.from_table({"no": "rules"})


def test_shipped_table_is_valid() -> None:
    rules = RuleSet.shipped()
    assert len(rules) >= 60
    assert len({r.id for r in rules}) == len(rules)
