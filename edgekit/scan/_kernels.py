"""numba kernels of the scan layer: a walker of AD structures over a packed buffer.

Imported lazily (through :func:`edgekit._jit.lazy_kernels`) so that ``import
edgekit.scan`` does not import numba; the warm-up is in :mod:`edgekit.scan._warmup`.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit

ABSENT = -32768

#: Columns of the table :func:`parse_packed` fills, one row a payload.
COLUMNS = (
    "name_start",
    "name_end",
    "tx_power",
    "flags",
    "appearance",
    "n_uuids",
    "n_service_data",
    "malformed",
    "company_id",
)


@njit
def parse_packed(buf, offsets, table):
    """Walk every payload ``buf[offsets[i]:offsets[i+1]]`` and fill row ``i`` of ``table``.

    The rules are those of :func:`edgekit.scan.advertisement.parse_advertisement`:
    zero-length padding is skipped; a structure that overruns the payload, carries
    no data, or has a length invalid for its type counts as malformed; a complete
    local name wins over a short one. Columns: see :data:`COLUMNS`
    (:data:`ABSENT` where a field is missing; ``company_id`` is the first one).
    """
    n = offsets.shape[0] - 1
    for p in range(n):
        base = offsets[p]
        total = offsets[p + 1]
        name_a = -1
        name_b = -1
        tx = ABSENT
        flags = ABSENT
        appearance = ABSENT
        n_uuids = 0
        n_sdata = 0
        bad = 0
        company = ABSENT
        pos = base
        while pos < total:
            length = np.int64(buf[pos])
            if length == 0:
                pos += 1
                continue
            if pos + 1 >= total:
                bad += 1  # a stray byte after the last structure
                break
            ad_type = np.int64(buf[pos + 1])
            start = pos + 2
            end = pos + 1 + length
            pos = end
            if ad_type == 0:
                continue
            size = end - start
            if end > total or size <= 0:
                bad += 1
            elif ad_type == 0x01:
                if flags == ABSENT:
                    flags = np.int64(buf[start])
            elif ad_type == 0x09 or (ad_type == 0x08 and name_a < 0):
                name_a = start
                name_b = end
            elif ad_type == 0xFF:
                if size < 2:
                    bad += 1
                elif company == ABSENT:
                    company = np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8)
            elif ad_type == 0x02 or ad_type == 0x03:
                n_uuids += size // 2
                if size % 2 != 0:
                    bad += 1
            elif ad_type == 0x04 or ad_type == 0x05:
                n_uuids += size // 4
                if size % 4 != 0:
                    bad += 1
            elif ad_type == 0x06 or ad_type == 0x07:
                n_uuids += size // 16
                if size % 16 != 0:
                    bad += 1
            elif ad_type == 0x16:
                if size < 2:
                    bad += 1
                else:
                    n_sdata += 1
            elif ad_type == 0x20:
                if size < 4:
                    bad += 1
                else:
                    n_sdata += 1
            elif ad_type == 0x21:
                if size < 16:
                    bad += 1
                else:
                    n_sdata += 1
            elif ad_type == 0x0A:
                if size != 1:
                    bad += 1
                else:
                    value = np.int64(buf[start])
                    tx = value - 256 if value >= 128 else value
            elif ad_type == 0x19:
                if size != 2:
                    bad += 1
                else:
                    appearance = np.int64(buf[start]) | (np.int64(buf[start + 1]) << 8)
        table[p, 0] = name_a
        table[p, 1] = name_b
        table[p, 2] = tx
        table[p, 3] = flags
        table[p, 4] = appearance
        table[p, 5] = n_uuids
        table[p, 6] = n_sdata
        table[p, 7] = bad
        table[p, 8] = company
