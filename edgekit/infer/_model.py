"""Model bytes: loading, format sniffing, digest, and a bounds-checked TFLite op scan."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgekit.errors import InvalidInputError, ModelLoadError

__all__ = ["ModelSource", "load_model_source", "sniff_format", "tflite_operator_codes"]

ModelFormat = Literal["onnx", "tflite"]

#: TFLite builtin operator codes of resource variables (tensorflow/lite/schema/schema.fbs).
VAR_HANDLE = 142
READ_VARIABLE = 143
ASSIGN_VARIABLE = 144
STATE_OPS = {
    VAR_HANDLE: "VAR_HANDLE",
    READ_VARIABLE: "READ_VARIABLE",
    ASSIGN_VARIABLE: "ASSIGN_VARIABLE",
}
CUSTOM = 32


@dataclass(frozen=True)
class ModelSource:
    """A model's bytes with what edgekit learned from them before any runtime saw them."""

    data: bytes
    path: Path | None
    format: ModelFormat
    digest: str
    state_ops: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The file name, or ``<N bytes>`` for in-memory models."""
        return self.path.name if self.path is not None else f"<{len(self.data)} bytes>"


def sniff_format(data: bytes) -> ModelFormat:
    """``"tflite"`` when bytes 4..8 are the flatbuffer identifier ``TFL3``, else ``"onnx"``."""
    return "tflite" if data[4:8] == b"TFL3" else "onnx"


def _digest(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def load_model_source(
    model: str | os.PathLike[str] | bytes | bytearray | memoryview,
) -> ModelSource:
    """Read a model from a path or bytes; sniff its format; hash it; scan TFLite ops."""
    path: Path | None = None
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
    elif isinstance(model, (str, os.PathLike)):
        path = Path(model)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ModelLoadError(f"model file {str(path)!r} does not exist") from exc
        except IsADirectoryError as exc:
            raise ModelLoadError(f"model path {str(path)!r} is a directory, not a file") from exc
        except OSError as exc:
            raise ModelLoadError(f"cannot read model file {str(path)!r}: {exc}") from exc
    else:
        raise InvalidInputError(f"model must be a path or bytes, not {type(model).__name__}")
    label = path.name if path is not None else f"<{len(data)} bytes>"
    if len(data) < 8:
        raise ModelLoadError(f"{label} is not a model: only {len(data)} bytes")
    fmt = sniff_format(data)
    state_ops: tuple[str, ...] = ()
    if fmt == "tflite":
        codes = tflite_operator_codes(data, label=label)
        state_ops = tuple(sorted({STATE_OPS[c] for c, _ in codes if c in STATE_OPS}))
    return ModelSource(data, path, fmt, _digest(data), state_ops)


class _Reader:
    """Bounds-checked little-endian reads from a flatbuffer."""

    def __init__(self, data: bytes, label: str) -> None:
        self.data = data
        self.size = len(data)
        self.label = label

    def fail(self, what: str) -> ModelLoadError:
        return ModelLoadError(
            f"{self.label} is not a valid TFLite model (truncated or corrupt flatbuffer: {what})"
        )

    def u32(self, pos: int) -> int:
        if pos < 0 or pos + 4 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(struct.unpack_from("<I", self.data, pos)[0])

    def i32(self, pos: int) -> int:
        if pos < 0 or pos + 4 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(struct.unpack_from("<i", self.data, pos)[0])

    def u16(self, pos: int) -> int:
        if pos < 0 or pos + 2 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(struct.unpack_from("<H", self.data, pos)[0])

    def i8(self, pos: int) -> int:
        if pos < 0 or pos + 1 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(struct.unpack_from("<b", self.data, pos)[0])

    def field(self, table: int, index: int) -> int:
        """Absolute position of field ``index`` of the table at ``table``, or 0 when absent."""
        vtable = table - self.i32(table)
        vsize = self.u16(vtable)
        if vsize < 4 or vsize % 2:
            raise self.fail("bad vtable")
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return 0
        off = self.u16(vtable + slot)
        return table + off if off else 0

    def deref(self, pos: int) -> int:
        target = pos + self.u32(pos)
        if target >= self.size:
            raise self.fail(f"reference {target} past the end")
        return target

    def vector(self, pos: int) -> tuple[int, int]:
        """(first element position, length) of the vector referenced at ``pos``."""
        start = self.deref(pos)
        length = self.u32(start)
        if start + 4 + 4 * length > self.size:
            raise self.fail("vector runs past the end")
        return start + 4, length

    def string(self, pos: int) -> str:
        start = self.deref(pos)
        length = self.u32(start)
        if start + 4 + length > self.size:
            raise self.fail("string runs past the end")
        return self.data[start + 4 : start + 4 + length].decode("utf-8", "replace")


def tflite_operator_codes(data: bytes, *, label: str = "model") -> list[tuple[int, str | None]]:
    """The ``(builtin_code, custom_code)`` of every operator code a TFLite model declares.

    Raises:
        ModelLoadError: the flatbuffer is truncated or an offset points outside it.
    """
    reader = _Reader(data, label)
    if data[4:8] != b"TFL3":
        raise reader.fail("missing the TFL3 identifier")
    root = reader.deref(0)
    codes_field = reader.field(root, 1)
    if not codes_field:
        return []
    first, count = reader.vector(codes_field)
    out: list[tuple[int, str | None]] = []
    for i in range(count):
        table = reader.deref(first + 4 * i)
        deprecated = reader.field(table, 0)
        custom = reader.field(table, 1)
        builtin = reader.field(table, 3)
        code = max(
            reader.i8(deprecated) if deprecated else 0,
            reader.i32(builtin) if builtin else 0,
        )
        out.append((code, reader.string(custom) if custom else None))
    return out
