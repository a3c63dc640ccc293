"""The queue's on-disk layout (format 2), in one place: structs, header offsets, keys,
records (with compression and encryption).

A record (version 2): a 35-byte header (``_HEADER_FIELDS``), the topic, the idempotency
key, the headers JSON (absent here when encrypted), the stored body (the payload, lz4
compressed, or the AES-GCM ciphertext of headers and payload), then an 8-byte checksum:
``xxh3_64`` of the record from its ``topic_len`` field (byte 23) to the checksum,
seeded with ``created_us ^ (priority & 0xFFFF) << 40 ^ flags << 56`` (:func:`sum_seed`).
It covers every byte but the fields a lease or a nack rewrites (state, attempts,
deadline and ``FLAG_ERR``), so it is computed once, at put. Version-1 records (no
checksum) are read as they are; a record whose checksum fails is a
``CorruptDataError`` for that record alone and is quarantined into the dead letters.

LMDB databases (all keys big-endian so that byte order is numeric order):

- main database: ``0xFF + seq (u64)`` -> record (a fixed header, topic, key, headers
  JSON, payload); format 1 kept them in a ``msgs`` database.
- ``ready``: ``topic + 0x00 + (32767 - priority) (u16) + seq (u64)`` -> empty. Leasing
  reads the first keys of a topic's range: higher priority first, FIFO within it.
- ``timers``: ``deadline (u64 microseconds) + seq`` -> a lease's ids (8 bytes each;
  ``seq`` is its first), or empty for a nacked message waiting for its retry time.
  Lease deadlines are even, retry deadlines odd.
- ``dead``: ``seq`` -> why it died (:func:`dead_info`: when, reason, last error); empty
  in queues written before edgekit recorded reasons.
- ``errors``: ``seq`` -> the last error a nack gave for a live message (its record has
  ``FLAG_ERR``); it moves into the ``dead`` value when the message dies.
- ``keys``: idempotency key -> ``seq + expiry``; ``kexp``: ``expiry + key`` -> empty.
- ``topics``: topic -> ``count + bytes`` of the topic's live messages.
- ``meta``: queue format, queue id, counters (with the last id they cover: puts may leave
  them up to 256 messages behind, and the messages after that id are counted on
  read), encryption key check.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import xxhash

from edgekit.errors import BackendUnavailableError, CorruptDataError

# Version byte of each record's header: 1 (no checksum) or 2 (the checksum trailer).
FORMAT_VERSION = 2
RECORD_VERSIONS = (1, 2)
# Version of the queue as a whole (meta ``format``). 1: counters and topic totals
# written by every transaction. 2: puts may leave them behind (see _tally.Tally); format
# 1 queues are upgraded on open, and format 1 code refuses format 2 queues.
# 3: records may be version 2 (checksummed); format 2 code would quarantine them all, so
# it must refuse the queue. 1 and 2 are upgraded on open (the records stay as they are).
QUEUE_FORMAT = 3
READABLE_FORMATS = (b"1", b"2", b"3")

READY, INFLIGHT, DEAD, DELAYED = 0, 1, 2, 3
STATE_NAMES = {READY: "ready", INFLIGHT: "in-flight", DEAD: "dead", DELAYED: "delayed"}

FLAG_LZ4 = 1
FLAG_AES = 2
# The message has an entry in the ``errors`` database (its last nack's error).
FLAG_ERR = 4

# The record header: (name, struct code) in order; every offset below derives from it.
_HEADER_FIELDS = (
    ("version", "B"),
    ("flags", "B"),
    ("state", "B"),
    ("priority", "h"),
    ("attempts", "H"),
    ("created_us", "Q"),
    ("deadline_us", "Q"),
    ("topic_len", "H"),
    ("key_len", "H"),
    ("headers_len", "I"),
    ("raw_size", "I"),
)
HEADER = struct.Struct(">" + "".join(code for _, code in _HEADER_FIELDS))
HEADER_SIZE = HEADER.size
# Byte offset of each header field in a record.
OFFSET = {
    name: struct.calcsize(">" + "".join(code for _, code in _HEADER_FIELDS[:i]))
    for i, (name, _) in enumerate(_HEADER_FIELDS)
}
STATE_AT = OFFSET["state"]
FLAGS_AT = OFFSET["flags"]
# The checksum hashes a record from here (the lengths, topic, key, headers, body) to itself.
SUM_FROM = OFFSET["topic_len"]
CHECKSUM_SIZE = 8


def _view(*names: str) -> struct.Struct:
    """A struct that reads only the header fields ``names`` (in header order)."""
    codes = dict(_HEADER_FIELDS)
    fmt, at = ">", 0
    for name in names:
        gap = OFFSET[name] - at
        fmt += f"{gap}x" if gap else ""
        fmt += codes[name]
        at = OFFSET[name] + struct.calcsize(">" + codes[name])
    return struct.Struct(fmt)


# (deadline_us, topic_len) and (priority, topic_len) of a record, without the rest.
DEADLINE_TOPIC_VIEW = _view("deadline_us", "topic_len")
PRIORITY_TOPIC_VIEW = _view("priority", "topic_len")

U64 = struct.Struct(">Q")
U16 = struct.Struct(">H")
TWO_U64 = struct.Struct(">QQ")

PRIORITY_MIN, PRIORITY_MAX = -32768, 32767

# meta ``counters``: ready, delayed, inflight, dead, bytes, evicted, evicted bytes, last id.
COUNTERS = struct.Struct(">QQQQQQQQ")
C_READY, C_DELAYED, C_INFLIGHT, C_DEAD, C_BYTES, C_EVICTED, C_EVBYTES, C_SEQ = range(8)
# The counter of the messages in each state.
STATE_COUNTER = {READY: C_READY, DELAYED: C_DELAYED, INFLIGHT: C_INFLIGHT, DEAD: C_DEAD}

# The named databases (message records are in the main database: see MSG_PREFIX).
DB_NAMES = ("ready", "timers", "dead", "keys", "kexp", "topics", "meta", "errors")

# Message records live in LMDB's main database (one tree fewer per commit than a named
# one), keyed MSG_PREFIX + id: after the names of the named databases, which the main
# database also holds, so that ids can be appended and the messages read in order.
MSG_PREFIX = b"\xff"


def seq_key(seq: int) -> bytes:
    """The key of message ``seq``'s record."""
    return MSG_PREFIX + U64.pack(seq)


