"""Keys, values and the on-disk record of an entry.

A record is a header ``(flags u8, wall_ms u64, logical u32, node_len u8)`` big-endian,
the node id (ASCII), then the value as compact JSON (``[value, [siblings...]]`` when the
entry has siblings; nothing for a tombstone). Flags: 1 a tombstone, 2 siblings follow, 4
pending (a local change the remote has not confirmed). A key's base is its remote
revision (u64) followed by the base entry's record.
"""

from __future__ import annotations

import json
import re
import struct
from json.encoder import c_encode_basestring_ascii, c_make_encoder  # type: ignore[attr-defined]
from json.scanner import c_make_scanner  # type: ignore[attr-defined]
from typing import Any

from edgekit.errors import CorruptDataError, InvalidInputError
from edgekit.state._types import Entry
from edgekit.state.hlc import Hlc

__all__ = [
    "F_DELETED",
    "F_PENDING",
    "F_SIBLINGS",
    "HEAD",
    "HLC_KEY",
    "U64",
    "check_key",
    "check_node_id",
    "decode",
    "encode",
    "encode_value",
    "loads",
]

MAX_KEY_BYTES = 255
_KEY = re.compile(r"[A-Za-z0-9_.=/-]+")
_NODE = re.compile(r"[A-Za-z0-9_-]{1,64}")

F_DELETED = 1
F_SIBLINGS = 2
F_PENDING = 4

HEAD = struct.Struct(">BQIB")
HLC_KEY = struct.Struct(">QI")  # a stamp as stored (the clock's floor)
U64 = struct.Struct(">Q")
_pack_head = HEAD.pack
_unpack_head = HEAD.unpack_from
_HEAD_SIZE = HEAD.size

_scan = c_make_scanner(json.JSONDecoder()) if c_make_scanner is not None else None


def loads(data: bytes) -> Any:
    """A value as stored (compact ASCII JSON), parsed by json's C scanner directly: a
    third of ``json.loads``'s time on small values.

    Raises:
        ValueError: ``data`` is not one JSON value.
    """
    text = data.decode()
    if _scan is None:  # pragma: no cover - CPython without the _json accelerator
        return json.loads(text)
    try:
        value, end = _scan(text, 0)
    except StopIteration as exc:
        raise ValueError(f"not JSON at character {exc.value}") from None
    if end != len(text):
        raise ValueError(f"{len(text) - end} characters after the JSON value")
    return value


_checked: dict[str, bytes] = {}


def check_key(key: object) -> bytes:
    """``key`` as stored (ASCII bytes).

    Raises:
        InvalidInputError: It is not a string of 1..255 of ``A-Z a-z 0-9 _ . = / -``, or
            starts or ends with ``.`` or ``/``, or holds ``..`` or ``//``, or starts with
            ``_kv`` (NATS KeyValue keeps those).
    """
    found = _checked.get(key) if type(key) is str else None
    if found is not None:
        return found
    if type(key) is not str or not _KEY.fullmatch(key):
        raise InvalidInputError(
            f"state key {key!r} must be a non-empty string of A-Z a-z 0-9 _ . = / -"
        )
    if len(key) > MAX_KEY_BYTES:
        raise InvalidInputError(f"state key {key[:40]!r}... is {len(key)} bytes, max 255")
    if key[0] in "./" or key[-1] in "./" or ".." in key or "//" in key or key.startswith("_kv"):
        raise InvalidInputError(
            f"state key {key!r} may not start or end with '.' or '/', hold '..' or '//', "
            "or start with '_kv'"
        )
    kb = key.encode()
    if len(_checked) >= 65536:
        _checked.clear()
    _checked[key] = kb
    return kb


def check_node_id(node_id: object) -> str:
    """``node_id`` checked: 1..64 of ``A-Z a-z 0-9 _ -``."""
    if not isinstance(node_id, str) or not _NODE.fullmatch(node_id):
        raise InvalidInputError(
            f"node_id {node_id!r} must be 1 to 64 characters of A-Z a-z 0-9 _ -"
        )
    return node_id


def _refuse(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON")


_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_refuse)
# The C encoder made once (JSONEncoder.encode makes one per call).
_iterencode = (
    c_make_encoder(None, _refuse, c_encode_basestring_ascii, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)


def _dumps(value: Any) -> str:
    """``value`` as compact ASCII JSON; TypeError/ValueError when JSON cannot hold it."""
    if _iterencode is None:  # pragma: no cover - CPython without the _json accelerator
        return _encoder.encode(value)
    return "".join(_iterencode(value, 0))


def encode_value(key: str, value: Any, max_bytes: int) -> bytes:
    """``value`` as compact JSON (ASCII: other characters as ``\\u`` escapes).

    JSON holds dicts, lists (tuples become lists), strings, finite numbers, booleans and
    None; dict keys that are numbers, booleans or None become strings, as :mod:`json`
    writes them.

    Raises:
        InvalidInputError: JSON cannot hold it (NaN, inf, a set, bytes, an object, a
            circular reference), or it is longer than ``max_bytes`` encoded.
    """
    try:
        data = _dumps(value).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(
            f"state key {key!r}: the value does not encode as JSON ({exc}); values must "
            "be dicts, lists, strings, finite numbers, booleans or None"
        ) from None
    if len(data) > max_bytes:
        raise InvalidInputError(
            f"state key {key!r}: the value is {len(data):,} bytes as JSON, more than "
            f"max_value_bytes={max_bytes:,}"
        )
    return data


def encode(entry: Entry, pending: bool, value_json: bytes | None = None) -> bytes:
    """The record of ``entry`` (``value_json``: its value already encoded)."""
    flags = (F_DELETED if entry.deleted else 0) | (F_PENDING if pending else 0)
    node = entry.node_id.encode()
    if entry.deleted:
        payload = b""
    elif entry.siblings:
        flags |= F_SIBLINGS
        payload = _dumps([entry.value, list(entry.siblings)]).encode()
    else:
        payload = value_json if value_json is not None else _dumps(entry.value).encode()
    hlc = entry.hlc
    return _pack_head(flags, hlc[0], hlc[1], len(node)) + node + payload


def decode(key: str, record: bytes) -> tuple[Entry, bool]:
    """(entry, pending) of a record.

    Raises:
        CorruptDataError: The record does not decode.
    """
    try:
        flags, wall, logical, nlen = _unpack_head(record)
        at = _HEAD_SIZE + nlen
        node = record[_HEAD_SIZE:at].decode()
        if flags & F_DELETED:
            return Entry(key, None, Hlc(wall, logical), node, True), bool(flags & F_PENDING)
        value = loads(record[at:])
        if flags & F_SIBLINGS:
            value, siblings = value
            return (
                Entry(key, value, Hlc(wall, logical), node, False, tuple(siblings)),
                bool(flags & F_PENDING),
            )
        return Entry(key, value, Hlc(wall, logical), node), bool(flags & F_PENDING)
    except (struct.error, ValueError, TypeError) as exc:
        raise CorruptDataError(
            f"state key {key!r}: its stored record does not decode ({exc})"
        ) from exc
