"""WiFi access points from the platform's own tools.

:class:`WifiScanner` runs one of

- ``nmcli -t -f ... device wifi list`` (NetworkManager; no root needed),
- ``iw dev IFACE scan`` (nl80211; needs root or CAP_NET_ADMIN),
- ``system_profiler SPAirPortDataType -json`` (macOS),
- ``netsh wlan show networks mode=bssid`` (Windows),

and parses its output into :class:`AccessPoint` records. The parsers are public
(:func:`parse_nmcli`, :func:`parse_iw_scan`, :func:`parse_system_profiler`,
:func:`parse_netsh`) so captured output can be parsed anywhere. The
``"memory"`` backend returns access points given to it (notebooks, tests).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from edgekit.errors import (
    BackendUnavailableError,
    CorruptDataError,
    EdgekitError,
    InvalidInputError,
    ScanError,
)

__all__ = [
    "NMCLI_FIELDS",
    "AccessPoint",
    "WifiScanner",
    "channel_to_frequency",
    "frequency_to_channel",
    "parse_iw_scan",
    "parse_netsh",
    "parse_nmcli",
    "parse_system_profiler",
]


@dataclass(frozen=True)
class AccessPoint:
    """One access point (BSS) heard.

    Attributes:
        bssid: the AP's MAC address, upper case (``None`` where the tool hides it,
            as macOS does).
        ssid: network name; ``""`` for a hidden network.
        frequency_mhz: centre frequency in MHz.
        channel: channel number within the band.
        band: ``"2.4"``, ``"5"`` or ``"6"`` (GHz).
        rssi_dbm: signal in dBm (estimated from a percentage where the tool
            reports only that: nmcli and netsh).
        security: ``"open"``, ``"OWE"``, ``"WEP"``, ``"WPA"``, ``"WPA2"``,
            ``"WPA3"``, ``"WPA2/WPA3"`` (transition mode), ``"WPA/WPA2"``, with
            ``"-Enterprise"`` appended for 802.1X networks.
        source: the tool the record came from.
    """

    bssid: str | None
    ssid: str
    frequency_mhz: int | None
    channel: int | None
    band: str | None
    rssi_dbm: float | None
    security: str
    source: str = ""


def channel_to_frequency(channel: int, band: str) -> int:
    """Centre frequency in MHz of a channel in band ``"2.4"``, ``"5"`` or ``"6"`` (GHz)."""
    if band == "2.4":
        return 2484 if channel == 14 else 2407 + 5 * channel
    if band == "5":
        return 5000 + 5 * channel
    if band == "6":
        return 5935 if channel == 2 else 5950 + 5 * channel
    raise InvalidInputError(f"band must be '2.4', '5' or '6', not {band!r}")


def frequency_to_channel(frequency_mhz: float) -> tuple[int, str] | None:
    """(channel, band) of a centre frequency in MHz, or ``None`` outside the WiFi bands."""
    f = round(frequency_mhz)
    if f == 2484:
        return 14, "2.4"
    if 2412 <= f <= 2472:
        return (f - 2407) // 5, "2.4"
    if f == 5935:
        return 2, "6"
    if 5955 <= f <= 7115:
        return (f - 5950) // 5, "6"
    if 4910 <= f <= 5925:
        return (f - 5000) // 5, "5"
    return None


def _band_fields(freq: float | None) -> tuple[int | None, int | None, str | None]:
    if freq is None:
        return None, None, None
    cb = frequency_to_channel(freq)
    return round(freq), (cb[0] if cb else None), (cb[1] if cb else None)


def _security(wpa1: bool, wpa2: bool, wpa3: bool, owe: bool, wep: bool, enterprise: bool) -> str:
    if owe and not (wpa2 or wpa3):
        return "OWE"
    if wpa2 and wpa3:
        name = "WPA2/WPA3"
    elif wpa3:
        name = "WPA3"
    elif wpa1 and wpa2:
        name = "WPA/WPA2"
    elif wpa2:
        name = "WPA2"
    elif wpa1:
        name = "WPA"
    elif wep:
        return "WEP"
    else:
        return "open"
    return name + "-Enterprise" if enterprise else name


F = TypeVar("F", bound=Callable[..., list["AccessPoint"]])


def _corrupt_on_error(parse: F) -> F:
    """Turn a parser's stray ValueError/IndexError/... on garbled output into CorruptDataError."""

    @functools.wraps(parse)
    def wrapper(*args: Any, **kwargs: Any) -> list[AccessPoint]:
        try:
            return parse(*args, **kwargs)
        except EdgekitError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptDataError(f"{parse.__name__}: output does not parse: {exc}") from exc

    return wrapper  # type: ignore[return-value]


