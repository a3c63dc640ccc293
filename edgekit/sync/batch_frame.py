"""A batch of messages as one binary frame: the HTTP transport's alternative to JSON.

Laid out like the codec's frames (``docs/codec-format.md``): ``magic "EKSB" | version
(u8) | body | xxh3_64 (u64) of all bytes before it``, little-endian integers. The body
is ``count (u32)`` then, per message::

    id (u64) | priority (i16) | attempt (u16) | created (f64, seconds since the epoch)
    | topic (u16 length + UTF-8) | dedup id (u16 length + UTF-8)
    | key (u16 length + UTF-8; 0xFFFF: no key) | headers (u32 length + JSON object)
    | payload (u32 length + bytes)

Payloads travel as they are (no base64): a batch of 100-byte messages is about half the
size of its JSON envelope.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

from edgekit.errors import CorruptDataError
from edgekit.sync.queue import Message

__all__ = ["CONTENT_TYPE", "decode_batch", "encode_batch"]

#: The Content-Type the HTTP transport sends binary batches with.
CONTENT_TYPE = "application/vnd.edgekit.batch"

MAGIC = b"EKSB"
VERSION = 1
_FIXED = struct.Struct("<QhHd")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NO_KEY = 0xFFFF
#: Fewest bytes one message takes: the fixed fields and five empty length-prefixed ones.
_MIN_MESSAGE = _FIXED.size + 3 * _U16.size + 2 * _U32.size


def _xxh3_64(data: bytes | bytearray | memoryview) -> int:
    import xxhash

    return int(xxhash.xxh3_64_intdigest(data))


def encode_batch(messages: Sequence[Message]) -> bytes:
    """The binary frame of a batch (see the module doc)."""
    out = bytearray(MAGIC)
    out.append(VERSION)
    out += _U32.pack(len(messages))
    for m in messages:
        topic = m.topic.encode()
        dedup = m.dedup_id.encode()
        key = m.key.encode() if m.key is not None else None
        headers = json.dumps(m.headers, separators=(",", ":")).encode() if m.headers else b""
        out += _FIXED.pack(m.id, m.priority, min(m.attempt, 0xFFFF), m.created)
        out += _U16.pack(len(topic)) + topic
        out += _U16.pack(len(dedup)) + dedup
        out += _U16.pack(_NO_KEY) if key is None else _U16.pack(len(key)) + key
        out += _U32.pack(len(headers)) + headers
        out += _U32.pack(len(m.payload)) + m.payload
    out += _U64.pack(_xxh3_64(out))
    return bytes(out)


class _Reader:
    __slots__ = ("pos", "view")

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.view) - self.pos:
            raise CorruptDataError(
                f"batch frame: {what} needs {n} bytes, {len(self.view) - self.pos} left"
            )
        out = self.view[self.pos : self.pos + n]
        self.pos += n
        return out

    def text(self, n: int, what: str) -> str:
        try:
            return bytes(self.take(n, what)).decode()
        except UnicodeDecodeError as exc:
            raise CorruptDataError(f"batch frame: {what} is not UTF-8") from exc


def decode_batch(data: bytes | bytearray | memoryview) -> list[Message]:
    """The messages of a binary batch frame, for the receiving side.

    Each :class:`~edgekit.sync.Message` has the sender's id, topic, priority, key,
    headers, attempt, creation time and payload, and the same ``dedup_id``;
    ``lease_token`` is 0.

    Raises:
        CorruptDataError: The bytes are not a whole, intact batch frame.
    """
    view = memoryview(data).cast("B")
    if len(view) < len(MAGIC) + 1 + 4 + 8:
        raise CorruptDataError(f"batch frame: {len(view)} bytes is too short")
    if bytes(view[:4]) != MAGIC:
        raise CorruptDataError(f"batch frame: bad magic {bytes(view[:4])!r}, expected {MAGIC!r}")
    if view[4] != VERSION:
        raise CorruptDataError(f"batch frame: version {view[4]} is not supported (reads 1)")
    body = view[:-8]
    if _xxh3_64(body) != _U64.unpack_from(view, len(view) - 8)[0]:
        raise CorruptDataError("batch frame: checksum mismatch (truncated or corrupted)")
    reader = _Reader(body)
    reader.pos = 5
    (count,) = _U32.unpack(reader.take(4, "count"))
    left = len(body) - reader.pos
    if count * _MIN_MESSAGE > left:
        raise CorruptDataError(
            f"batch frame: {count} messages need at least {count * _MIN_MESSAGE} bytes, {left} left"
        )
    out: list[Message] = []
    try:
        _decode_messages(reader, count, len(body), out)
    except MemoryError as exc:
        out.clear()  # free what was decoded, so that the error can be made
        raise CorruptDataError(
            f"batch frame: not enough memory to decode {count} messages of {len(body)} bytes"
        ) from exc
    return out


def _decode_messages(reader: _Reader, count: int, size: int, out: list[Message]) -> None:
    """Append the ``count`` messages of a batch frame's body (at ``reader``) to ``out``."""
    for _ in range(count):
        mid, priority, attempt, created = _FIXED.unpack(reader.take(_FIXED.size, "message"))
        topic = reader.text(_U16.unpack(reader.take(2, "topic length"))[0], "topic")
        dedup = reader.text(_U16.unpack(reader.take(2, "dedup id length"))[0], "dedup id")
        (klen,) = _U16.unpack(reader.take(2, "key length"))
        key = None if klen == _NO_KEY else reader.text(klen, "key")
        raw = reader.take(_U32.unpack(reader.take(4, "headers length"))[0], "headers")
        headers: dict[str, str] = {}
        if raw:
            try:
                headers = json.loads(bytes(raw))
            except ValueError as exc:
                raise CorruptDataError("batch frame: headers are not JSON") from exc
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise CorruptDataError("batch frame: headers are not a str -> str object")
        payload = bytes(reader.take(_U32.unpack(reader.take(4, "payload length"))[0], "payload"))
        queue_id = ""
        if key is None:
            # dedup id = "<queue id>-<id>" (see Message.dedup_id): keep the queue id.
            suffix = f"-{mid}"
            if dedup.endswith(suffix):
                queue_id = dedup[: -len(suffix)]
        out.append(
            Message(
                id=mid,
                payload=payload,
                topic=topic,
                priority=priority,
                key=key,
                headers=headers,
                attempt=attempt,
                created=created,
                queue_id=queue_id,
            )
        )
    if reader.pos != size:
        raise CorruptDataError(f"batch frame: {size - reader.pos} bytes after the messages")
