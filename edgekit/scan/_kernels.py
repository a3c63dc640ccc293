"""numba kernels of the scan layer: a walker of AD structures over a packed buffer.

Imported lazily (through :func:`load_kernels`) so that ``import edgekit.scan``
does not import numba.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from edgekit._jit import njit

ABSENT = -32768

# Item kinds written to the items table: (kind, start, end, key).
K_UUID = 1  # 16- or 32-bit service UUID; key = value
K_UUID128 = 3  # 128-bit service UUID; start/end = its 16 bytes
K_SDATA = 4  # service data with a 16/32-bit UUID; key = UUID; start/end = data
K_SDATA128 = 6  # service data with a 128-bit UUID; start/end = UUID + data
K_MFR = 7  # manufacturer data; key = company id; start/end = data
K_BAD = 8  # malformed structure; start = offset, end = AD type, key = code

OVERRUN, EMPTY, TRAILING, BAD_LENGTH = 1, 2, 3, 4


@njit
def parse_packed(buf, offsets, table, items):
    """Walk every payload ``buf[offsets[i]:offsets[i+1]]``; fill ``table`` rows and ``items``.

    Table columns: name start, name end, TX power, flags, appearance, first item,
    end item, malformed count, first company id. Returns the number of items used.
    """
    n = offsets.shape[0] - 1
    used = 0
    for p in range(n):
        base = offsets[p]
        total = offsets[p + 1]
        name_a = -1
        name_b = -1
        tx = ABSENT
        flags = ABSENT
        appearance = ABSENT
        bad = 0
        company = ABSENT
        first = used
        pos = base
        while pos < total:
            length = np.int64(buf[pos])
            if length == 0:
                pos += 1
                continue
            if pos + 1 >= total:
                items[used, 0] = K_BAD
                items[used, 1] = pos
                items[used, 2] = 0
                items[used, 3] = TRAILING
                used += 1
                bad += 1
                break
            ad_type = np.int64(buf[pos + 1])
            start = pos + 2
            end = pos + 1 + length
            here = pos
            pos = end
            if ad_type == 0:
                continue
            code = 0
            size = end - start
            if end > total:
                code = OVERRUN
            elif size <= 0:
                code = EMPTY
            elif ad_type == 0x01:
                if flags == ABSENT:
                    flags = np.int64(buf[start])
            elif ad_type == 0x09 or (ad_type == 0x08 and name_a < 0):
                name_a = start
                name_b = end
            elif ad_type == 0xFF:
                if size < 2:
                    code = BAD_LENGTH
                else:
                    key = np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8)
                    if company == ABSENT:
                        company = key
                    items[used, 0] = K_MFR
                    items[used, 1] = start + 2
                    items[used, 2] = end
                    items[used, 3] = key
                    used += 1
            elif ad_type == 0x02 or ad_type == 0x03:
                i = start
                while i + 2 <= end:
                    items[used, 0] = K_UUID
                    items[used, 1] = i
                    items[used, 2] = i + 2
                    items[used, 3] = np.int64(buf[i]) | (np.int64(buf[i + 1]) << 8)
                    used += 1
                    i += 2
                if size % 2:
                    code = BAD_LENGTH
            elif ad_type == 0x04 or ad_type == 0x05:
                i = start
                while i + 4 <= end:
                    items[used, 0] = K_UUID
                    items[used, 1] = i
                    items[used, 2] = i + 4
                    items[used, 3] = (
                        np.int64(buf[i])
                        | (np.int64(buf[i + 1]) << 8)
                        | (np.int64(buf[i + 2]) << 16)
                        | (np.int64(buf[i + 3]) << 24)
                    )
                    used += 1
                    i += 4
                if size % 4:
                    code = BAD_LENGTH
            elif ad_type == 0x06 or ad_type == 0x07:
                i = start
                while i + 16 <= end:
                    items[used, 0] = K_UUID128
                    items[used, 1] = i
                    items[used, 2] = i + 16
                    items[used, 3] = 0
                    used += 1
                    i += 16
                if size % 16:
                    code = BAD_LENGTH
            elif ad_type == 0x16:
                if size < 2:
                    code = BAD_LENGTH
                else:
                    items[used, 0] = K_SDATA
                    items[used, 1] = start + 2
                    items[used, 2] = end
                    items[used, 3] = np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8)
                    used += 1
            elif ad_type == 0x20:
                if size < 4:
                    code = BAD_LENGTH
                else:
                    items[used, 0] = K_SDATA
                    items[used, 1] = start + 4
                    items[used, 2] = end
                    items[used, 3] = (
                        np.int64(buf[start])
                        | (np.int64(buf[start + 1]) << 8)
                        | (np.int64(buf[start + 2]) << 16)
                        | (np.int64(buf[start + 3]) << 24)
                    )
                    used += 1
            elif ad_type == 0x21:
                if size < 16:
                    code = BAD_LENGTH
                else:
                    items[used, 0] = K_SDATA128
                    items[used, 1] = start
                    items[used, 2] = end
                    items[used, 3] = 0
                    used += 1
            elif ad_type == 0x0A:
                if size != 1:
                    code = BAD_LENGTH
                else:
                    value = np.int64(buf[start])
                    tx = value - 256 if value >= 128 else value
            elif ad_type == 0x19:
                if size != 2:
                    code = BAD_LENGTH
                else:
                    appearance = np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8)
            if code != 0:
                items[used, 0] = K_BAD
                items[used, 1] = here
                items[used, 2] = ad_type
                items[used, 3] = code
                used += 1
                bad += 1
        table[p, 0] = name_a
        table[p, 1] = name_b
        table[p, 2] = tx
        table[p, 3] = flags
        table[p, 4] = appearance
        table[p, 5] = first
        table[p, 6] = used
        table[p, 7] = bad
        table[p, 8] = company
    return used


def warmup() -> None:
    """Compile (or load) every kernel once on a tiny input."""
    buf = np.frombuffer(b"\x02\x01\x06\x03\x03\x12\x18", dtype=np.uint8)
    offsets = np.array([0, 7], dtype=np.int64)
    table = np.empty((1, 9), dtype=np.int64)
    items = np.empty((8, 4), dtype=np.int64)
    parse_packed(buf, offsets, table, items)


@functools.lru_cache(maxsize=1)
def load_kernels() -> types.ModuleType:
    """This module, with its kernels compiled; the lazy entry point for public functions."""
    import sys

    warmup()
    return sys.modules[__name__]