# -- nmcli ------------------------------------------------------------------------

#: The fields WifiScanner asks nmcli for, in this order.
NMCLI_FIELDS = ("BSSID", "SSID", "CHAN", "FREQ", "SIGNAL", "SECURITY")


def _split_terse(line: str) -> list[str]:
    fields, cur, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            i += 2
            continue
        if ch == ":":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    fields.append("".join(cur))
    return fields


def _nmcli_security(text: str) -> str:
    words = set(text.replace("--", "").split())
    return _security(
        wpa1="WPA1" in words,
        wpa2="WPA2" in words,
        wpa3="WPA3" in words,
        owe="OWE" in words or "OWE-TM" in words,
        wep="WEP" in words,
        enterprise="802.1X" in words,
    )


@_corrupt_on_error
def parse_nmcli(text: str, fields: Sequence[str] = NMCLI_FIELDS) -> list[AccessPoint]:
    """Parse ``nmcli -t -f <fields> device wifi list`` output (terse, ``:``-separated, ``\\``-escaped).

    ``SIGNAL`` is NetworkManager's 0-100 quality; it is mapped back to dBm with
    the inverse of NetworkManager's own mapping (-90..-20 dBm to 30..100 %):
    ``dBm = percent - 120``.
    """
    names = [f.upper() for f in fields]
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = _split_terse(line)
        if len(values) != len(names):
            raise CorruptDataError(
                f"nmcli line has {len(values)} fields, expected {len(names)}: {line!r}"
            )
        row = dict(zip(names, values, strict=True))
        freq_text = row.get("FREQ", "").split()
        freq = float(freq_text[0]) if freq_text else None
        frequency, channel, band = _band_fields(freq)
        if channel is None and row.get("CHAN", "").isdigit():
            channel = int(row["CHAN"])
        signal = row.get("SIGNAL", "")
        out.append(
            AccessPoint(
                bssid=row.get("BSSID", "").upper() or None,
                ssid=row.get("SSID", ""),
                frequency_mhz=frequency,
                channel=channel,
                band=band,
                rssi_dbm=float(int(signal) - 120) if signal.isdigit() else None,
                security=_nmcli_security(row.get("SECURITY", "")),
                source="nmcli",
            )
        )
    return out


# -- iw ---------------------------------------------------------------------------

_BSS_RE = re.compile(r"^BSS ([0-9a-fA-F:]{17})")


