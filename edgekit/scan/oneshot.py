"""``scan()``: every protocol at once, for a while, into one :class:`~edgekit.scan.inventory.Inventory`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from edgekit._aio import run_sync
from edgekit.errors import EdgekitError, InvalidInputError
from edgekit.scan.ble import BleScanner
from edgekit.scan.inventory import Inventory
from edgekit.scan.mdns import MdnsScanner, _warn_if_empty
from edgekit.scan.recognize import RuleSet
from edgekit.scan.wifi import WifiScanner

__all__ = ["PROTOCOLS", "async_scan", "scan"]

#: The protocols :func:`scan` knows.
PROTOCOLS = ("mdns", "ble", "wifi")


async def async_scan(
    protocols: Sequence[str] = PROTOCOLS,
    timeout: float = 5.0,
    *,
    inventory: Inventory | None = None,
    mdns: MdnsScanner | None = None,
    ble: BleScanner | None = None,
    wifi: WifiScanner | None = None,
    rules: RuleSet | None = None,
    on_update: Callable[[Inventory], None] | None = None,
    update_interval: float = 0.5,
) -> Inventory:
    """Scan the given protocols concurrently for at most ``timeout`` seconds; see :func:`scan`."""
    if isinstance(protocols, str):
        protocols = [protocols]
    chosen = list(dict.fromkeys(protocols))
    unknown = set(chosen) - set(PROTOCOLS)
    if unknown or not chosen:
        raise InvalidInputError(
            f"protocols must be a non-empty subset of {PROTOCOLS}, not {protocols!r}"
        )
    if timeout <= 0:
        raise InvalidInputError("timeout must be > 0 seconds")
    if inventory is not None and rules is not None:
        raise InvalidInputError("give rules to the Inventory (Inventory(rules=...)), not to scan()")
    inv = inventory if inventory is not None else Inventory(rules=rules)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    others = [name for name in chosen if name != "mdns"]
    others_done = asyncio.Event()  # mDNS ends once the others did and its answers settled
    if not others:
        others_done.set()

    async def run_mdns() -> None:
        scanner = mdns or MdnsScanner()
        previous = scanner.on_event
        scanner.on_event = lambda event: (
            inv.add_mdns(event.service)
            if event.kind != "removed"
            else inv.remove_mdns(event.service)
        )
        try:
            async with scanner:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(others_done.wait(), deadline - loop.time())
                await scanner.async_wait_complete(max(0.0, deadline - loop.time()))
                _warn_if_empty(scanner, timeout - max(0.0, deadline - loop.time()))
        finally:
            scanner.on_event = previous

    async def run_ble() -> None:
        scanner = ble or BleScanner()
        previous = scanner.on_sighting
        scanner.on_sighting = inv.add
        try:
            await scanner.async_scan(timeout)
        finally:
            scanner.on_sighting = previous

    async def run_wifi() -> None:
        for ap in await (wifi or WifiScanner()).async_scan():
            inv.add_wifi(ap)

    runners = {"mdns": run_mdns, "ble": run_ble, "wifi": run_wifi}

    async def guarded(name: str) -> None:
        try:
            await runners[name]()
        except EdgekitError as exc:
            if len(chosen) == 1:
                raise
            inv.unavailable[name] = f"{type(exc).__name__}: {exc}"
        finally:
            if name != "mdns":
                others.remove(name)
                if not others:
                    others_done.set()

    async def ticker() -> None:
        assert on_update is not None
        while True:
            await asyncio.sleep(update_interval)
            on_update(inv)

    tick = asyncio.ensure_future(ticker()) if on_update is not None else None
    try:
        await asyncio.gather(*(guarded(name) for name in chosen))
    finally:
        if tick is not None:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick
    if on_update is not None:
        on_update(inv)
    return inv


def scan(
    protocols: Sequence[str] = PROTOCOLS,
    timeout: float = 5.0,
    *,
    inventory: Inventory | None = None,
    mdns: MdnsScanner | None = None,
    ble: BleScanner | None = None,
    wifi: WifiScanner | None = None,
    rules: RuleSet | None = None,
) -> Inventory:
    """Scan mDNS, BLE and WiFi at once for at most ``timeout`` seconds; return the inventory.

    Works in a script and inside Jupyter's running event loop. A protocol that
    cannot run here (no zeroconf, no Bluetooth adapter, no WiFi tool) is
    recorded in ``inventory.unavailable`` with the reason, and the others still
    run; it raises only when it is the one protocol asked for.

    BLE listens for the whole ``timeout``; WiFi is done after one listing; mDNS
    queries until its answers settle (about
    :data:`~edgekit.scan.mdns.SETTLED_SCAN_S` seconds when everything answers at
    once), so a scan without BLE may end sooner. When mDNS found nothing, a
    :class:`~edgekit.errors.ScanWarning` says whether it had settled and what to try.

    Args:
        protocols: any of ``"mdns"``, ``"ble"``, ``"wifi"``.
        timeout: the most seconds to scan.
        inventory: an inventory to add to (default: a new one).
        mdns: a configured :class:`~edgekit.scan.mdns.MdnsScanner` (e.g. with
            ``interfaces=["127.0.0.1"]``); default: all interfaces, all types.
        ble: a configured :class:`~edgekit.scan.ble.BleScanner`.
        wifi: a configured :class:`~edgekit.scan.wifi.WifiScanner`.
        rules: the recognition rule table of the new inventory (default:
            :func:`~edgekit.scan.recognize.default_rules`).

    Raises:
        InvalidInputError: unknown protocol, a non-positive timeout, or both
            ``inventory`` and ``rules`` (the inventory has its own).
        EdgekitError: the only protocol asked for could not run.
    """
    return run_sync(
        lambda: async_scan(
            protocols, timeout, inventory=inventory, mdns=mdns, ble=ble, wifi=wifi, rules=rules
        )
    )