def ready_prefix(topic: bytes) -> bytes:
    """The start of every ready-index key of ``topic`` (topics hold no NUL)."""
    return topic + b"\x00"


def ready_end(topic: bytes) -> bytes:
    """The first key after every ready-index key of ``topic``."""
    return topic + b"\x01"


def ready_head(topic: bytes, priority: int) -> bytes:
    """A ready-index key without its id: the keys of one topic and priority."""
    return topic + b"\x00" + U16.pack(PRIORITY_MAX - priority)


def ready_key(topic: bytes, priority: int, seq: int) -> bytes:
    """The ready-index key of message ``seq``: higher priority first, then by id."""
    return topic + b"\x00" + U16.pack(PRIORITY_MAX - priority) + U64.pack(seq)


# The last 10 bytes of a ready key (priority, id) order the keys of all topics.
READY_ORDER = 10


def split_ready_key(key: bytes) -> tuple[bytes, int, int]:
    """(topic, priority, seq) of a ready-index key."""
    topic = key[:-11]
    priority = PRIORITY_MAX - U16.unpack_from(key, len(key) - 10)[0]
    return topic, priority, U64.unpack_from(key, len(key) - 8)[0]


def timer_key(deadline_us: int, seq: int) -> bytes:
    """A timers key: a retry's (its id), or a lease's (its first id; ids in the value)."""
    return TWO_U64.pack(deadline_us, seq)


# A ``dead`` value: when it died (microseconds since the epoch), reason length; then the
# reason and the last error (UTF-8; empty: none).
DEAD_INFO = struct.Struct(">QH")
_TEXT_MAX = 4096  # bytes kept of a reason or an error


def clip_text(text: str | None) -> bytes:
    """A reason or an error as stored: UTF-8, at most 4 KiB."""
    return b"" if text is None else text.encode(errors="replace")[:_TEXT_MAX]


def dead_value(when_us: int, reason: str | None, last_error: str | bytes | None) -> bytes:
    """The ``dead`` value of a message that died at ``when_us`` for ``reason``."""
    rbytes = clip_text(reason)
    ebytes = last_error if isinstance(last_error, bytes) else clip_text(last_error)
    return DEAD_INFO.pack(when_us, len(rbytes)) + rbytes + ebytes


def dead_info(value: bytes) -> tuple[float | None, str | None, str | None]:
    """(when in seconds since the epoch, reason, last error) of a ``dead`` value; all None
    for the empty value of an older queue."""
    if len(value) < DEAD_INFO.size:
        return None, None, None
    when_us, rlen = DEAD_INFO.unpack_from(value)
    at = DEAD_INFO.size
    reason = bytes(value[at : at + rlen]).decode(errors="replace")
    error = bytes(value[at + rlen :]).decode(errors="replace") or None
    return when_us / 1e6, reason or None, error


#: xxh3_64 as 8 big-endian bytes: the checksum as stored.
xxh3_64_sum = xxhash.xxh3_64_digest
_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack


def sum_seed(flags: int, priority: int, created_us: int) -> int:
    """The checksum's seed: the header fields before ``SUM_FROM`` that no lease rewrites."""
    return created_us ^ (priority & 0xFFFF) << 40 ^ (flags & ~FLAG_ERR & 0xFF) << 56


def plain_record(
    priority: int, created_us: int, topic: bytes, hbytes: bytes, payload: bytes
) -> bytes:
    """A ready record with no key, compression or encryption (as encode_record makes it)."""
    head, seed = plain_head(priority, created_us, topic, hbytes, len(payload))
    return head + payload + xxh3_64_sum(head[SUM_FROM:] + payload, seed)


def plain_head(
    priority: int, created_us: int, topic: bytes, hbytes: bytes, size: int
) -> tuple[bytes, int]:
    """:func:`plain_record` of a ``size``-byte payload up to the payload, and the seed of
    its checksum (the record is ``head + payload + xxh3_64_sum(head[SUM_FROM:] + payload,
    seed)``)."""
    tlen, hlen = len(topic), len(hbytes)
    return (
        _pack_header(FORMAT_VERSION, 0, READY, priority, 0, created_us, 0, tlen, 0, hlen, size)
        + topic
        + hbytes
    ), sum_seed(0, priority, created_us)


def check_sum(record: bytes, flags: int, prio: int, created: int) -> int:
    """Where a version-2 record's body ends (its checksum starts), once the checksum holds.

    Raises:
        CorruptDataError: The record is too short, or its checksum fails.
    """
    end = len(record) - CHECKSUM_SIZE
    if end < HEADER_SIZE:
        raise CorruptDataError(f"record of {len(record)} bytes is shorter than its header")
    if (
        xxh3_64_sum(memoryview(record)[SUM_FROM:end], sum_seed(flags, prio, created))
        != record[end:]
    ):
        raise CorruptDataError("checksum mismatch")
    return end


def leased(
    record: bytes, deadline_us: int
) -> tuple[bytes, int, int, int, int, int, int, int, int, int]:
    """The record in flight until ``deadline_us`` with one more attempt, and its header's
    (flags, priority, attempts, created_us, topic_len, key_len, headers_len, raw_size),
    and where its body ends; the checksum of a version-2 record is checked.

    Raises:
        CorruptDataError: The header is not a known version's, or the checksum fails.
        struct.error: The record is shorter than a header.
    """
    ver, flags, _, prio, attempts, created, _, tlen, klen, hlen, raw = _unpack_header(record)
    if ver == 2:
        end = check_sum(record, flags, prio, created)
    elif ver == 1:
        end = len(record)
    else:
        raise CorruptDataError(f"unknown record version {ver}")
    attempts += attempts < 65535
    new = _pack_header(
        ver, flags, INFLIGHT, prio, attempts, created, deadline_us, tlen, klen, hlen, raw
    )
    return new + record[HEADER_SIZE:], flags, prio, attempts, created, tlen, klen, hlen, raw, end


def state_of(record: bytes) -> int:
    """The state byte of a record, or -1 when the record is too short to have one."""
    return record[STATE_AT] if len(record) >= HEADER_SIZE else -1


@dataclass
class Head:
    """The fixed part of a record; ``end``: where its body ends (its checksum starts)."""

    version: int
    flags: int
    state: int
    priority: int
    attempts: int
    created_us: int
    deadline_us: int
    topic: bytes
    key: bytes
    headers_len: int
    raw_size: int
    body_offset: int
    end: int

    def pack(self) -> bytes:
        return _pack_header(
            self.version,
            self.flags,
            self.state,
            self.priority,
            self.attempts,
            self.created_us,
            self.deadline_us,
            len(self.topic),
            len(self.key),
            self.headers_len,
            self.raw_size,
        )


def read_head(record: bytes) -> Head:
    """The header of a record (its checksum is checked by :func:`verify`)."""
    if len(record) < HEADER.size:
        raise CorruptDataError(f"queue record of {len(record)} bytes is shorter than its header")
    (version, flags, state, prio, attempts, created, deadline, tlen, klen, hlen, raw) = (
        HEADER.unpack_from(record)
    )
    if version not in RECORD_VERSIONS:
        raise CorruptDataError(f"queue record has version {version}, expected 1 or 2")
    offset = HEADER.size
    topic = record[offset : offset + tlen]
    key = record[offset + tlen : offset + tlen + klen]
    body = offset + tlen + klen
    end = len(record) - (CHECKSUM_SIZE if version == 2 else 0)
    if body + (0 if flags & FLAG_AES else hlen) > end or state not in STATE_NAMES:
        raise CorruptDataError("queue record is truncated or its header is damaged")
    return Head(
        version, flags, state, prio, attempts, created, deadline, topic, key, hlen, raw, body, end
    )