def _unescape_iw_ssid(text: str) -> str:
    raw = bytearray()
    i = 0
    data = text.encode("utf-8", "surrogateescape")
    while i < len(data):
        if data[i : i + 2] == b"\\x" and i + 4 <= len(data):
            try:
                raw.append(int(data[i + 2 : i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        raw.append(data[i])
        i += 1
    if raw and not any(raw):  # a zero-filled hidden SSID
        return ""
    return bytes(raw).decode("utf-8", "replace")


@_corrupt_on_error
def parse_iw_scan(text: str) -> list[AccessPoint]:
    """Parse ``iw dev IFACE scan`` output (SSID bytes arrive ``\\xNN``-escaped)."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _BSS_RE.match(line):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    out = []
    for block in blocks:
        m = _BSS_RE.match(block[0])
        assert m is not None
        bssid = m.group(1).upper()
        freq: float | None = None
        signal: float | None = None
        ssid = ""
        privacy = False
        rsn_auth: list[str] = []
        has_rsn = has_wpa = False
        wpa_auth: list[str] = []
        section = ""
        for line in block[1:]:
            stripped = line.strip()
            indent = len(line) - len(line.lstrip("\t"))
            if indent == 1:
                section = ""
                key, _, value = stripped.partition(":")
                value = value.strip()
                if key == "freq":
                    freq = float(value)
                elif key == "signal":
                    signal = float(value.split()[0])
                elif key == "SSID":
                    ssid = _unescape_iw_ssid(
                        line.split("SSID:", 1)[1][1:] if "SSID: " in line else ""
                    )
                elif key == "capability":
                    privacy = "Privacy" in value.split()
                elif key == "RSN":
                    has_rsn, section = True, "RSN"
                    if "Authentication suites:" in value:
                        rsn_auth += value.split("Authentication suites:")[1].split()
                elif key == "WPA":
                    has_wpa, section = True, "WPA"
                    if "Authentication suites:" in value:
                        wpa_auth += value.split("Authentication suites:")[1].split()
            elif section and "Authentication suites:" in stripped:
                suites = stripped.split("Authentication suites:")[1].split()
                (rsn_auth if section == "RSN" else wpa_auth).extend(suites)
        auth = set(rsn_auth)
        suite_b = any("SUITE-B" in a for a in auth)
        eap = any("802.1X" in a for a in auth) or suite_b
        sae = any(a.endswith("SAE") or a.startswith("SAE") for a in auth)
        psk = any(a.startswith(("PSK", "FT/PSK")) for a in auth)
        owe = "OWE" in auth
        wpa2 = has_rsn and (psk or (eap and not suite_b) or not auth)
        wpa3 = has_rsn and (sae or suite_b)
        frequency, channel, band = _band_fields(freq)
        out.append(
            AccessPoint(
                bssid=bssid,
                ssid=ssid,
                frequency_mhz=frequency,
                channel=channel,
                band=band,
                rssi_dbm=signal,
                security=_security(
                    wpa1=has_wpa,
                    wpa2=wpa2,
                    wpa3=wpa3,
                    owe=owe,
                    wep=privacy and not has_rsn and not has_wpa,
                    enterprise=eap,
                ),
                source="iw",
            )
        )
    return out


# -- macOS system_profiler --------------------------------------------------------

_CHANNEL_RE = re.compile(r"(\d+)\s*\((\d(?:\.\d)?)\s*GHz")


def _macos_security(mode: str) -> str:
    m = mode.lower().replace("spairport_security_mode_", "")
    return _security(
        wpa1=bool(re.search(r"(^|_)wpa1?(_|$)", m)),
        wpa2="wpa2" in m,
        wpa3="wpa3" in m,
        owe="owe" in m,
        wep="wep" in m,
        enterprise="enterprise" in m,
    )


@_corrupt_on_error
def parse_system_profiler(text: str) -> list[AccessPoint]:
    """Parse ``system_profiler SPAirPortDataType -json`` (current and other local networks).

    macOS reports no BSSID (``bssid`` is ``None``) and signal as ``"-52 dBm / -92 dBm"``.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptDataError(f"system_profiler output is not JSON: {exc}") from exc
    out = []
    for entry in doc.get("SPAirPortDataType", []):
        for iface in entry.get("spairport_airport_interfaces", []):
            networks = []
            current = iface.get("spairport_current_network_information")
            if isinstance(current, dict):
                networks.append(current)
            networks += iface.get("spairport_airport_other_local_wireless_networks", []) or []
            for net in networks:
                channel: int | None = None
                band: str | None = None
                m = _CHANNEL_RE.search(str(net.get("spairport_network_channel", "")))
                if m:
                    channel = int(m.group(1))
                    band = {"2": "2.4", "2.4": "2.4", "5": "5", "6": "6"}.get(m.group(2))
                freq = channel_to_frequency(channel, band) if channel and band else None
                signal = str(net.get("spairport_signal_noise", "")).split()
                rssi = float(signal[0]) if signal and signal[0].lstrip("-").isdigit() else None
                out.append(
                    AccessPoint(
                        bssid=None,
                        ssid=str(net.get("_name", "")),
                        frequency_mhz=freq,
                        channel=channel,
                        band=band,
                        rssi_dbm=rssi,
                        security=_macos_security(str(net.get("spairport_security_mode", ""))),
                        source="system_profiler",
                    )
                )
    return out


# -- Windows netsh ----------------------------------------------------------------


def _netsh_security(auth: str) -> str:
    a = auth.upper()
    if a.startswith("OPEN"):
        return "open"
    if "OWE" in a or "OPPORTUNISTIC" in a:
        return "OWE"
    if a == "WPA2-PERSONAL" or a == "WPA2-PSK":
        return "WPA2"
    if a == "WPA3-PERSONAL" or a == "WPA3-SAE":
        return "WPA3"
    if "WPA2" in a and "WPA3" in a:
        return "WPA2/WPA3"
    enterprise = "ENTERPRISE" in a or a in ("WPA2", "WPA3", "WPA")
    return _security(
        wpa1=a.startswith("WPA-") or a == "WPA",
        wpa2="WPA2" in a,
        wpa3="WPA3" in a,
        owe=False,
        wep="WEP" in a or "SHARED" in a,
        enterprise=enterprise,
    )


_NETSH_SSID = re.compile(r"^SSID \d+ :(?: (.*))?$")
_NETSH_FIELD = re.compile(r"^\s+(\S.*?)\s*: (.*)$")


@_corrupt_on_error
def parse_netsh(text: str) -> list[AccessPoint]:
    """Parse ``netsh wlan show networks mode=bssid`` (English output).

    Signal is a percentage; Windows maps -100..-50 dBm to 0..100 %, so
    ``dBm = percent / 2 - 100``.
    """
    out = []
    ssid = ""
    auth = ""
    bss: dict[str, str] | None = None

    def flush() -> None:
        if bss is None:
            return
        band_text = bss.get("band", "").replace("GHz", "").strip() or None
        channel = int(bss["channel"]) if bss.get("channel", "").isdigit() else None
        band = band_text if band_text in ("2.4", "5", "6") else None
        if band is None and channel is not None:
            band = "2.4" if channel <= 14 else "5"
        freq = channel_to_frequency(channel, band) if channel is not None and band else None
        signal = bss.get("signal", "").rstrip("%")
        out.append(
            AccessPoint(
                bssid=bss["bssid"].upper(),
                ssid=ssid,
                frequency_mhz=freq,
                channel=channel,
                band=band,
                rssi_dbm=int(signal) / 2 - 100 if signal.isdigit() else None,
                security=_netsh_security(auth),
                source="netsh",
            )
        )

    for line in text.splitlines():
        line = line.rstrip("\r\n")
        m = _NETSH_SSID.match(line)
        if m:
            flush()
            bss = None
            ssid, auth = m.group(1) or "", ""
            continue
        m = _NETSH_FIELD.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "Authentication":
            auth = value
        elif key.startswith("BSSID "):
            flush()
            bss = {"bssid": value}
        elif bss is not None and key in ("Signal", "Channel", "Band"):
            bss[key.lower()] = value
    flush()
    return out


# -- the scanner --------------------------------------------------------------------

Runner = Callable[[Sequence[str], float], str]


def _run(command: Sequence[str], timeout: float) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise BackendUnavailableError(command[0], reason="not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ScanError(f"{command[0]} did not finish within {timeout} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise ScanError(f"{' '.join(command)} failed: {message}")
    return done.stdout.decode("utf-8", "surrogateescape")


BACKENDS = ("nmcli", "iw", "system_profiler", "netsh", "memory")


class WifiScanner:
    """Scan for access points with the platform's tool; see the module docstring.

    Args:
        backend: ``"auto"`` (the first that works: nmcli, then iw on Linux;
            system_profiler on macOS; netsh on Windows), one of ``"nmcli"``,
            ``"iw"``, ``"system_profiler"``, ``"netsh"``, or ``"memory"``.
        interface: the wireless interface for ``iw`` (default: the first one
            ``iw dev`` lists).
        access_points: what the ``"memory"`` backend returns.
        timeout: seconds a tool may run.
        rescan: ask nmcli for a fresh scan (``--rescan yes``) instead of its cache.

    While :meth:`pause`'d, :meth:`scan` runs no tool (no radio scan) and returns the
    access points of the last scan (none before the first); :meth:`resume` scans again.
    """

    def __init__(
        self,
        backend: str = "auto",
        *,
        interface: str | None = None,
        access_points: Sequence[AccessPoint] = (),
        timeout: float = 15.0,
        rescan: bool = False,
        runner: Runner | None = None,
    ) -> None:
        if backend not in ("auto", *BACKENDS):
            raise InvalidInputError(
                f"unknown WiFi backend {backend!r}; expected auto or one of {BACKENDS}"
            )
        self.backend = backend
        self.interface = interface
        self.access_points = list(access_points)
        self.timeout = timeout
        self.rescan = rescan
        self._run: Runner = runner or _run
        self._paused = False
        self._last: list[AccessPoint] = []

    @property
    def paused(self) -> bool:
        """Whether the scanner is paused (:meth:`pause`)."""
        return self._paused

    def pause(self) -> None:
        """Run no scan until :meth:`resume`; :meth:`scan` returns the last result (idempotent)."""
        self._paused = True

    def resume(self) -> None:
        """Scan again after :meth:`pause` (idempotent)."""
        self._paused = False

    def _candidates(self) -> list[str]:
        if self.backend != "auto":
            return [self.backend]
        if sys.platform == "darwin":
            return ["system_profiler"]
        if sys.platform.startswith("win"):
            return ["netsh"]
        return ["nmcli", "iw"]

    def _scan_with(self, backend: str) -> list[AccessPoint]:
        if backend == "memory":
            return list(self.access_points)
        if backend == "nmcli":
            if self._run is _run and shutil.which("nmcli") is None:
                raise BackendUnavailableError(
                    "nmcli", reason="NetworkManager's nmcli is not installed"
                )
            text = self._run(
                [
                    "nmcli",
                    "-t",
                    "-f",
                    ",".join(NMCLI_FIELDS),
                    "device",
                    "wifi",
                    "list",
                    "--rescan",
                    "yes" if self.rescan else "auto",
                ],
                self.timeout,
            )
            return parse_nmcli(text)
        if backend == "iw":
            if self._run is _run and shutil.which("iw") is None:
                raise BackendUnavailableError("iw", reason="iw is not installed")
            interface = self.interface or self._first_interface()
            return parse_iw_scan(self._run(["iw", "dev", interface, "scan"], self.timeout))
        if backend == "system_profiler":
            return parse_system_profiler(
                self._run(["system_profiler", "SPAirPortDataType", "-json"], self.timeout)
            )
        return parse_netsh(
            self._run(["netsh", "wlan", "show", "networks", "mode=bssid"], self.timeout)
        )

    def _first_interface(self) -> str:
        text = self._run(["iw", "dev"], self.timeout)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "Interface":
                return parts[1]
        raise BackendUnavailableError("WiFi interface", reason="iw dev lists no wireless interface")

    def scan(self) -> list[AccessPoint]:
        """Run one scan and return the access points heard (while paused: those of the
        last scan, without running the tool).

        Raises:
            BackendUnavailableError: no backend works here (each one's reason is given).
            ScanError: the chosen tool ran but failed.
        """
        if self._paused:
            return list(self._last)
        reasons = []
        candidates = self._candidates()
        for backend in candidates:
            try:
                self._last = self._scan_with(backend)
                return list(self._last)
            except (BackendUnavailableError, ScanError) as exc:
                if len(candidates) == 1:
                    raise
                reasons.append(f"{backend}: {exc}")
        raise BackendUnavailableError("WiFi scanning", reason="; ".join(reasons))

    async def async_scan(self) -> list[AccessPoint]:
        """:meth:`scan` in a worker thread, for use inside an event loop."""
        import asyncio

        return await asyncio.to_thread(self.scan)
