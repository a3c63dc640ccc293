"""BLE scanning on bleak, yielding parsed advertisements with smoothed RSSI.

:class:`BleScanner` wraps ``bleak.BleakScanner`` with a detection callback and
turns each report into a :class:`~edgekit.scan.inventory.BleSighting`: the
address, an :class:`~edgekit.scan.advertisement.Advertisement` built from
bleak's fields (the OS Bluetooth stacks do not hand raw AD bytes to bleak, so
``raw`` is empty), the RSSI, its exponential moving average per address, the
reception time and, on BlueZ, the address type (``"public"``/``"random"``).

Modes: ``"active"`` (scan requests, scan responses merged) or ``"passive"``
(BlueZ's advertisement monitor API; it needs BlueZ >= 5.56 with experimental
features, and a :class:`~edgekit.errors.ScanError` says so where it is missing).

Backends: ``"bleak"`` (the default; ``"auto"`` picks it) or ``"memory"``, which
replays given ``(address, payload bytes, rssi)`` records, for notebooks and tests.
bleak is imported when a scan starts (extra ``ble``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from edgekit._aio import run_sync
from edgekit.errors import BackendUnavailableError, InvalidInputError, ScanError
from edgekit.scan._aio import Fanout, run_on_loop
from edgekit.scan.advertisement import Advertisement, parse_advertisement
from edgekit.scan.inventory import BleSighting

__all__ = ["BleScanner", "scan_ble"]

MemoryRecord = tuple[str, bytes, float | None]


def _from_bleak(data: Any, props: dict[str, Any] | None) -> Advertisement:
    flags = None
    appearance = None
    if props:
        raw_flags = props.get("AdvertisingFlags")
        if raw_flags:
            flags = bytes(raw_flags)[0]
        appearance = props.get("Appearance") or None
    return Advertisement(
        data.local_name,
        list(data.service_uuids),
        {k: bytes(v) for k, v in data.service_data.items()},
        {int(k): bytes(v) for k, v in data.manufacturer_data.items()},
        data.tx_power,
        flags,
        appearance,
        (),
        b"",
    )


class _NeverRaised(Exception):
    pass


class BleScanner:
    """Scan for BLE advertisements; see the module docstring.

    Args:
        mode: ``"active"`` or ``"passive"``.
        backend: ``"auto"``/``"bleak"`` or ``"memory"``.
        adapter: the adapter to use (``"hci0"`` on Linux); default: the first.
        rssi_alpha: weight of a new sample in the RSSI moving average (0..1].
        on_sighting: called with every :class:`BleSighting` (in the event loop).
        records: what the ``"memory"`` backend replays: ``(address, payload, rssi)``.
        max_addresses: bound on addresses whose RSSI average is kept (LRU).

    :meth:`pause` stops the radio scan (bleak's scanner; the ``"memory"`` backend's replay
    waits) and keeps :attr:`latest`; :meth:`resume` starts it again. A scanner paused
    before its start starts paused.
    """

    def __init__(
        self,
        *,
        mode: str = "active",
        backend: str = "auto",
        adapter: str | None = None,
        rssi_alpha: float = 0.3,
        on_sighting: Callable[[BleSighting], object] | None = None,
        records: Sequence[MemoryRecord] = (),
        max_addresses: int = 10_000,
    ) -> None:
        if mode not in ("active", "passive"):
            raise InvalidInputError(f"mode must be 'active' or 'passive', not {mode!r}")
        if backend not in ("auto", "bleak", "memory"):
            raise InvalidInputError(f"backend must be 'auto', 'bleak' or 'memory', not {backend!r}")
        if not 0 < rssi_alpha <= 1:
            raise InvalidInputError("rssi_alpha must be in (0, 1]")
        self.mode = mode
        self.backend = "bleak" if backend == "auto" else backend
        self.adapter = adapter
        self.rssi_alpha = rssi_alpha
        self.on_sighting = on_sighting
        self.records = list(records)
        self.max_addresses = max_addresses
        self._ema: OrderedDict[str, float] = OrderedDict()
        self._fanout: Fanout[BleSighting] = Fanout()
        self._scanner: Any = None
        self._replay: asyncio.Task[None] | None = None
        self._paused = False
        self._scanning = False  # bleak's scanner runs
        self._unpaused: asyncio.Event | None = None  # the memory replay waits on it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pause_lock = asyncio.Lock()  # one pause or resume at a time
        self.latest: OrderedDict[str, BleSighting] = OrderedDict()

    def _smooth(self, address: str, rssi: float | None) -> float | None:
        if rssi is None:
            return self._ema.get(address)
        old = self._ema.pop(address, None)
        value = float(rssi) if old is None else old + self.rssi_alpha * (float(rssi) - old)
        self._ema[address] = value
        while len(self._ema) > self.max_addresses:
            self._ema.popitem(last=False)
        return value

    def _deliver(
        self, address: str, adv: Advertisement, rssi: float | None, address_type: str | None = None
    ) -> None:
        sighting = BleSighting(
            address, adv, rssi, time.time(), self._smooth(address, rssi), address_type
        )
        self.latest.pop(address, None)
        self.latest[address] = sighting
        while len(self.latest) > self.max_addresses:
            self.latest.popitem(last=False)
        if self.on_sighting is not None:
            self.on_sighting(sighting)
        self._fanout.publish(sighting)

    def _on_detect(self, device: Any, data: Any) -> None:
        details = getattr(device, "details", None)
        props = details.get("props") if isinstance(details, dict) else None
        # BlueZ's AddressType (public/random), from platform_data = (path, current props).
        live: Any = getattr(data, "platform_data", ())
        current = live[1] if len(live) == 2 and isinstance(live[1], dict) else props
        address_type = current.get("AddressType") if current else None
        self._deliver(device.address.upper(), _from_bleak(data, props), data.rssi, address_type)

    async def async_start(self) -> None:
        """Start scanning.

        Raises:
            BackendUnavailableError: bleak is missing, or there is no usable
                Bluetooth adapter or stack on this machine.
            ScanError: the scan could not start (e.g. passive mode unsupported).
        """
        self._loop = asyncio.get_running_loop()
        self._pause_lock = asyncio.Lock()
        if self.backend == "memory":
            self._unpaused = asyncio.Event()
            await self._apply_pause()
            self._replay = self._loop.create_task(self._play())
            return
        try:
            import bleak.exc
            from bleak import BleakScanner
            from bleak.exc import BleakDBusError, BleakError
        except ImportError as exc:
            raise BackendUnavailableError("bleak", extra="ble") from exc
        # bleak >= 1.0 has a dedicated error for "no adapter"; older bleak raises BleakError.
        not_available: type[Exception] = getattr(
            bleak.exc, "BleakBluetoothNotAvailableError", _NeverRaised
        )
        kwargs: dict[str, Any] = {"scanning_mode": self.mode}
        if self.adapter:
            kwargs["bluez"] = {"adapter": self.adapter}
        if self.mode == "passive":
            from bleak.assigned_numbers import AdvertisementDataType

            try:
                from bleak.args.bluez import OrPattern
            except ImportError:  # older bleak
                from bleak.backends.bluezdbus.advertisement_monitor import (  # type: ignore[no-redef]
                    OrPattern,
                )

            # Match advertisements whose flags (AD type 0x01) take any defined value.
            patterns = [OrPattern(0, AdvertisementDataType.FLAGS, bytes([b])) for b in range(0x20)]
            kwargs["bluez"] = {**kwargs.get("bluez", {}), "or_patterns": patterns}
        try:
            self._scanner = BleakScanner(self._on_detect, **kwargs)
            if not self._paused:
                await self._scanner.start()
                self._scanning = True
        except not_available as exc:
            self._scanner = None
            raise BackendUnavailableError("Bluetooth adapter", reason=str(exc)) from exc
        except BleakDBusError as exc:
            self._scanner = None
            if "ServiceUnknown" in str(exc) or "org.bluez" in str(exc):
                raise BackendUnavailableError("BlueZ", reason=str(exc)) from exc
            raise ScanError(f"BLE scan could not start: {exc}") from exc
        except BleakError as exc:
            self._scanner = None
            raise ScanError(f"BLE {self.mode} scan could not start: {exc}") from exc
        except (OSError, EOFError) as exc:  # no system bus socket
            self._scanner = None
            raise BackendUnavailableError("BlueZ", reason=f"no D-Bus system bus: {exc}") from exc

    @property
    def paused(self) -> bool:
        """Whether the scanner is paused (:meth:`pause`)."""
        return self._paused

    async def async_pause(self) -> None:
        """Stop the radio scan until :meth:`async_resume`, keeping :attr:`latest` (idempotent)."""
        self._paused = True
        await self._apply_pause()

    async def async_resume(self) -> None:
        """Start the radio scan again after :meth:`async_pause` (idempotent).

        Raises:
            ScanError: bleak could not start the scan again.
        """
        self._paused = False
        await self._apply_pause()

    def pause(self) -> None:
        """:meth:`async_pause` from any thread: it returns once the scan stopped (called in
        the scanner's own loop, it returns at once and the stop follows).

        Raises:
            ScanError: the scanner's loop did not stop the scan within 15 s.
        """
        self._paused = True
        run_on_loop(self._loop, self._apply_pause, "pausing the BLE scanner")

    def resume(self) -> None:
        """:meth:`async_resume` from any thread (see :meth:`pause`)."""
        self._paused = False
        run_on_loop(self._loop, self._apply_pause, "resuming the BLE scanner")

    async def _apply_pause(self) -> None:
        """Make the scan match :attr:`paused` (on the scanner's loop)."""
        async with self._pause_lock:
            await self._apply_pause_locked()

    async def _apply_pause_locked(self) -> None:
        if self._unpaused is not None:
            if self._paused:
                self._unpaused.clear()
            else:
                self._unpaused.set()
        scanner = self._scanner
        if scanner is None:
            return
        if self._paused and self._scanning:
            self._scanning = False
            with contextlib.suppress(Exception):
                await scanner.stop()
        elif not self._paused and not self._scanning:
            try:
                await scanner.start()
            except Exception as exc:  # bleak's or D-Bus's: the scan stays paused
                self._paused = True
                raise ScanError(f"BLE scan could not resume: {exc}") from exc
            self._scanning = True

    async def _play(self) -> None:
        assert self._unpaused is not None
        for address, payload, rssi in self.records:
            await self._unpaused.wait()
            self._deliver(address.upper(), parse_advertisement(payload), rssi)
            await asyncio.sleep(0)

    async def async_stop(self) -> None:
        """Stop scanning (idempotent)."""
        if self._replay is not None:
            self._replay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay
            self._replay = None
        if self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            if self._scanning:
                self._scanning = False
                with contextlib.suppress(Exception):
                    await scanner.stop()

    async def __aenter__(self) -> BleScanner:
        await self.async_start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.async_stop()

    def sightings(self) -> AsyncIterator[BleSighting]:
        """Iterate over sightings from now on."""
        return self._fanout.subscribe()

    async def async_scan(self, timeout: float = 5.0) -> list[BleSighting]:
        """Scan for ``timeout`` seconds; the latest sighting of every address, strongest first."""
        async with self:
            await asyncio.sleep(timeout)
        return sorted(
            self.latest.values(),
            key=lambda s: -(s.rssi_smoothed if s.rssi_smoothed is not None else -1000),
        )


def scan_ble(
    timeout: float = 5.0, *, mode: str = "active", adapter: str | None = None
) -> list[BleSighting]:
    """Scan for ``timeout`` seconds from synchronous code (also inside Jupyter's loop)."""
    return run_sync(lambda: BleScanner(mode=mode, adapter=adapter).async_scan(timeout))
