"""Recognise vendor, device type and model from a rule table that is data, not code.

A rule has an ``id``, a ``when`` (every condition must hold) and a ``then``
(fields to set, with ``{...}`` templates). Rules are tried in order; for each of
``vendor``, ``kind`` and ``model`` the first matching rule that yields a value
wins. The shipped table is ``edgekit/scan/_data/recognition_rules.json``; a host
adds its own with :meth:`RuleSet.add` (placed before the shipped rules, so
they win) or loads a whole table with :meth:`RuleSet.from_file` (JSON or TOML).

Conditions (``when``):

- ``protocol``: ``"ble"``, ``"mdns"`` or ``"wifi"``.
- ``mdns_type``: a DNS-SD service type (``"_googlecast._tcp"``).
- ``txt``: ``{key: regex}``; the key must be in a TXT record and its value match.
- ``ble_company``: a company id (int) or a list of them.
- ``ble_data_prefix``: hex that the manufacturer data of ``ble_company`` starts with.
- ``ble_service``: a 16-bit UUID in hex (``"fe95"``), a full UUID, or a list.
- ``name``: a regex searched in the device name.
- ``oui_vendor``: a regex searched in the IEEE vendor of the device's MACs.

Templates (``then``): ``{txt.KEY}``, ``{name}``, ``{company}`` (Bluetooth SIG
name of the first company id) and ``{oui_vendor}``; a field whose template
refers to a missing value is not set by that rule.

When no rule names a vendor, the IEEE registry (for MACs that are not locally
administered) and then the Bluetooth SIG company name are used.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import InvalidInputError
from edgekit.scan.advertisement import uuid16_to_str
from edgekit.scan.names import company_name, lookup_vendor

if TYPE_CHECKING:
    from edgekit.scan.inventory import Device

__all__ = ["FIELDS", "Recognition", "Rule", "RuleSet", "default_rules", "recognize"]

#: The fields a rule may set.
FIELDS = ("vendor", "kind", "model")
_CONDITIONS = {
    "protocol",
    "mdns_type",
    "txt",
    "ble_company",
    "ble_data_prefix",
    "ble_service",
    "name",
    "oui_vendor",
}
_TEMPLATE = re.compile(r"\{([a-zA-Z_][\w.-]*)\}")


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
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"a rule needs 'id', 'when' and 'then': {data!r}") from exc
        unknown = set(when) - _CONDITIONS
        if unknown:
            raise InvalidInputError(f"rule {rule_id}: unknown conditions {sorted(unknown)}")
        if set(then) - set(FIELDS):
            raise InvalidInputError(f"rule {rule_id}: 'then' may set only {FIELDS}")
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
        except (re.error, ValueError, TypeError) as exc:
            raise InvalidInputError(f"rule {rule_id}: {exc}") from exc
        mdns_type = _full_type(str(when["mdns_type"])) if "mdns_type" in when else None
        return cls(rule_id, when, then, txt, name, oui, companies, services, prefix, mdns_type)

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
        if self._services and not self._services & facts.services:
            return False
        if self._name is not None and not (facts.name and self._name.search(facts.name)):
            return False
        return not (self._oui is not None and not (facts.oui and self._oui.search(facts.oui)))

    def render(self, facts: _Facts) -> dict[str, str]:
        """The fields this rule sets for ``facts`` (templates filled; unfillable ones left out)."""
        out = {}
        for key, template in self.then.items():
            missing = False

            def fill(m: re.Match[str]) -> str:
                nonlocal missing
                value = facts.lookup(m.group(1))
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
    protocols: set[str]
    types: set[str]
    txt: dict[str, str]
    companies: frozenset[int]
    company_data: dict[int, bytes]
    services: frozenset[str]
    name: str | None
    oui: str | None

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
            elif rule._companies:
                anchors = [("company", c) for c in rule._companies]
            elif rule._services:
                anchors = [("service", u) for u in rule._services]
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
        """Add a rule, before the others (``first=True``, it then wins) or after them."""
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
    """The process-wide rule table :func:`recognize` uses by default (the shipped one; hosts may ``add``)."""
    return RuleSet.shipped()


def _facts(device: Device, company_data: Mapping[int, bytes] | None) -> _Facts:
    txt = {k: v for k, v in device.txt.items() if isinstance(v, str)}
    oui = None
    for mac in sorted(device.addresses):
        try:
            info = lookup_vendor(mac)
        except InvalidInputError:
            continue
        if info.vendor:
            oui = info.vendor
            break
    return _Facts(
        protocols=device.protocols,
        types={_full_type(t) for t in device.services},
        txt=txt,
        companies=frozenset(device.company_ids),
        company_data=dict(company_data or {}),
        services=frozenset(device.service_uuids),
        name=device.name,
        oui=oui,
    )


def recognize(
    device: Device,
    rules: RuleSet | None = None,
    *,
    manufacturer_data: Mapping[int, bytes] | None = None,
) -> Recognition:
    """Vendor, kind and model of ``device`` from ``rules`` (default: :func:`default_rules`).

    Args:
        device: an inventory :class:`~edgekit.scan.inventory.Device`.
        rules: the rule table to use.
        manufacturer_data: latest BLE manufacturer data by company id, for
            ``ble_data_prefix`` conditions (the inventory passes it).
    """
    facts = _facts(device, manufacturer_data or device.manufacturer_data)
    result = (rules if rules is not None else default_rules()).apply(facts)
    vendor = result.vendor or facts.oui
    if vendor is None and facts.companies:
        vendor = facts.lookup("company")
    return Recognition(vendor, result.kind, result.model, result.rules)
