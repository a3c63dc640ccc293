"""Find what is around: mDNS/DNS-SD services, BLE advertisements and WiFi access points,
merged into one device inventory with vendor and device-type recognition."""

from __future__ import annotations

__all__: list[str] = []
