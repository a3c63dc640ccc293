"""Decoders of beacon and sensor formats carried in advertisements.

- iBeacon (Apple): manufacturer data of company 0x004C starting ``02 15``.
- Eddystone (Google): service data of UUID 0xFEAA, frames UID (0x00), URL (0x10),
  TLM (0x20, plain and encrypted) and EID (0x30).
- BTHome v2: service data of UUID 0xFCD2, sensor objects with units; encrypted
  payloads are flagged and left undecoded (decryption needs the device's key).

Each decoder takes an :class:`~edgekit.scan.advertisement.Advertisement` and
returns ``None`` when the format is absent; bytes that claim the format but do
not decode raise :class:`~edgekit.errors.CorruptDataError`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

from edgekit.errors import CorruptDataError
from edgekit.scan.advertisement import Advertisement, uuid16_to_str

__all__ = [
    "BTHOME_OBJECTS",
    "BTHomeMeasurement",
    "BTHomePacket",
    "EddystoneTLM",
    "EddystoneUID",
    "EddystoneURL",
    "IBeacon",
    "decode_bthome",
    "decode_eddystone",
    "decode_ibeacon",
]

APPLE = 0x004C
EDDYSTONE_UUID = uuid16_to_str(0xFEAA)
BTHOME_UUID = uuid16_to_str(0xFCD2)


@dataclass(frozen=True)
class IBeacon:
    """An iBeacon frame: proximity UUID, major, minor and measured power (dBm at 1 m)."""

    uuid: str
    major: int
    minor: int
    measured_power: int


def decode_ibeacon(adv: Advertisement) -> IBeacon | None:
    """The iBeacon frame of ``adv``, or ``None`` if it carries none."""
    data = adv.manufacturer_data.get(APPLE)
    if data is None or len(data) < 2 or data[0] != 0x02 or data[1] != 0x15:
        return None
    if len(data) != 23:
        raise CorruptDataError(f"iBeacon frame has {len(data)} bytes, expected 23")
    power = data[22]
    return IBeacon(
        uuid=str(uuid.UUID(bytes=bytes(data[2:18]))),
        major=int.from_bytes(data[18:20], "big"),
        minor=int.from_bytes(data[20:22], "big"),
        measured_power=power - 256 if power >= 128 else power,
    )


@dataclass(frozen=True)
class EddystoneUID:
    """Eddystone-UID: TX power at 0 m (dBm), 10-byte namespace and 6-byte instance (hex)."""

    tx_power: int
    namespace: str
    instance: str


@dataclass(frozen=True)
class EddystoneURL:
    """Eddystone-URL: TX power at 0 m (dBm) and the expanded URL."""

    tx_power: int
    url: str


@dataclass(frozen=True)
class EddystoneTLM:
    """Eddystone-TLM telemetry.

    Attributes:
        version: 0 (plain) or 1 (encrypted, ``encrypted`` is True and the rest ``None``).
        battery_mv: battery voltage in mV (``None`` when 0, "not supported").
        temperature_c: beacon temperature in °C (``None`` when 0x8000, "not supported").
        adv_count: advertising PDUs sent since power-up.
        uptime_s: seconds since power-up (0.1 s resolution).
    """

    version: int
    encrypted: bool
    battery_mv: int | None = None
    temperature_c: float | None = None
    adv_count: int | None = None
    uptime_s: float | None = None


_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_CODES = (
    ".com/",
    ".org/",
    ".edu/",
    ".net/",
    ".info/",
    ".biz/",
    ".gov/",
    ".com",
    ".org",
    ".edu",
    ".net",
    ".info",
    ".biz",
    ".gov",
)


def _int8(value: int) -> int:
    return value - 256 if value >= 128 else value


def decode_eddystone(
    adv: Advertisement,
) -> EddystoneUID | EddystoneURL | EddystoneTLM | None:
    """The Eddystone frame of ``adv`` (UID, URL or TLM), or ``None``.

    EID frames (0x30) and unknown frame types give ``None``.
    """
    data = adv.service_data.get(EDDYSTONE_UUID)
    if not data:
        return None
    frame = data[0]
    if frame == 0x00:
        if len(data) not in (18, 20):
            raise CorruptDataError(f"Eddystone-UID frame has {len(data)} bytes, expected 18 or 20")
        return EddystoneUID(_int8(data[1]), data[2:12].hex(), data[12:18].hex())
    if frame == 0x10:
        if len(data) < 3:
            raise CorruptDataError("Eddystone-URL frame is shorter than 3 bytes")
        if data[2] >= len(_URL_SCHEMES):
            raise CorruptDataError(f"Eddystone-URL scheme code 0x{data[2]:02x} is not defined")
        parts = [_URL_SCHEMES[data[2]]]
        for byte in data[3:]:
            if byte < len(_URL_CODES):
                parts.append(_URL_CODES[byte])
            elif 0x21 <= byte <= 0x7E:
                parts.append(chr(byte))
            else:
                raise CorruptDataError(f"Eddystone-URL byte 0x{byte:02x} is not printable")
        return EddystoneURL(_int8(data[1]), "".join(parts))
    if frame == 0x20:
        if len(data) < 2:
            raise CorruptDataError("Eddystone-TLM frame has no version byte")
        version = data[1]
        if version == 0x01:
            return EddystoneTLM(version=1, encrypted=True)
        if version != 0x00 or len(data) != 14:
            raise CorruptDataError(
                f"Eddystone-TLM version {version} with {len(data)} bytes is not defined"
            )
        battery = int.from_bytes(data[2:4], "big")
        temp_raw = int.from_bytes(data[4:6], "big", signed=True)
        return EddystoneTLM(
            version=0,
            encrypted=False,
            battery_mv=battery or None,
            temperature_c=None if temp_raw == -0x8000 else temp_raw / 256.0,
            adv_count=int.from_bytes(data[6:10], "big"),
            uptime_s=int.from_bytes(data[10:14], "big") / 10.0,
        )
    return None


class _Obj(NamedTuple):
    name: str
    size: int  # bytes; 0 = length-prefixed
    signed: bool
    factor: float
    unit: str | None


def _o(
    name: str, size: int, factor: float = 1.0, unit: str | None = None, *, signed: bool = False
) -> _Obj:
    return _Obj(name, size, signed, factor, unit)


_BINARY = [
    "generic_boolean",
    "power",
    "opening",
    "battery_low",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "plug",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "vibration",
    "window",
]

#: BTHome v2 object ids: name, size in bytes, signedness, factor and unit (bthome.io/format).
BTHOME_OBJECTS: dict[int, _Obj] = {
    0x00: _o("packet_id", 1),
    0x01: _o("battery", 1, 1, "%"),
    0x02: _o("temperature", 2, 0.01, "°C", signed=True),
    0x03: _o("humidity", 2, 0.01, "%"),
    0x04: _o("pressure", 3, 0.01, "hPa"),
    0x05: _o("illuminance", 3, 0.01, "lx"),
    0x06: _o("mass", 2, 0.01, "kg"),
    0x07: _o("mass", 2, 0.01, "lb"),
    0x08: _o("dewpoint", 2, 0.01, "°C", signed=True),
    0x09: _o("count", 1),
    0x0A: _o("energy", 3, 0.001, "kWh"),
    0x0B: _o("power", 3, 0.01, "W"),
    0x0C: _o("voltage", 2, 0.001, "V"),
    0x0D: _o("pm2_5", 2, 1, "µg/m³"),
    0x0E: _o("pm10", 2, 1, "µg/m³"),
    **{0x0F + i: _o(name, 1) for i, name in enumerate(_BINARY[:3])},
    0x12: _o("co2", 2, 1, "ppm"),
    0x13: _o("tvoc", 2, 1, "µg/m³"),
    0x14: _o("moisture", 2, 0.01, "%"),
    **{0x15 + i: _o(name, 1) for i, name in enumerate(_BINARY[3:])},
    0x2E: _o("humidity", 1, 1, "%"),
    0x2F: _o("moisture", 1, 1, "%"),
    0x3A: _o("button", 1),
    0x3C: _o("dimmer", 2),
    0x3D: _o("count", 2),
    0x3E: _o("count", 4),
    0x3F: _o("rotation", 2, 0.1, "°", signed=True),
    0x40: _o("distance", 2, 1, "mm"),
    0x41: _o("distance", 2, 0.1, "m"),
    0x42: _o("duration", 3, 0.001, "s"),
    0x43: _o("current", 2, 0.001, "A"),
    0x44: _o("speed", 2, 0.01, "m/s"),
    0x45: _o("temperature", 2, 0.1, "°C", signed=True),
    0x46: _o("uv_index", 1, 0.1),
    0x47: _o("volume", 2, 0.1, "L"),
    0x48: _o("volume", 2, 1, "mL"),
    0x49: _o("volume_flow_rate", 2, 0.001, "m³/h"),
    0x4A: _o("voltage", 2, 0.1, "V"),
    0x4B: _o("gas", 3, 0.001, "m³"),
    0x4C: _o("gas", 4, 0.001, "m³"),
    0x4D: _o("energy", 4, 0.001, "kWh"),
    0x4E: _o("volume", 4, 0.001, "L"),
    0x4F: _o("water", 4, 0.001, "L"),
    0x50: _o("timestamp", 4, 1, "s"),
    0x51: _o("acceleration", 2, 0.001, "m/s²"),
    0x52: _o("gyroscope", 2, 0.001, "°/s"),
    0x53: _o("text", 0),
    0x54: _o("raw", 0),
    0x55: _o("volume_storage", 4, 0.001, "L"),
    0x56: _o("conductivity", 2, 1, "µS/cm"),
    0x57: _o("temperature", 1, 1, "°C", signed=True),
    0x58: _o("temperature", 1, 0.35, "°C", signed=True),
    0x59: _o("count", 1, signed=True),
    0x5A: _o("count", 2, signed=True),
    0x5B: _o("count", 4, signed=True),
    0x5C: _o("power", 4, 0.01, "W", signed=True),
    0x5D: _o("current", 2, 0.001, "A", signed=True),
    0x5E: _o("direction", 2, 0.01, "°"),
    0x5F: _o("precipitation", 2, 0.1, "mm"),
    0x60: _o("channel", 1),
    0x61: _o("rotational_speed", 2, 1, "rpm"),
    0x62: _o("speed", 4, 0.000001, "m/s", signed=True),
    0x63: _o("acceleration", 4, 0.000001, "m/s²", signed=True),
    0x64: _o("light_level", 1),
    0xF0: _o("device_type_id", 2),
    0xF1: _o("firmware_version", 4),
    0xF2: _o("firmware_version", 3),
}


@dataclass(frozen=True)
class BTHomeMeasurement:
    """One BTHome object: its id, name, value (scaled to ``unit``) and unit (``None`` if unitless)."""

    object_id: int
    name: str
    value: float | int | str | bytes
    unit: str | None


@dataclass(frozen=True)
class BTHomePacket:
    """A BTHome v2 service-data payload.

    Attributes:
        version: BTHome version from the device-information byte (2).
        encrypted: payload is AES-CCM encrypted; ``measurements`` is then empty.
        trigger_based: device sends only on events (irregular interval).
        mac: the MAC address the device included (bit 1), else ``None``.
        measurements: decoded objects in payload order.
    """

    version: int
    encrypted: bool
    trigger_based: bool
    mac: str | None = None
    measurements: list[BTHomeMeasurement] = field(default_factory=list)

    def values(self) -> dict[str, float | int | str | bytes]:
        """Measurement values by name (a repeated name gets ``_2``, ``_3`` ... suffixes)."""
        out: dict[str, float | int | str | bytes] = {}
        for m in self.measurements:
            key, k = m.name, 2
            while key in out:
                key, k = f"{m.name}_{k}", k + 1
            out[key] = m.value
        return out


def _scale(raw: int, factor: float) -> float | int:
    if factor == 1:
        return raw
    digits = max(0, -int(f"{factor:e}".split("e")[1]))
    return round(raw * factor, digits)


def decode_bthome(adv: Advertisement) -> BTHomePacket | None:
    """The BTHome v2 packet of ``adv``, or ``None`` if it carries none.

    Raises:
        CorruptDataError: the payload is not BTHome v2, has an unknown object id,
            or is truncated.
    """
    data = adv.service_data.get(BTHOME_UUID)
    if data is None:
        return None
    if not data:
        raise CorruptDataError("BTHome service data is empty")
    info = data[0]
    version = (info >> 5) & 0x7
    if version != 2:
        raise CorruptDataError(f"BTHome version {version} is not supported (expected 2)")
    encrypted = bool(info & 0x01)
    mac = None
    pos = 1
    if info & 0x02:
        if len(data) < 7:
            raise CorruptDataError("BTHome payload announces a MAC address but is too short")
        mac = ":".join(f"{b:02X}" for b in data[6:0:-1])
        pos = 7
    packet = BTHomePacket(version, encrypted, bool(info & 0x04), mac)
    if encrypted:
        return packet
    while pos < len(data):
        oid = data[pos]
        spec = BTHOME_OBJECTS.get(oid)
        if spec is None:
            raise CorruptDataError(f"BTHome object id 0x{oid:02x} is not defined")
        pos += 1
        size = spec.size
        if size == 0:
            if pos >= len(data):
                raise CorruptDataError(f"BTHome object 0x{oid:02x} has no length byte")
            size = data[pos]
            pos += 1
        chunk = data[pos : pos + size]
        if len(chunk) != size:
            raise CorruptDataError(f"BTHome object 0x{oid:02x} is truncated")
        pos += size
        value: float | int | str | bytes
        if oid == 0x53:
            value = chunk.decode("utf-8", "replace")
        elif oid == 0x54:
            value = bytes(chunk)
        else:
            value = _scale(int.from_bytes(chunk, "little", signed=spec.signed), spec.factor)
        packet.measurements.append(BTHomeMeasurement(oid, spec.name, value, spec.unit))
    return packet
