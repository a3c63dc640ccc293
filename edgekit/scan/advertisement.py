"""BLE advertisement parsing: raw AD structures to :class:`Advertisement`.

An advertisement (or scan response) payload is a run of AD structures, each
``length (1 byte) | type (1 byte) | data (length - 1 bytes)``. Fields are named
as bleak's ``AdvertisementData`` names them, so a parsed payload can stand in for
what bleak hands to a detection callback. The five bleak fields agree with
``bluetooth_data_tools.parse_advertisement_data_tuple`` on every payload:
zero-length padding is skipped, a structure that overruns the payload or carries
no data is skipped (and reported in :attr:`Advertisement.malformed`), a complete
local name wins over a short one, and the last manufacturer-data record of one
company id wins.

:func:`parse_advertisement` is the one-at-a-time path (a scanner callback): pure
Python, no numba. It returns a read-only :class:`Advertisement` whose fields are
decoded on first access, and keeps the last :data:`PARSE_CACHE_SIZE` distinct
payloads, so a device repeating its bytes costs a cache hit.
:func:`parse_advertisements` parses many payloads in one numba pass over a packed
buffer and returns a columnar :class:`AdvertisementBatch` whose
:class:`Advertisement` objects are built only when asked for.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from edgekit._jit import lazy_kernels
from edgekit.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "AD_TYPES",
    "PARSE_CACHE_SIZE",
    "Advertisement",
    "AdvertisementBatch",
    "AdvertisementView",
    "encode_advertisement",
    "parse_advertisement",
    "parse_advertisements",
    "uuid16_to_str",
]

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"

#: ``edgekit.scan._kernels``, imported (with numba) on the first batch parse.
_kernels = lazy_kernels("scan")

#: Distinct payloads whose parsed :class:`Advertisement` :func:`parse_advertisement`
#: keeps (least recently used first out). A few hundred devices repeating their
#: bytes fit; at most about 1 kB each once decoded.
PARSE_CACHE_SIZE = 1024

_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")

#: AD type codes this parser decodes, by name (Bluetooth Core Supplement, part A).
AD_TYPES: dict[str, int] = {
    "flags": 0x01,
    "uuid16_incomplete": 0x02,
    "uuid16_complete": 0x03,
    "uuid32_incomplete": 0x04,
    "uuid32_complete": 0x05,
    "uuid128_incomplete": 0x06,
    "uuid128_complete": 0x07,
    "short_local_name": 0x08,
    "complete_local_name": 0x09,
    "tx_power_level": 0x0A,
    "service_data_uuid16": 0x16,
    "appearance": 0x19,
    "service_data_uuid32": 0x20,
    "service_data_uuid128": 0x21,
    "manufacturer_data": 0xFF,
}

_UUID16_CACHE: dict[int, str] = {}


def uuid16_to_str(value: int) -> str:
    """Full 128-bit UUID string of a 16-bit (or 32-bit) Bluetooth SIG UUID."""
    text = _UUID16_CACHE.get(value)
    if text is None:
        text = f"{value:08x}{BASE_UUID_SUFFIX}"
        if len(_UUID16_CACHE) < 70_000:
            _UUID16_CACHE[value] = text
    return text


_UUID128_CACHE: dict[bytes, str] = {}


def _uuid128_to_str(raw: bytes) -> str:
    text = _UUID128_CACHE.get(raw)
    if text is None:
        h = raw[::-1].hex()
        text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if len(_UUID128_CACHE) < 4096:  # devices repeat a few vendor UUIDs
            _UUID128_CACHE[raw] = text
    return text


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise InvalidInputError(
        "the containers of an Advertisement are read-only (parsed results are shared "
        "between callers); copy them first: list(adv.service_uuids), dict(adv.service_data)"
    )


class _FrozenList(list[_T]):
    """A ``list`` that refuses changes (equal to, and an instance of, ``list``)."""

    __slots__ = ()
    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


class _FrozenDict(dict[_K, _V]):
    """A ``dict`` that refuses changes (equal to, and an instance of, ``dict``)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    pop = popitem = clear = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


