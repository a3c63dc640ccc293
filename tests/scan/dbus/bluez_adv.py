"""A python-dbusmock template: BlueZ 5 (the stock ``bluez5`` template) plus what bleak needs.

Loaded by tests/scan/conftest.py with the system ``/usr/bin/python3 -m dbusmock
--template <this file>``. On top of ``bluez5`` it:

- gives ``org.bluez.Adapter1`` the ``Roles`` property bleak requires;
- adds ``AddAdvertisingDevice`` and ``Advertise`` on ``org.bluez.Mock``, which
  create a device and change its advertisement, emitting ``InterfacesAdded`` and
  ``PropertiesChanged`` with explicit ``a{qv}``/``a{sv}`` types (the stock
  template declares ``ManufacturerData`` with the wrong type).
"""

import dbus
from dbusmock import mockobject
from dbusmock.templates import bluez5
from dbusmock.templates.bluez5 import *  # noqa: F403  (re-export the stock methods)

BUS_NAME = bluez5.BUS_NAME
MAIN_OBJ = bluez5.MAIN_OBJ
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"


def load(mock, parameters):
    bluez5.load(mock, parameters)


@dbus.service.method(bluez5.BLUEZ_MOCK_IFACE, in_signature="ss", out_signature="s")
def AddAdapter(self, device_name, system_name):
    path = bluez5.AddAdapter(self, device_name, system_name)
    adapter = mockobject.objects[path]
    roles = dbus.Array(["central", "peripheral"], signature="s", variant_level=1)
    adapter.props[ADAPTER_IFACE]["Roles"] = roles
    return path


def _mfr(data):
    return dbus.Dictionary(
        {
            dbus.UInt16(k): dbus.Array(bytes(v), signature="y", variant_level=1)
            for k, v in data.items()
        },
        signature="qv",
        variant_level=1,
    )


def _sd(data):
    return dbus.Dictionary(
        {
            dbus.String(k): dbus.Array(bytes(v), signature="y", variant_level=1)
            for k, v in data.items()
        },
        signature="sv",
        variant_level=1,
    )


@dbus.service.method(bluez5.BLUEZ_MOCK_IFACE, in_signature="sssna{qay}a{say}as", out_signature="s")
def AddAdvertisingDevice(
    self, adapter_name, address, name, rssi, manufacturer_data, service_data, uuids
):
    """Create a device that is advertising; returns its object path."""
    adapter_path = "/org/bluez/" + adapter_name
    path = adapter_path + "/dev_" + address.replace(":", "_").upper()
    props = {
        "Address": dbus.String(address, variant_level=1),
        "AddressType": dbus.String("random", variant_level=1),
        "Alias": dbus.String(name or address.replace(":", "-"), variant_level=1),
        "Adapter": dbus.ObjectPath(adapter_path, variant_level=1),
        "Paired": dbus.Boolean(False, variant_level=1),
        "Connected": dbus.Boolean(False, variant_level=1),
        "Trusted": dbus.Boolean(False, variant_level=1),
        "Blocked": dbus.Boolean(False, variant_level=1),
        "LegacyPairing": dbus.Boolean(False, variant_level=1),
        "ServicesResolved": dbus.Boolean(False, variant_level=1),
        "RSSI": dbus.Int16(rssi, variant_level=1),
        "UUIDs": dbus.Array(list(uuids), signature="s", variant_level=1),
        "ManufacturerData": _mfr(manufacturer_data),
        "ServiceData": _sd(service_data),
    }
    if name:
        props["Name"] = dbus.String(name, variant_level=1)
    self.AddObject(path, DEVICE_IFACE, props, [("Connect", "", "", ""), ("Disconnect", "", "", "")])
    manager = mockobject.objects["/"]
    manager.EmitSignal(
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesAdded",
        "oa{sa{sv}}",
        [dbus.ObjectPath(path), dbus.Dictionary({DEVICE_IFACE: props}, signature="sa{sv}")],
    )
    return path


@dbus.service.method(bluez5.BLUEZ_MOCK_IFACE, in_signature="sna{qay}a{say}", out_signature="")
def Advertise(self, path, rssi, manufacturer_data, service_data):
    """A new advertisement from an existing device: RSSI and data change."""
    device = mockobject.objects[path]
    changed = {
        "RSSI": dbus.Int16(rssi, variant_level=1),
        "ManufacturerData": _mfr(manufacturer_data),
        "ServiceData": _sd(service_data),
    }
    device.props[DEVICE_IFACE].update(changed)
    device.EmitSignal(
        "org.freedesktop.DBus.Properties",
        "PropertiesChanged",
        "sa{sv}as",
        [DEVICE_IFACE, dbus.Dictionary(changed, signature="sv"), dbus.Array([], signature="s")],
    )