def verify(record: bytes, head: Head) -> None:
    """Check a version-2 record's checksum.

    Raises:
        CorruptDataError: It fails.
    """
    if head.version == 2:
        check_sum(record, head.flags, head.priority, head.created_us)


def restate(record: bytes, head: Head) -> bytes:
    """The record with ``head``'s mutable fields (state, attempts, deadline) rewritten."""
    return head.pack() + record[HEADER.size :]


class Cipher:
    """AES-256-GCM with a caller-held 32-byte key; associated data binds a record to its slot."""

    CHECK = b"edgekit-sync-key-check"

    def __init__(self, key: bytes) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError as exc:
            raise BackendUnavailableError("cryptography", extra="crypto") from exc
        self._aead = AESGCM(bytes(key))

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        import os

        nonce = os.urandom(12)
        return nonce + bytes(self._aead.encrypt(nonce, data, aad))

    def decrypt(self, data: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None when the key (or the data) is wrong."""
        from cryptography.exceptions import InvalidTag

        try:
            return bytes(self._aead.decrypt(data[:12], data[12:], aad))
        except (InvalidTag, ValueError):
            return None


def encode_record(
    *,
    seq: int,
    payload: bytes,
    topic: bytes,
    key: bytes,
    headers: dict[str, str] | None,
    priority: int,
    created_us: int,
    compress_threshold: int | None,
    cipher: Cipher | None,
    queue_id: bytes,
) -> bytes:
    flags = 0
    body = payload
    if compress_threshold is not None and len(payload) >= compress_threshold:
        import lz4.block

        packed = lz4.block.compress(payload, store_size=False)
        if len(packed) < len(payload):
            body = packed
            flags |= FLAG_LZ4
    hbytes = encode_headers(headers)
    hlen = len(hbytes)
    if cipher is not None:
        body = cipher.encrypt(hbytes + body, queue_id + U64.pack(seq))
        hbytes = b""
        flags |= FLAG_AES
    head = _pack_header(
        FORMAT_VERSION, flags, READY, priority, 0, created_us, 0, len(topic), len(key), hlen,
        len(payload),
    )  # fmt: skip
    record = b"".join((head, topic, key, hbytes, body))
    return record + xxh3_64_sum(
        memoryview(record)[SUM_FROM:], sum_seed(flags, priority, created_us)
    )


def encode_headers(headers: dict[str, str] | None) -> bytes:
    """Headers as stored: compact JSON, or nothing."""
    return json.dumps(headers, separators=(",", ":")).encode() if headers else b""


def decode_body(
    record: bytes, head: Head, seq: int, cipher: Cipher | None, queue_id: bytes
) -> tuple[bytes, dict[str, str]]:
    """(payload, headers) of a record (its checksum checked)."""
    verify(record, head)
    rest = record[head.body_offset : head.end]
    if head.flags & FLAG_AES:
        if cipher is None:
            raise CorruptDataError(f"message {seq} is encrypted and the queue has no key")
        plain = cipher.decrypt(rest, queue_id + U64.pack(seq))
        if plain is None:
            raise CorruptDataError(f"message {seq} does not decrypt: wrong key or corrupted")
        rest = plain
    hbytes, body = rest[: head.headers_len], rest[head.headers_len :]
    if head.flags & FLAG_LZ4:
        import lz4.block

        try:
            body = lz4.block.decompress(body, uncompressed_size=head.raw_size)
        except Exception as exc:  # lz4 raises LZ4BlockError, a plain Exception subclass
            raise CorruptDataError(f"message {seq}: lz4 body does not decompress") from exc
    if len(body) != head.raw_size:
        raise CorruptDataError(
            f"message {seq}: payload is {len(body)} bytes, expected {head.raw_size}"
        )
    headers: dict[str, str] = {}
    if hbytes:
        try:
            headers = json.loads(hbytes)
        except ValueError as exc:
            raise CorruptDataError(f"message {seq}: headers are not JSON") from exc
    return body, headers


class Dbs:
    """The queue's LMDB database handles, by name (``msgs`` is the main database)."""

    __slots__ = ("dead", "errors", "kexp", "keys", "meta", "msgs", "ready", "timers", "topics")

    def __init__(self, handles: dict[str, Any]) -> None:
        self.msgs: Any = handles["msgs"]
        self.ready: Any = handles["ready"]
        self.timers: Any = handles["timers"]
        self.dead: Any = handles["dead"]
        self.keys: Any = handles["keys"]
        self.kexp: Any = handles["kexp"]
        self.topics: Any = handles["topics"]
        self.meta: Any = handles["meta"]
        self.errors: Any = handles["errors"]
