"""The entry format in the NATS KeyValue bucket: encode an :class:`Entry`, decode what a bucket holds.

An edgekit entry is stored under its state key, as it is, as UTF-8 JSON::

    {"v": <value>, "hlc": [wall_ms, logical], "node": "<node id>", "deleted": false}

plus ``"siblings": [...]`` when a ``keep_both`` conflict left some. A delete is an entry
with ``"deleted": true`` (and ``"v": null``), so that its clock travels with it.

Anything else a client writes is a *foreign* (cloud) write: a JSON value that is not an
object with ``"hlc"`` and ``"node"`` is taken as the value itself, bytes that are not JSON
as a UTF-8 string; a KV delete or purge is a delete. A foreign write is stamped with the
server's timestamp of the KV entry in milliseconds (logical 0) and node ``"cloud"``.

Bytes that are neither (not UTF-8, NaN or Infinity in the JSON, an edgekit-shaped object
with bad fields) raise :class:`~edgekit.errors.CorruptDataError`: the sync counts and logs
it for that key and goes on with the others.
"""

from __future__ import annotations

import json
import math
from typing import Any

from edgekit.errors import CorruptDataError
from edgekit.state._types import Entry
from edgekit.state.hlc import Hlc

__all__ = ["CLOUD_NODE", "decode", "encode"]

#: The node id of a foreign (cloud) write.
CLOUD_NODE = "cloud"

_OURS = frozenset({"v", "hlc", "node", "deleted", "siblings"})
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _no_constant(name: str) -> Any:
    raise CorruptDataError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise CorruptDataError(f"{text[:40]} overflows a float")
    return number


def encode(entry: Entry) -> bytes:
    """The bucket value of ``entry`` (UTF-8 JSON)."""
    doc: dict[str, Any] = {
        "v": None if entry.deleted else entry.value,
        "hlc": [entry.hlc.wall_ms, entry.hlc.logical],
        "node": entry.node_id,
        "deleted": entry.deleted,
    }
    if entry.siblings:
        doc["siblings"] = list(entry.siblings)
    return _DUMPS(doc).encode()


def _ours(key: str, doc: dict[str, Any]) -> Entry:
    """An edgekit-shaped object as an Entry; CorruptDataError naming the bad field."""
    hlc, node, deleted = doc["hlc"], doc["node"], doc.get("deleted", False)
    siblings = doc.get("siblings", [])
    if (
        not isinstance(hlc, list)
        or len(hlc) != 2
        or not all(type(x) is int and 0 <= x < 1 << 63 for x in hlc)
    ):
        raise CorruptDataError(f"bucket entry {key!r}: hlc must be [wall_ms, logical], not {hlc!r}")
    if not isinstance(node, str) or not node:
        raise CorruptDataError(f"bucket entry {key!r}: node must be a non-empty string")
    if not isinstance(deleted, bool):
        raise CorruptDataError(f"bucket entry {key!r}: deleted must be true or false")
    if not isinstance(siblings, list):
        raise CorruptDataError(f"bucket entry {key!r}: siblings must be a list")
    return Entry(
        key=key,
        value=None if deleted else doc.get("v"),
        hlc=Hlc(hlc[0], hlc[1]),
        node_id=node,
        deleted=deleted,
        siblings=tuple(siblings),
    )


def decode(
    key: str, data: bytes | None, *, server_ms: int, deleted: bool = False
) -> tuple[Entry, bool]:
    """The entry a bucket value stands for, and whether it is a foreign (cloud) write.

    Args:
        key: The KV key (the state key).
        data: The KV value.
        server_ms: The server's timestamp of the KV entry, in ms since the epoch: the
            HLC of a foreign write.
        deleted: The KV entry is a delete or purge marker (a cloud delete).

    Raises:
        CorruptDataError: ``data`` is not UTF-8, has NaN/Infinity, or is an edgekit-shaped
            object (``"hlc"`` and ``"node"`` keys) with a bad field.
    """
    cloud_hlc = Hlc(max(int(server_ms), 0), 0)
    if deleted:
        return Entry(key, None, cloud_hlc, CLOUD_NODE, deleted=True), True
    raw = data or b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDataError(
            f"bucket entry {key!r} is neither JSON nor UTF-8 text ({len(raw)} bytes): {exc.reason} "
            f"at byte {exc.start}"
        ) from exc
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except CorruptDataError as exc:
        raise CorruptDataError(f"bucket entry {key!r}: {exc}") from exc
    except RecursionError as exc:
        raise CorruptDataError(f"bucket entry {key!r}: JSON nested too deeply") from exc
    except ValueError:
        return Entry(key, text, cloud_hlc, CLOUD_NODE), True  # plain text: a cloud write
    if isinstance(doc, dict) and "hlc" in doc and "node" in doc and doc.keys() <= _OURS:
        return _ours(key, doc), False
    return Entry(key, doc, cloud_hlc, CLOUD_NODE), True