_EMPTY_LIST: list[Any] = _FrozenList()
_EMPTY_DICT: dict[Any, Any] = _FrozenDict()

#: Field names of :class:`Advertisement`, in order.
_FIELDS = (
    "local_name",
    "service_uuids",
    "service_data",
    "manufacturer_data",
    "tx_power",
    "flags",
    "appearance",
    "malformed",
    "raw",
)

_Decoded = tuple[
    "str | None",
    "list[str]",
    "dict[str, bytes]",
    "dict[int, bytes]",
    "int | None",
    "int | None",
    "int | None",
    "tuple[str, ...]",
]


class Advertisement:
    """One parsed BLE advertisement (advertising data plus scan response, if joined).

    Read-only: the attributes cannot be set, and ``service_uuids``,
    ``service_data`` and ``manufacturer_data`` are a ``list`` and ``dict`` that
    refuse changes (:class:`~edgekit.errors.InvalidInputError`), because
    :func:`parse_advertisement` hands the same object to every caller that
    parses the same bytes. Copy them (``dict(adv.manufacturer_data)``) or use
    :meth:`_replace` to change something. From :func:`parse_advertisement`, the
    fields are decoded from ``raw`` on the first read of any of them. Equality
    compares every field; iteration and unpacking yield the fields in order, as
    the ``NamedTuple`` this class replaced did.

    Attributes:
        local_name: complete (or, failing that, short) local name, UTF-8 with
            replacement characters; ``None`` when absent.
        service_uuids: advertised service UUIDs as full 128-bit strings, in order.
        service_data: service data by full 128-bit UUID string.
        manufacturer_data: manufacturer-specific data by Bluetooth SIG company id.
        tx_power: TX power level in dBm, or ``None``.
        flags: the AD flags byte (LE General Discoverable = 0x02, BR/EDR not
            supported = 0x04, ...), or ``None``.
        appearance: GAP appearance value (16 bits), or ``None``.
        malformed: one message per AD structure that could not be decoded.
        raw: the payload bytes as given.
    """

    __slots__ = _FIELDS
    _fields = _FIELDS
    local_name: str | None
    service_uuids: list[str]
    service_data: dict[str, bytes]
    manufacturer_data: dict[int, bytes]
    tx_power: int | None
    flags: int | None
    appearance: int | None
    malformed: tuple[str, ...]
    raw: bytes

    def __init__(
        self,
        local_name: str | None,
        service_uuids: Iterable[str],
        service_data: Mapping[str, bytes],
        manufacturer_data: Mapping[int, bytes],
        tx_power: int | None,
        flags: int | None = None,
        appearance: int | None = None,
        malformed: Iterable[str] = (),
        raw: bytes | bytearray | memoryview = b"",
    ) -> None:
        _set_raw(self, raw if type(raw) is bytes else bytes(raw))
        fields: _Decoded = (
            local_name,
            _FrozenList(service_uuids) if service_uuids else _EMPTY_LIST,
            _FrozenDict(service_data) if service_data else _EMPTY_DICT,
            _FrozenDict(manufacturer_data) if manufacturer_data else _EMPTY_DICT,
            tx_power,
            flags,
            appearance,
            tuple(malformed),
        )
        cls = type(self)  # the lazy class, called directly, builds a plain Advertisement
        _fill(self, fields, Advertisement if cls is _LazyAdvertisement else cls)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Advertisement is read-only (cannot set {name!r}); use _replace()")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Advertisement is read-only (cannot delete {name!r})")

    def __iter__(self) -> Iterator[Any]:
        return iter(
            (
                self.local_name,
                self.service_uuids,
                self.service_data,
                self.manufacturer_data,
                self.tx_power,
                self.flags,
                self.appearance,
                self.malformed,
                self.raw,
            )
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Advertisement):
            return NotImplemented
        if self.raw != other.raw:
            return False
        if type(self) is _LazyAdvertisement and type(other) is _LazyAdvertisement:
            return True  # the same bytes, neither decoded yet: they decode alike
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash((self.raw, self.local_name))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(_FIELDS, self, strict=True))
        return f"Advertisement({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        f = tuple(self)
        return (Advertisement, (f[0], list(f[1]), dict(f[2]), dict(f[3]), *f[4:]))

    def _asdict(self) -> dict[str, Any]:
        """The fields by name (the containers still read-only)."""
        return dict(zip(_FIELDS, self, strict=True))

    def _replace(self, **changes: Any) -> Advertisement:
        """A new :class:`Advertisement` with some fields changed.

        Raises:
            InvalidInputError: a name that is not a field.
        """
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise InvalidInputError(f"Advertisement has no field(s) {sorted(unknown)}")
        return Advertisement(**{**self._asdict(), **changes})

    def to_bytes(self) -> bytes:
        """Encode the fields back into AD structures (the inverse of :func:`parse_advertisement`).

        Order: flags, complete local name, TX power, appearance, service UUID
        lists (16-, 32-, 128-bit), service data, manufacturer data.

        Raises:
            InvalidInputError: a field does not fit an AD structure (over 254 bytes,
                a UUID that is not a UUID, a company id over 0xFFFF...).
        """
        return encode_advertisement(self)

    def as_bleak_tuple(
        self,
    ) -> tuple[str | None, list[str], dict[str, bytes], dict[int, bytes], int | None]:
        """The fields in ``bluetooth_data_tools.parse_advertisement_data_tuple`` order."""
        return (
            self.local_name,
            self.service_uuids,
            self.service_data,
            self.manufacturer_data,
            self.tx_power,
        )


