"""Recognise vendor, device type and model from a rule table that is data, not code.

A rule has an ``id``, a ``when`` (every condition must hold) and a ``then``
(fields to set, with ``{...}`` templates). Rules are tried in order; for each of
``vendor``, ``kind`` and ``model`` the first matching rule that yields a value
wins. The shipped table is ``edgekit/scan/_data/recognition_rules.json``; a host
adds its own to a copy of it with :meth:`RuleSet.add` (placed before the shipped
rules, so they win) or loads a whole table with :meth:`RuleSet.from_file` (JSON or
TOML), and hands it to ``Inventory(rules=...)``, ``scan(rules=...)`` or
:func:`recognize`. The process-wide :func:`default_rules` cannot be changed.

Conditions (``when``):

- ``protocol``: ``"ble"``, ``"mdns"`` or ``"wifi"``.
- ``mdns_type``: a DNS-SD service type (``"_googlecast._tcp"``).
- ``txt``: ``{key: regex}``; the key must be in a TXT record and its value match.
- ``ble_company``: a company id (int) or a list of them.
- ``ble_data_prefix``: hex that the manufacturer data of ``ble_company`` starts with.
- ``ble_data``: ``{company id: regex}`` searched in the lower-case hex of that
  company's manufacturer data.
- ``ble_any_data``: a regex searched in the lower-case hex of the company id
  (little-endian) followed by its manufacturer data, for every company id
  advertised (for devices whose whole payload sits where the company id
  should be); ``{address}`` in it stands for the hex of the device's address.
- ``ble_service``: a 16-bit UUID in hex (``"fe95"``), a full UUID, or a list.
- ``ble_service_data``: ``{service UUID: regex}`` searched in the lower-case hex
  of the service data under that UUID.
- ``bthome``: a regex searched in the names of the measurements of the
  device's unencrypted BTHome v2 service data (0xFCD2), sorted and joined by
  spaces (``"battery button packet_id"``); encrypted or undecodable BTHome data
  matches no ``bthome`` condition.
- ``name``: a regex searched in the device name (named groups feed templates).
- ``oui_vendor``: a regex searched in the IEEE vendor of the device's MACs.

Templates (``then``): ``{txt.KEY}``, ``{name}``, ``{name.GROUP}`` (a named
group of the ``name`` regex), ``{company}`` (Bluetooth SIG name of the first
company id) and ``{oui_vendor}``; a field whose template refers to a missing
value is not set by that rule. ``kind`` is one of :data:`KINDS`. A rule may
carry a ``source`` (where the rule comes from); the shipped rules all do.

The vendor is the maker of the product, not of its radio chip. When no rule
names a vendor, the IEEE vendor of a MAC that is not locally administered is
used for a device heard on mDNS or WiFi (a BLE address more often names the
radio module's maker) unless it is a chip or module maker (:data:`CHIP_MAKERS`), and the
Bluetooth SIG name of an advertised company id only when the device's name or
a member service UUID of the same company backs it (manufacturer data often
carries measurement bytes where the company id should be).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from edgekit.errors import CorruptDataError, InvalidInputError
from edgekit.scan.advertisement import Advertisement, uuid16_to_str
from edgekit.scan.beacons import BTHOME_UUID, decode_bthome
from edgekit.scan.names import company_name, lookup_vendor, service_name

__all__ = [
    "CHIP_MAKERS",
    "FIELDS",
    "KINDS",
    "Recognition",
    "Recognizable",
    "Rule",
    "RuleSet",
    "default_rules",
    "recognize",
]

#: The fields a rule may set.
FIELDS = ("vendor", "kind", "model")
#: The device kinds a rule may give (``other``: known, but none of the rest).
KINDS = (
    "sensor",
    "scale",
    "toothbrush",
    "lock",
    "light",
    "switch",
    "button",
    "plug",
    "thermostat",
    "beacon",
    "tracker",
    "speaker",
    "tv",
    "printer",
    "camera",
    "phone",
    "computer",
    "router",
    "hub",
    "other",
)
#: Chip and radio-module makers: their IEEE OUI or Bluetooth SIG company id alone names no product maker.
CHIP_MAKERS = re.compile(
    r"texas instruments|nordic semiconductor|telink|espressif|realtek|silicon lab|"
    r"dialog semi|renesas|qualcomm|cambridge silicon|\bcsr\b|broadcom|cypress|infineon|"
    r"mediatek|airoha|beken|bouffalo|actions (semi|tech)|microchip|stmicro|nxp|"
    r"bestechnic|jieli|bluetrum|realsil|murata|u-blox|panasonic|tuya|hon hai|"
    r"azurewave|ampak|liteon|lite-on|quectel|fn-link|universal global scientific|"
    r"shanghai high-flying|hui zhou gaoshengda|xerox|amiccom|energy micro|rayson",
    re.IGNORECASE,
)
_CONDITIONS = {
    "protocol",
    "mdns_type",
    "txt",
    "ble_company",
    "ble_data_prefix",
    "ble_data",
    "ble_any_data",
    "ble_service",
    "ble_service_data",
    "name",
    "oui_vendor",
    "bthome",
}
_TEMPLATE = re.compile(r"\{([a-zA-Z_][\w.-]*)\}")


class Recognizable(Protocol):
    """The fields of a device that :func:`recognize` reads (an inventory
    :class:`~edgekit.scan.inventory.Device` has them all)."""

    @property
    def name(self) -> str | None:
        """Best name heard."""

    @property
    def protocols(self) -> AbstractSet[str]:
        """``"ble"``, ``"mdns"``, ``"wifi"``."""

    @property
    def addresses(self) -> AbstractSet[str]:
        """MAC/BLE addresses."""

    @property
    def services(self) -> AbstractSet[str]:
        """mDNS service types."""

    @property
    def txt(self) -> Mapping[str, Any]:
        """Merged TXT records."""

    @property
    def company_ids(self) -> AbstractSet[int]:
        """BLE manufacturer-data company ids."""

    @property
    def manufacturer_data(self) -> Mapping[int, bytes]:
        """Latest BLE manufacturer data by company id."""

    @property
    def service_uuids(self) -> AbstractSet[str]:
        """BLE service UUIDs."""

    @property
    def service_data(self) -> Mapping[str, bytes]:
        """Latest BLE service data by service UUID."""


def _full_type(t: str) -> str:
    t = t.strip().rstrip(".")
    return t if t.endswith(".local") else t + ".local"


def _full_uuid(u: str) -> str:
    u = u.strip().lower()
    if len(u) in (4, 8):
        return uuid16_to_str(int(u, 16))
    return u


@dataclass(frozen=True)
class Rule:
    """One recognition rule (see the module docstring for ``when`` and ``then``)."""

    id: str
    when: Mapping[str, Any]
    then: Mapping[str, str]
    _txt: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), repr=False, compare=False)
    _name: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    _oui: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    _companies: frozenset[int] = field(default=frozenset(), repr=False, compare=False)
    _services: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _prefix: bytes | None = field(default=None, repr=False, compare=False)
    _mdns_type: str | None = field(default=None, repr=False, compare=False)
    _data: tuple[tuple[int, re.Pattern[str]], ...] = field(default=(), repr=False, compare=False)
    _sdata: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), repr=False, compare=False)
    _any_data: str | None = field(default=None, repr=False, compare=False)
    source: str = ""
    _bthome: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build and validate a rule from its table form.

        Raises:
            InvalidInputError: unknown condition or field, bad regex or value.
        """
        try:
            rule_id = str(data["id"])
            when = dict(data.get("when", {}))
            then = {str(k): str(v) for k, v in dict(data["then"]).items()}
            source = str(data.get("source", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"a rule needs 'id', 'when' and 'then': {data!r}") from exc
        unknown = set(when) - _CONDITIONS
        if unknown:
            raise InvalidInputError(f"rule {rule_id}: unknown conditions {sorted(unknown)}")
        if set(then) - set(FIELDS):
            raise InvalidInputError(f"rule {rule_id}: 'then' may set only {FIELDS}")
        kind = then.get("kind")
        if kind is not None and "{" not in kind and kind not in KINDS:
            raise InvalidInputError(f"rule {rule_id}: kind {kind!r} is not one of {KINDS}")
        try:
            txt = tuple((str(k), re.compile(str(v))) for k, v in dict(when.get("txt", {})).items())
            name = re.compile(when["name"], re.IGNORECASE) if "name" in when else None
            oui = re.compile(when["oui_vendor"], re.IGNORECASE) if "oui_vendor" in when else None
            companies = when.get("ble_company", [])
            companies = frozenset(
                int(c) for c in (companies if isinstance(companies, list) else [companies])
            )
            services = when.get("ble_service", [])
            services = frozenset(
                _full_uuid(s) for s in (services if isinstance(services, list) else [services])
            )
            prefix = bytes.fromhex(when["ble_data_prefix"]) if "ble_data_prefix" in when else None
            data_res = tuple(
                (int(c), re.compile(str(v))) for c, v in dict(when.get("ble_data", {})).items()
            )
            sdata_res = tuple(
                (_full_uuid(str(u)), re.compile(str(v)))
                for u, v in dict(when.get("ble_service_data", {})).items()
            )
            bthome = re.compile(str(when["bthome"])) if "bthome" in when else None
            any_data = str(when["ble_any_data"]) if "ble_any_data" in when else None
            if any_data is not None:
                re.compile(any_data.replace("{address}", "0" * 12))
        except (re.error, ValueError, TypeError) as exc:
            raise InvalidInputError(f"rule {rule_id}: {exc}") from exc
        mdns_type = _full_type(str(when["mdns_type"])) if "mdns_type" in when else None
        return cls(
            rule_id,
            when,
            then,
            txt,
            name,
            oui,
            companies,
            services,
            prefix,
            mdns_type,
            data_res,
            sdata_res,
            any_data,
            source,
            bthome,
        )

    def matches(self, facts: _Facts) -> bool:
        """Whether every condition holds for the device described by ``facts``."""
        when = self.when
        if "protocol" in when and when["protocol"] not in facts.protocols:
            return False
        if self._mdns_type is not None and self._mdns_type not in facts.types:
            return False
        for key, pattern in self._txt:
            value = facts.txt.get(key)
            if value is None or not pattern.search(value):
                return False
        if self._companies:
            hit = self._companies & facts.companies
            if not hit:
                return False
            if self._prefix is not None and not any(
                facts.company_data.get(c, b"").startswith(self._prefix) for c in hit
            ):
                return False
        for company, pattern in self._data:
            payload = facts.company_data.get(company)
            if payload is None or not pattern.search(payload.hex()):
                return False
        if self._any_data is not None and not _any_data_matches(self._any_data, facts):
            return False
        if self._services and not self._services & facts.services:
            return False
        for uuid, pattern in self._sdata:
            payload = facts.service_data.get(uuid)
            if payload is None or not pattern.search(payload.hex()):
                return False
        if self._bthome is not None and not (
            facts.bthome is not None and self._bthome.search(facts.bthome)
        ):
            return False
        if self._name is not None and not (facts.name and self._name.search(facts.name)):
            return False
        return not (self._oui is not None and not (facts.oui and self._oui.search(facts.oui)))

    def render(self, facts: _Facts) -> dict[str, str]:
        """The fields this rule sets for ``facts`` (templates filled; unfillable ones left out)."""
        out = {}
        groups: dict[str, str] = {}
        if self._name is not None and facts.name:
            m = self._name.search(facts.name)
            if m:
                groups = {k: v for k, v in m.groupdict().items() if v}
        for key, template in self.then.items():
            missing = False

            def fill(m: re.Match[str]) -> str:
                nonlocal missing
                ref = m.group(1)
                value = groups.get(ref[5:]) if ref.startswith("name.") else facts.lookup(ref)
                if value is None:
                    missing = True
                    return ""
                return value

            text = _TEMPLATE.sub(fill, template).strip()
            if not missing and text:
                out[key] = text
        return out


@dataclass
class _Facts:
    protocols: AbstractSet[str]
    types: set[str]
    txt: dict[str, str]
    companies: frozenset[int]
    company_data: dict[int, bytes]
    services: frozenset[str]
    name: str | None
    oui: str | None
    service_data: dict[str, bytes] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    bthome: str | None = None

    def lookup(self, key: str) -> str | None:
        if key.startswith("txt."):
            return self.txt.get(key[4:])
        if key == "name":
            return self.name
        if key == "oui_vendor":
            return self.oui
        if key == "company":
            return next((n for c in sorted(self.companies) if (n := company_name(c))), None)
        return None


@functools.lru_cache(maxsize=256)
def _any_data_pattern(template: str, address: str) -> re.Pattern[str]:
    return re.compile(template.replace("{address}", address))


def _any_data_matches(template: str, facts: _Facts) -> bool:
    payloads = [c.to_bytes(2, "little").hex() + d.hex() for c, d in facts.company_data.items()]
    addresses = facts.addresses if "{address}" in template else ("",)
    return any(_any_data_pattern(template, a).search(p) for a in addresses for p in payloads)


@dataclass(frozen=True)
class Recognition:
    """What :func:`recognize` concluded: vendor, kind and model (each may be ``None``), and the rules used."""

    vendor: str | None
    kind: str | None
    model: str | None
    rules: tuple[str, ...] = ()


class RuleSet:
    """An ordered table of :class:`Rule` objects, indexed for fast matching."""

    def __init__(self, rules: Iterable[Rule | Mapping[str, Any]] = ()) -> None:
        self._frozen = False
        self._rules: list[Rule] = []
        for rule in rules:
            self._rules.append(rule if isinstance(rule, Rule) else Rule.from_dict(rule))
        self._reindex()

    def _reindex(self) -> None:
        # Each rule is filed under one anchor it cannot match without; rules
        # with none of them are generic and always tried.
        self._by_anchor: dict[tuple[str, Any], list[int]] = {}
        self._generic: list[int] = []
        for i, rule in enumerate(self._rules):
            if rule._mdns_type is not None:
                anchors: list[tuple[str, Any]] = [("type", rule._mdns_type.rstrip("."))]
            elif rule._companies or rule._data:
                anchors = [("company", c) for c in rule._companies or {c for c, _ in rule._data}]
            elif rule._services or rule._sdata:
                anchors = [("service", u) for u in rule._services or {u for u, _ in rule._sdata}]
            elif rule._bthome is not None:
                anchors = [("service", BTHOME_UUID)]
            elif rule._any_data is not None:
                anchors = [("any company", True)]
            elif rule._name is not None:
                anchors = [("named", True)]
            else:
                self._generic.append(i)
                continue
            for anchor in anchors:
                self._by_anchor.setdefault(anchor, []).append(i)

    def _candidates(self, facts: _Facts) -> list[Rule]:
        picked = list(self._generic)
        index = self._by_anchor
        for t in facts.types:
            picked += index.get(("type", t), ())
        for c in facts.companies:
            picked += index.get(("company", c), ())
        for u in facts.services:
            picked += index.get(("service", u), ())
        if facts.companies:
            picked += index.get(("any company", True), ())
        if facts.name:
            picked += index.get(("named", True), ())
        rules = self._rules
        return [rules[i] for i in sorted(set(picked))]

    @classmethod
    def from_file(cls, path: str | Path) -> RuleSet:
        """Load a table from a ``.json`` or ``.toml`` file (``{"rules": [...]}``, TOML ``[[rules]]``).

        Raises:
            InvalidInputError: unreadable file or invalid rules.
        """
        path = Path(path)
        try:
            if path.suffix == ".toml":
                import importlib

                try:
                    toml = importlib.import_module("tomllib")  # Python >= 3.11
                except ImportError:
                    toml = importlib.import_module("tomli")
                data = toml.loads(path.read_text("utf-8"))
            else:
                data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, ImportError) as exc:
            raise InvalidInputError(f"cannot read rule table {path}: {exc}") from exc
        return cls.from_table(data)

    @classmethod
    def from_table(cls, data: Mapping[str, Any]) -> RuleSet:
        """Build from the table form ``{"rules": [{"id": ..., "when": ..., "then": ...}, ...]}``."""
        rules = data.get("rules") if isinstance(data, Mapping) else None
        if not isinstance(rules, list):
            raise InvalidInputError("a rule table needs a 'rules' list")
        return cls(rules)

    @classmethod
    def shipped(cls) -> RuleSet:
        """A fresh copy of the rule table shipped with edgekit."""
        text = resources.files("edgekit.scan").joinpath("_data").joinpath("recognition_rules.json")
        return cls.from_table(json.loads(text.read_text("utf-8")))

    def add(self, rule: Rule | Mapping[str, Any], *, first: bool = True) -> None:
        """Add a rule, before the others (``first=True``, it then wins) or after them.

        Raises:
            InvalidInputError: this is the process-wide :func:`default_rules`.
        """
        if self._frozen:
            raise InvalidInputError(
                "default_rules() is shared by the whole process and cannot be changed; add to "
                "a copy (rules = RuleSet.shipped()) and pass it as Inventory(rules=...), "
                "scan(rules=...) or recognize(device, rules)"
            )
        built = rule if isinstance(rule, Rule) else Rule.from_dict(rule)
        if first:
            self._rules.insert(0, built)
        else:
            self._rules.append(built)
        self._reindex()

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Any:
        return iter(list(self._rules))

    def apply(self, facts: _Facts) -> Recognition:
        """Run the rules over ``facts`` (first match per field wins)."""
        found: dict[str, str] = {}
        used: list[str] = []
        for rule in self._candidates(facts):
            if len(found) == len(FIELDS):
                break
            if not rule.matches(facts):
                continue
            fields = {k: v for k, v in rule.render(facts).items() if k not in found}
            if fields:
                found.update(fields)
                used.append(rule.id)
        return Recognition(found.get("vendor"), found.get("kind"), found.get("model"), tuple(used))


