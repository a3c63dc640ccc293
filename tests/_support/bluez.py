"""BlueZ mocked by python-dbusmock on a private D-Bus daemon (this machine has no Bluetooth).

The scan fixtures ``dbus_bus`` and ``bluez`` start them; ``Bluez`` drives the mock
(adapters, devices, advertisements) over D-Bus.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Bluez:
    """The mocked BlueZ: its bus address and helpers that drive it over D-Bus."""

    address: str

    async def call(self, member: str, signature: str, body: list) -> list:  # type: ignore[type-arg]
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_address=self.address).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/",
                    interface="org.bluez.Mock",
                    member=member,
                    signature=signature,
                    body=body,
                )
            )
        finally:
            bus.disconnect()
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body
        return list(reply.body)

    async def add_adapter(self, name: str = "hci0") -> str:
        return (await self.call("AddAdapter", "ss", [name, "edgekit-test"]))[0]

    async def add_device(
        self,
        address: str,
        name: str,
        rssi: int,
        manufacturer_data: dict[int, bytes] | None = None,
        service_data: dict[str, bytes] | None = None,
        uuids: list[str] | None = None,
        adapter: str = "hci0",
    ) -> str:
        body = [
            adapter,
            address,
            name,
            rssi,
            manufacturer_data or {},
            service_data or {},
            uuids or [],
        ]
        return (await self.call("AddAdvertisingDevice", "sssna{qay}a{say}as", body))[0]

    async def advertise(
        self,
        path: str,
        rssi: int,
        manufacturer_data: dict[int, bytes] | None = None,
        service_data: dict[str, bytes] | None = None,
    ) -> None:
        await self.call(
            "Advertise", "sna{qay}a{say}", [path, rssi, manufacturer_data or {}, service_data or {}]
        )


def start_bus(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private ``dbus-daemon --session`` run in ``tmp_path``: the process and its bus address."""
    daemon = shutil.which("dbus-daemon")
    assert daemon, "dbus-daemon (Debian package dbus) is needed"
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", f"--print-address={write_fd}"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        address = pipe.readline().strip()
    assert address, "dbus-daemon printed no address"
    return proc, address


def wait_for_name(address: str, name: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait up to 20 s for ``name`` to have an owner on the bus (``proc`` must stay alive)."""
    import asyncio

    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    async def has_owner() -> bool:
        bus = await MessageBus(bus_address=address).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=[name],
                )
            )
            return bool(reply.body and reply.body[0])
        finally:
            bus.disconnect()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dbusmock exited early"
        if asyncio.run(has_owner()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} did not appear on the bus")