# Attributes are slots, so a read is a slot read; writes go through the slot
# descriptors, as Advertisement.__setattr__ refuses them.
_SETTERS = tuple(getattr(Advertisement, name).__set__ for name in _FIELDS[:8])
_set_raw = Advertisement.raw.__set__  # type: ignore[attr-defined]
_set_class = object.__setattr__


def _fill(adv: Advertisement, fields: _Decoded, cls: type[Advertisement]) -> None:
    """Write ``fields`` into the slots of ``adv`` and give it class ``cls``."""
    s0, s1, s2, s3, s4, s5, s6, s7 = _SETTERS
    s0(adv, fields[0])
    s1(adv, fields[1])
    s2(adv, fields[2])
    s3(adv, fields[3])
    s4(adv, fields[4])
    s5(adv, fields[5])
    s6(adv, fields[6])
    s7(adv, fields[7])
    if type(adv) is not cls:
        _set_class(adv, "__class__", cls)


def _lazy_field(index: int) -> property:
    def read(self: Advertisement) -> Any:
        fields = _decode(self.raw)
        _fill(self, fields, Advertisement)
        return fields[index]

    return property(read, doc=f"Decodes the payload, then reads field {_FIELDS[index]!r}.")


# An Advertisement holding only ``raw``: its first field read decodes every
# field into the slots and turns it into a plain Advertisement (same slots, so
# the class can be swapped), whose later reads cost a slot read.
_LazyAdvertisement: type[Advertisement] = type(
    "_LazyAdvertisement",
    (Advertisement,),
    {
        "__slots__": (),
        "__module__": __name__,
        **{name: _lazy_field(i) for i, name in enumerate(_FIELDS[:8])},
    },
)

_new_adv: Any = object.__new__


def _lazy(raw: bytes) -> Advertisement:
    """An :class:`Advertisement` of ``raw`` (bytes) whose fields are decoded on first read."""
    adv: Advertisement = _new_adv(_LazyAdvertisement)
    _set_raw(adv, raw)
    return adv


def _uuid_bytes(text: str) -> bytes:
    """Shortest little-endian form of a UUID string (2, 4 or 16 bytes)."""
    try:
        value = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidInputError(f"{text!r} is not a UUID") from exc
    canonical = str(value)
    if canonical.endswith(BASE_UUID_SUFFIX):
        short = int(canonical[:8], 16)
        return short.to_bytes(2 if short <= 0xFFFF else 4, "little")
    return value.bytes[::-1]


