"""Ready applications composed from the layers (wake word, voice activity, sensor uplink)."""

from __future__ import annotations

__all__: list[str] = []
