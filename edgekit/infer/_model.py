"""Model bytes: loading, format sniffing, digest, and a bounds-checked TFLite op scan."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgekit.errors import InvalidInputError, ModelLoadError

__all__ = [
    "ModelSource",
    "load_model_source",
    "sniff_format",
    "tflite_operator_codes",
    "validate_tflite",
]

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
        codes = validate_tflite(data, label=label)
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

    def vector(self, pos: int, width: int = 4) -> tuple[int, int]:
        """(first element position, length) of the vector referenced at ``pos``."""
        start = self.deref(pos)
        length = self.u32(start)
        if start + 4 + width * length > self.size:
            raise self.fail("vector runs past the end")
        return start + 4, length

    def u64(self, pos: int) -> int:
        if pos < 0 or pos + 8 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(struct.unpack_from("<Q", self.data, pos)[0])

    def u8(self, pos: int) -> int:
        if pos < 0 or pos + 1 > self.size:
            raise self.fail(f"offset {pos} out of range")
        return self.data[pos]

    def table(self, pos: int) -> int:
        """The table referenced at ``pos``, with its vtable checked to lie inside the file."""
        table = self.deref(pos)
        vtable = table - self.i32(table)
        vsize = self.u16(vtable)
        if vsize < 4 or vsize % 2 or vtable + vsize > self.size:
            raise self.fail("bad vtable")
        return table

    def ints(self, pos: int, what: str) -> list[int]:
        """The int32 vector referenced at ``pos``."""
        first, length = self.vector(pos)
        if length > _MAX_ITEMS:
            raise self.fail(f"{what} has {length} entries")
        return list(struct.unpack_from(f"<{length}i", self.data, first))

    def bytes_vector(self, pos: int) -> tuple[int, int]:
        """(first byte position, length) of the ubyte vector referenced at ``pos``."""
        start = self.deref(pos)
        length = self.u32(start)
        if start + 4 + length > self.size:
            raise self.fail("byte vector runs past the end")
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


_MAX_ITEMS = 1 << 24
#: Most bytes one tensor may declare (2 GiB): larger shapes are refused before allocation.
MAX_TENSOR_BYTES = 1 << 31
#: Bytes per element of the fixed-size TFLite tensor types (schema.fbs ``TensorType``).
_TYPE_SIZES = {
    0: 4,  # FLOAT32
    1: 2,  # FLOAT16
    2: 4,  # INT32
    3: 1,  # UINT8
    4: 8,  # INT64
    6: 1,  # BOOL
    7: 2,  # INT16
    8: 8,  # COMPLEX64
    9: 1,  # INT8
    10: 8,  # FLOAT64
    11: 16,  # COMPLEX128
    12: 8,  # UINT64
    15: 4,  # UINT32
    16: 2,  # UINT16
    18: 2,  # BFLOAT16
}
#: Zero points a quantized tensor of each integer type can hold (INT8, UINT8, INT16).
_ZERO_POINT_RANGE = {9: (-128, 127), 3: (0, 255), 7: (-32768, 32767)}
#: Highest TensorType value edgekit accepts (STRING, RESOURCE, VARIANT, INT4 have no fixed size).
_MAX_TYPE = 20


def validate_tflite(data: bytes, *, label: str = "model") -> list[tuple[int, str | None]]:
    """Walk a TFLite flatbuffer with bounds checks before any runtime parses it.

    Checks the root table, every operator code, buffer (inline data and external
    ``offset``/``size`` inside the file), subgraph (input/output tensor indices),
    tensor (shape, type, buffer index, quantization vectors, declared size at most
    :data:`MAX_TENSOR_BYTES`, constant data of exactly the declared size), operator
    (opcode index; input, output and intermediate tensor indices in range, ``-1``
    for an omitted optional input) and signature (tensor and subgraph indices).

    Returns:
        The ``(builtin_code, custom_code)`` of every operator code.

    Raises:
        ModelLoadError: naming the first structure that is out of range.
    """
    r = _Reader(data, label)
    codes = tflite_operator_codes(data, label=label)
    root = r.deref(0)
    r.table(0)
    n_codes = len(codes)
    # buffers
    buffer_sizes: list[int | None] = []  # bytes of constant data, None when empty
    buffers_field = r.field(root, 4)
    if buffers_field:
        first, count = r.vector(buffers_field)
        for i in range(count):
            buf = r.table(first + 4 * i)
            size: int | None = None
            data_field = r.field(buf, 0)
            if data_field:
                _, length = r.bytes_vector(data_field)
                size = length or None
            off_field, size_field = r.field(buf, 1), r.field(buf, 2)
            offset = r.u64(off_field) if off_field else 0
            ext = r.u64(size_field) if size_field else 0
            if offset > 1:
                if offset + ext > r.size:
                    raise r.fail(
                        f"buffer {i} ({ext} bytes at offset {offset}) lies outside the file"
                    )
                size = ext or size
            buffer_sizes.append(size)
    n_buffers = len(buffer_sizes)
    subgraphs_field = r.field(root, 2)
    if not subgraphs_field:
        raise r.fail("no subgraphs")
    first_sg, n_subgraphs = r.vector(subgraphs_field)
    if n_subgraphs == 0:
        raise r.fail("no subgraphs")
    tensor_counts: list[int] = []
    for g in range(n_subgraphs):
        sg = r.table(first_sg + 4 * g)
        where = f"subgraph {g}"
        n_tensors = 0
        tensors_field = r.field(sg, 0)
        if tensors_field:
            first_t, n_tensors = r.vector(tensors_field)
            for t in range(n_tensors):
                _check_tensor(r, r.table(first_t + 4 * t), f"{where} tensor {t}", buffer_sizes)
        tensor_counts.append(n_tensors)
        for slot, what in ((1, "input"), (2, "output")):
            f = r.field(sg, slot)
            for idx in r.ints(f, f"{where} {what}s") if f else ():
                if not 0 <= idx < n_tensors:
                    raise r.fail(f"{where} {what} tensor {idx} of {n_tensors}")
        ops_field = r.field(sg, 3)
        if ops_field:
            first_op, n_ops = r.vector(ops_field)
            for o in range(n_ops):
                op = r.table(first_op + 4 * o)
                opcode_field = r.field(op, 0)
                opcode = r.u32(opcode_field) if opcode_field else 0
                if opcode >= n_codes:
                    raise r.fail(f"{where} operator {o} uses opcode {opcode} of {n_codes}")
                for slot, what in ((1, "input"), (2, "output"), (8, "intermediate")):
                    f = r.field(op, slot)
                    for idx in r.ints(f, what) if f else ():
                        if not -1 <= idx < n_tensors or (idx == -1 and slot != 1):
                            raise r.fail(f"{where} operator {o} {what} tensor {idx} of {n_tensors}")
                options = r.field(op, 4)
                if options:
                    r.table(options)
                custom = r.field(op, 5)
                if custom:
                    r.bytes_vector(custom)
                mutating = r.field(op, 7)
                if mutating:
                    r.vector(mutating, width=1)
    signatures_field = r.field(root, 7)
    if signatures_field:
        first_s, n_sigs = r.vector(signatures_field)
        for s in range(n_sigs):
            sig = r.table(first_s + 4 * s)
            sg_field = r.field(sig, 4)
            sg_index = r.u32(sg_field) if sg_field else 0
            if sg_index >= n_subgraphs:
                raise r.fail(f"signature {s} names subgraph {sg_index} of {n_subgraphs}")
            for slot in (0, 1):
                f = r.field(sig, slot)
                if not f:
                    continue
                first_m, n_maps = r.vector(f)
                for m in range(n_maps):
                    tmap = r.table(first_m + 4 * m)
                    name = r.field(tmap, 0)
                    if name:
                        r.string(name)
                    idx_field = r.field(tmap, 1)
                    idx = r.u32(idx_field) if idx_field else 0
                    if idx >= tensor_counts[sg_index]:
                        raise r.fail(f"signature {s} maps tensor {idx}")
    metadata_field = r.field(root, 6)
    if metadata_field:
        first_m, n_meta = r.vector(metadata_field)
        for m in range(n_meta):
            meta = r.table(first_m + 4 * m)
            buf_field = r.field(meta, 1)
            if buf_field and r.u32(buf_field) >= n_buffers:
                raise r.fail(f"metadata {m} names buffer {r.u32(buf_field)} of {n_buffers}")
    return codes


def _check_tensor(r: _Reader, tensor: int, where: str, buffer_sizes: list[int | None]) -> None:
    shape_field = r.field(tensor, 0)
    shape = r.ints(shape_field, f"{where} shape") if shape_field else []
    if any(d < -1 for d in shape):
        raise r.fail(f"{where} has shape {shape}")
    type_field = r.field(tensor, 1)
    ttype = r.i8(type_field) if type_field else 0
    if not 0 <= ttype <= _MAX_TYPE:
        raise r.fail(f"{where} has unknown type {ttype}")
    elements = 1
    for d in shape:
        elements *= max(d, 1)
    itemsize = _TYPE_SIZES.get(ttype)
    if itemsize is not None and elements * itemsize > MAX_TENSOR_BYTES:
        raise r.fail(f"{where} declares shape {shape}: {elements * itemsize} bytes")
    buffer_field = r.field(tensor, 2)
    buffer = r.u32(buffer_field) if buffer_field else 0
    if buffer >= len(buffer_sizes) and (buffer_field or buffer_sizes):
        raise r.fail(f"{where} names buffer {buffer} of {len(buffer_sizes)}")
    size = buffer_sizes[buffer] if buffer < len(buffer_sizes) else None
    if (
        size is not None
        and itemsize is not None
        and -1 not in shape
        and size != elements * itemsize
    ):
        raise r.fail(f"{where} has {size} bytes of data for shape {shape} ({elements * itemsize})")
    name = r.field(tensor, 3)
    if name:
        r.string(name)
    quant_field = r.field(tensor, 4)
    if quant_field:
        q = r.table(quant_field)
        n_scale = n_zero = 0
        for slot, width in ((0, 4), (1, 4), (2, 4), (3, 8)):
            f = r.field(q, slot)
            if f:
                first, n = r.vector(f, width=width)
                if slot == 2:
                    n_scale = n
                elif slot == 3:
                    n_zero = n
                    bounds = _ZERO_POINT_RANGE.get(ttype)
                    if bounds is not None:
                        zeros = struct.unpack_from(f"<{n}q", r.data, first)
                        if any(not bounds[0] <= z <= bounds[1] for z in zeros):
                            raise r.fail(f"{where} has a zero point outside {bounds}")
        if n_scale > 1:
            dim_field = r.field(q, 6)
            dim = r.i32(dim_field) if dim_field else 0
            if not 0 <= dim < len(shape) or shape[dim] != n_scale:
                raise r.fail(f"{where} has {n_scale} scales along axis {dim} of shape {shape}")
        if n_zero and n_scale and n_zero != n_scale:
            raise r.fail(f"{where} has {n_scale} scales but {n_zero} zero points")
    signature_field = r.field(tensor, 7)
    if signature_field:
        signature = r.ints(signature_field, f"{where} shape signature")
        if len(signature) != len(shape) or any(d < -1 for d in signature):
            raise r.fail(f"{where} has shape signature {signature} for shape {shape}")