def _structure(ad_type: int, data: bytes) -> bytes:
    if len(data) > 254:
        raise InvalidInputError(
            f"AD type 0x{ad_type:02x} data has {len(data)} bytes; at most 254 fit"
        )
    return bytes((len(data) + 1, ad_type)) + data


def encode_advertisement(adv: Advertisement) -> bytes:
    """AD structures for the fields of ``adv``; see :meth:`Advertisement.to_bytes`."""
    out = []
    if adv.flags is not None:
        out.append(_structure(0x01, bytes((adv.flags & 0xFF,))))
    if adv.local_name:  # an empty name has no AD structure (a bare type byte is malformed)
        out.append(_structure(0x09, adv.local_name.encode("utf-8")))
    if adv.tx_power is not None:
        if not -128 <= adv.tx_power <= 127:
            raise InvalidInputError(f"tx_power {adv.tx_power} dBm is outside -128..127")
        out.append(_structure(0x0A, (adv.tx_power & 0xFF).to_bytes(1, "little")))
    if adv.appearance is not None:
        out.append(_structure(0x19, (adv.appearance & 0xFFFF).to_bytes(2, "little")))
    groups: dict[int, bytes] = {2: b"", 4: b"", 16: b""}
    for text in adv.service_uuids:
        raw = _uuid_bytes(text)
        groups[len(raw)] += raw
    for size, ad_type in ((2, 0x03), (4, 0x05), (16, 0x07)):
        if groups[size]:
            out.append(_structure(ad_type, groups[size]))
    for text, data in adv.service_data.items():
        raw = _uuid_bytes(text)
        ad_type = {2: 0x16, 4: 0x20, 16: 0x21}[len(raw)]
        out.append(_structure(ad_type, raw + bytes(data)))
    for company, data in adv.manufacturer_data.items():
        if not 0 <= company <= 0xFFFF:
            raise InvalidInputError(f"company id {company} is outside 0..0xFFFF")
        out.append(_structure(0xFF, company.to_bytes(2, "little") + bytes(data)))
    return b"".join(out)


# Codes the parser and the kernel use for malformed structures.
_OVERRUN, _EMPTY, _TRAILING, _BAD_LENGTH = 1, 2, 3, 4


def _malformed_message(code: int, offset: int, ad_type: int) -> str:
    if code == _OVERRUN:
        return f"AD structure of type 0x{ad_type:02x} at byte {offset} overruns the payload"
    if code == _EMPTY:
        return f"AD structure of type 0x{ad_type:02x} at byte {offset} carries no data"
    if code == _TRAILING:
        return f"stray byte at {offset} after the last AD structure"
    return (
        f"AD structure of type 0x{ad_type:02x} at byte {offset} has a length invalid for its type"
    )


def _as_bytes(data: object) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidInputError(
        f"an advertisement payload must be bytes, bytearray or memoryview, not {type(data).__name__}"
    )


_parse_cached = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(_lazy)


def parse_advertisement(data: bytes | bytearray | memoryview) -> Advertisement:
    """Parse one advertisement payload (concatenated AD structures).

    The fields are decoded on first access, once, and the result is kept for
    the last :data:`PARSE_CACHE_SIZE` distinct payloads: a device that repeats
    its bytes gets the same (read-only) object back without a second decode.

    Args:
        data: the payload bytes (advertising data, optionally followed by the
            scan response).

    Returns:
        The :class:`Advertisement`; undecodable structures are listed in
        ``malformed`` and never raise.

    Raises:
        InvalidInputError: ``data`` is not bytes-like.
    """
    if type(data) is bytes:
        return _parse_cached(data)
    return _parse_cached(_as_bytes(data))