@functools.lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The process-wide, unchangeable rule table used by default (the shipped one).

    To add rules, add them to a copy (:meth:`RuleSet.shipped`) and pass that on.
    """
    rules = RuleSet.shipped()
    rules._frozen = True
    return rules


def _usable_oui(mac: str) -> str | None:
    try:
        info = lookup_vendor(mac)
    except InvalidInputError:
        return None
    if info.vendor is None or info.prefix == "000000":  # all-zero: a placeholder address
        return None
    return info.vendor


def _bthome_names(service_data: Mapping[str, bytes]) -> str | None:
    """Sorted, space-joined measurement names of unencrypted BTHome v2 data, else ``None``."""
    if BTHOME_UUID not in service_data:
        return None
    adv = Advertisement(None, [], {BTHOME_UUID: service_data[BTHOME_UUID]}, {}, None)
    try:
        packet = decode_bthome(adv)
    except CorruptDataError:
        return None
    if packet is None or packet.encrypted:
        return None
    return " ".join(sorted({m.name for m in packet.measurements}))


def _facts(
    device: Recognizable,
    company_data: Mapping[int, bytes] | None,
    service_data: Mapping[str, bytes] | None,
) -> _Facts:
    txt = {k: v for k, v in device.txt.items() if isinstance(v, str)}
    oui = next((v for mac in sorted(device.addresses) if (v := _usable_oui(mac))), None)
    sdata = {_full_uuid(k): v for k, v in (service_data or {}).items()}
    return _Facts(
        protocols=device.protocols,
        types={_full_type(t) for t in device.services},
        txt=txt,
        companies=frozenset(device.company_ids),
        company_data=dict(company_data or {}),
        services=frozenset(device.service_uuids),
        name=device.name,
        oui=oui,
        service_data=sdata,
        addresses=tuple(
            sorted(a.replace(":", "").replace("-", "").lower() for a in device.addresses)
        ),
        bthome=_bthome_names(sdata),
    )


_WORD = re.compile(r"[a-z0-9]{4,}")


def _backed_company(facts: _Facts) -> str | None:
    """The SIG name of an advertised company id that the name or a member service UUID backs."""
    words = set(_WORD.findall((facts.name or "").lower()))
    for company in sorted(facts.companies):
        name = company_name(company)
        if name is None or CHIP_MAKERS.search(name):
            continue
        if words & set(_WORD.findall(name.lower())):
            return name
        if any(service_name(u) == name for u in facts.services):
            return name
    return None


def recognize(
    device: Recognizable,
    rules: RuleSet | None = None,
    *,
    manufacturer_data: Mapping[int, bytes] | None = None,
    service_data: Mapping[str, bytes] | None = None,
) -> Recognition:
    """Vendor, kind and model of ``device`` from ``rules`` (default: :func:`default_rules`).

    Args:
        device: an inventory :class:`~edgekit.scan.inventory.Device`, or anything
            with the fields of :class:`Recognizable`.
        rules: the rule table to use.
        manufacturer_data: latest BLE manufacturer data by company id, for
            ``ble_data_prefix`` and ``ble_data`` conditions (default: the device's).
        service_data: latest BLE service data by UUID (16-bit hex or full), for
            ``ble_service_data`` conditions (default: the device's).
    """
    if service_data is None:
        service_data = device.service_data
    facts = _facts(device, manufacturer_data or device.manufacturer_data, service_data)
    result = (rules if rules is not None else default_rules()).apply(facts)
    vendor = result.vendor
    if (
        vendor is None
        and facts.oui
        and facts.protocols - {"ble"}
        and not CHIP_MAKERS.search(facts.oui)
    ):
        vendor = facts.oui
    if vendor is None and facts.companies:
        vendor = _backed_company(facts)
    return Recognition(vendor, result.kind, result.model, result.rules)