def _decode(raw: bytes) -> _Decoded:
    """The fields of ``raw`` (everything but ``raw``), in :class:`Advertisement` order."""
    local_name: str | None = None
    uuids: list[str] | None = None
    service_data: dict[str, bytes] | None = None
    mfr: dict[int, bytes] | None = None
    tx_power: int | None = None
    flags: int | None = None
    appearance: int | None = None
    malformed: list[str] | None = None
    cache = _UUID16_CACHE
    total = len(raw)
    pos = 0
    while pos < total:
        length = raw[pos]
        if length == 0:
            pos += 1
            continue
        if pos + 1 >= total:
            malformed = [*(malformed or ()), _malformed_message(_TRAILING, pos, 0)]
            break
        ad_type = raw[pos + 1]
        start = pos + 2
        end = pos + 1 + length
        here = pos
        pos = end
        if ad_type == 0:
            continue
        code = 0
        size = end - start
        if end > total:
            code = _OVERRUN
        elif size <= 0:
            code = _EMPTY
        elif ad_type == 0x01:
            if flags is None:
                flags = raw[start]
        elif ad_type == 0xFF:
            if size < 2:
                code = _BAD_LENGTH
            else:
                if mfr is None:
                    mfr = {}
                mfr[raw[start] | (raw[start + 1] << 8)] = raw[start + 2 : end]
        elif ad_type == 0x09 or (ad_type == 0x08 and local_name is None):
            local_name = raw[start:end].decode("utf-8", "replace")
        elif ad_type == 0x02 or ad_type == 0x03:
            if uuids is None:
                uuids = []
            for i in range(start, end - 1, 2):
                key = raw[i] | (raw[i + 1] << 8)
                uuids.append(cache.get(key) or uuid16_to_str(key))
            if size & 1:
                code = _BAD_LENGTH
        elif ad_type == 0x16:
            if size < 2:
                code = _BAD_LENGTH
            else:
                if service_data is None:
                    service_data = {}
                key = raw[start] | (raw[start + 1] << 8)
                service_data[cache.get(key) or uuid16_to_str(key)] = raw[start + 2 : end]
        elif ad_type == 0x0A:
            if size != 1:
                code = _BAD_LENGTH
            else:
                value = raw[start]
                tx_power = value - 256 if value >= 128 else value
        elif ad_type == 0x19:
            if size != 2:
                code = _BAD_LENGTH
            else:
                appearance = raw[start] | (raw[start + 1] << 8)
        elif ad_type == 0x04 or ad_type == 0x05:
            if uuids is None:
                uuids = []
            for i in range(start, end - 3, 4):
                uuids.append(uuid16_to_str(int.from_bytes(raw[i : i + 4], "little")))
            if size & 3:
                code = _BAD_LENGTH
        elif ad_type == 0x06 or ad_type == 0x07:
            if uuids is None:
                uuids = []
            for i in range(start, end - 15, 16):
                uuids.append(_uuid128_to_str(raw[i : i + 16]))
            if size & 15:
                code = _BAD_LENGTH
        elif ad_type == 0x20:
            if size < 4:
                code = _BAD_LENGTH
            else:
                if service_data is None:
                    service_data = {}
                key = int.from_bytes(raw[start : start + 4], "little")
                service_data[uuid16_to_str(key)] = raw[start + 4 : end]
        elif ad_type == 0x21:
            if size < 16:
                code = _BAD_LENGTH
            else:
                if service_data is None:
                    service_data = {}
                service_data[_uuid128_to_str(raw[start : start + 16])] = raw[start + 16 : end]
        if code:
            if malformed is None:
                malformed = []
            malformed.append(_malformed_message(code, here, ad_type))
    return (
        local_name,
        _FrozenList(uuids) if uuids else _EMPTY_LIST,
        _FrozenDict(service_data) if service_data else _EMPTY_DICT,
        _FrozenDict(mfr) if mfr else _EMPTY_DICT,
        tx_power,
        flags,
        appearance,
        () if malformed is None else tuple(malformed),
    )


class AdvertisementBatch(Sequence[Advertisement]):
    """Many parsed payloads held as columns; :class:`Advertisement` objects are built on access.

    Indexing or iterating yields :class:`Advertisement` objects equal to what
    :func:`parse_advertisement` returns for the same payload. The NumPy columns
    (:attr:`flags`, :attr:`tx_power`, :attr:`appearance`, :attr:`company_id`,
    :attr:`malformed_count`) answer bulk questions without building objects.
    """

    #: Sentinel in the integer columns for "absent".
    ABSENT = -32768

    def __init__(
        self,
        packed: bytes,
        offsets: npt.NDArray[np.int64],
        table: npt.NDArray[np.int64],
    ) -> None:
        self._packed = packed
        self._offsets = offsets
        self._table = table
        self._rows: list[list[int]] | None = None

    def __len__(self) -> int:
        return int(self._table.shape[0])

    @overload
    def __getitem__(self, index: int) -> Advertisement: ...

    @overload
    def __getitem__(self, index: slice) -> list[Advertisement]: ...

    def __getitem__(self, index: int | slice) -> Advertisement | list[Advertisement]:
        if isinstance(index, slice):
            return [self._build(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("advertisement index out of range")
        return self._build(index)

    def __iter__(self) -> Iterator[Advertisement]:
        return iter(self.to_list())

    def _column(self, j: int) -> npt.NDArray[np.int64]:
        return self._table[:, j]

    @property
    def flags(self) -> npt.NDArray[np.int64]:
        """AD flags per payload; :attr:`ABSENT` where there are none."""
        return self._column(3)

    @property
    def tx_power(self) -> npt.NDArray[np.int64]:
        """TX power level per payload in dBm; :attr:`ABSENT` where there is none."""
        return self._column(2)

    @property
    def appearance(self) -> npt.NDArray[np.int64]:
        """GAP appearance per payload; :attr:`ABSENT` where there is none."""
        return self._column(4)

    @property
    def company_id(self) -> npt.NDArray[np.int64]:
        """Company id of the first manufacturer-data record per payload; :attr:`ABSENT` where none."""
        return self._column(8)

    @property
    def uuid_count(self) -> npt.NDArray[np.int64]:
        """Number of service UUIDs advertised per payload."""
        return self._column(5)

    @property
    def service_data_count(self) -> npt.NDArray[np.int64]:
        """Number of service-data AD structures per payload (a repeated UUID counts each time)."""
        return self._column(6)

    @property
    def malformed_count(self) -> npt.NDArray[np.int64]:
        """Number of malformed AD structures per payload."""
        return self._column(7)

    def local_names(self) -> list[str | None]:
        """The local name of every payload (``None`` where absent)."""
        packed = self._packed
        out: list[str | None] = []
        for a, b in self._table[:, 0:2].tolist():
            out.append(None if a < 0 else packed[a:b].decode("utf-8", "replace"))
        return out

    def views(self) -> list[AdvertisementView]:
        """A cheap :class:`AdvertisementView` per payload (fields decoded on access)."""
        return [AdvertisementView(self, i) for i in range(len(self))]

    def _row(self, i: int) -> list[int]:
        rows = self._rows
        if rows is None:
            rows = self._rows = self._table.tolist()
        return rows[i]

    def to_list(self) -> list[Advertisement]:
        """Every payload as an :class:`Advertisement`."""
        packed = self._packed
        offsets = self._offsets.tolist()
        return [_lazy(packed[offsets[i] : offsets[i + 1]]) for i in range(len(self))]

    def _build(self, i: int) -> Advertisement:
        a, b = self._offsets[i : i + 2].tolist()
        return _lazy(self._packed[a:b])


_ABSENT = AdvertisementBatch.ABSENT


class AdvertisementView:
    """One payload of an :class:`AdvertisementBatch`, decoded field by field on access.

    Creating a view costs one small object; ``local_name``, ``tx_power``,
    ``flags``, ``appearance`` and ``raw`` read the batch's columns, and the
    container fields build the full :class:`Advertisement` once (cached).
    :meth:`to_advertisement` returns that object.
    """

    __slots__ = ("_adv", "_batch", "_i")

    def __init__(self, batch: AdvertisementBatch, index: int) -> None:
        self._batch = batch
        self._i = index
        self._adv: Advertisement | None = None

    def to_advertisement(self) -> Advertisement:
        """The full :class:`Advertisement` (built on first call)."""
        if self._adv is None:
            self._adv = self._batch[self._i]
        return self._adv

    def _scalar(self, column: int) -> int | None:
        value = self._batch._row(self._i)[column]
        return None if value == _ABSENT else value

    @property
    def local_name(self) -> str | None:
        """See :attr:`Advertisement.local_name`."""
        a, b = self._batch._row(self._i)[0:2]
        return None if a < 0 else self._batch._packed[a:b].decode("utf-8", "replace")

    @property
    def tx_power(self) -> int | None:
        """See :attr:`Advertisement.tx_power` (dBm)."""
        return self._scalar(2)

    @property
    def flags(self) -> int | None:
        """See :attr:`Advertisement.flags`."""
        return self._scalar(3)

    @property
    def appearance(self) -> int | None:
        """See :attr:`Advertisement.appearance`."""
        return self._scalar(4)

    @property
    def raw(self) -> bytes:
        """The payload bytes."""
        offsets = self._batch._offsets
        return self._batch._packed[int(offsets[self._i]) : int(offsets[self._i + 1])]

    @property
    def service_uuids(self) -> list[str]:
        """See :attr:`Advertisement.service_uuids`."""
        return self.to_advertisement().service_uuids

    @property
    def service_data(self) -> dict[str, bytes]:
        """See :attr:`Advertisement.service_data`."""
        return self.to_advertisement().service_data

    @property
    def manufacturer_data(self) -> dict[int, bytes]:
        """See :attr:`Advertisement.manufacturer_data`."""
        return self.to_advertisement().manufacturer_data

    @property
    def malformed(self) -> tuple[str, ...]:
        """See :attr:`Advertisement.malformed`."""
        return self.to_advertisement().malformed

    def __repr__(self) -> str:
        return f"<AdvertisementView {self._i} of {len(self._batch)}>"


def parse_advertisements(
    payloads: Iterable[bytes | bytearray | memoryview],
) -> AdvertisementBatch:
    """Parse many payloads in one compiled pass; see :class:`AdvertisementBatch`.

    Args:
        payloads: advertisement payloads (any iterable, a generator included),
            each bytes, bytearray or memoryview; a memoryview of any format
            counts in bytes (``memoryview(array("H", ...))`` is its raw bytes).

    Returns:
        A lazy, columnar batch; ``batch[i] == parse_advertisement(payloads[i])``.

    Raises:
        InvalidInputError: ``payloads`` is not iterable, or an element is not
            bytes, bytearray or memoryview.
    """
    import numpy as np

    k = _kernels()
    try:
        items = payloads if type(payloads) is list else list(payloads)
    except TypeError as exc:
        raise InvalidInputError(
            f"payloads must be an iterable of bytes-like, not {type(payloads).__name__}"
        ) from exc
    n = len(items)
    offsets = np.zeros(n + 1, dtype=np.int64)
    try:
        packed = b"".join(items)
        if n:
            np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=n), out=offsets[1:])
        ok = bool(offsets[-1] == len(packed))  # else len() counted items, not bytes
    except (TypeError, BufferError):
        ok = False
    if not ok:  # the slow path: check each payload, copy memoryviews to bytes
        items = list(items)  # never the caller's list
        for i, item in enumerate(items):
            if isinstance(item, memoryview):
                items[i] = item.tobytes()
            elif not isinstance(item, (bytes, bytearray)):
                raise InvalidInputError(
                    f"advertisement payload {i} must be bytes, bytearray or memoryview,"
                    f" not {type(item).__name__}"
                )
        packed = b"".join(items)
        np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=n), out=offsets[1:])
    buf = np.frombuffer(packed, dtype=np.uint8)
    table = np.empty((n, len(k.COLUMNS)), dtype=np.int64)
    k.parse_packed(buf, offsets, table)
    return AdvertisementBatch(packed, offsets, table)
