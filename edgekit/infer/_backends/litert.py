"""The LiteRT backend: a LiteRT (or tflite-runtime) interpreter behind the engine, and a
bounds-checked walk of the TFLite flatbuffer that runs before any runtime parses it.

``ai_edge_litert`` (or ``tflite_runtime``) is imported when an interpreter is first created.
"""

from __future__ import annotations

import dataclasses
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from edgekit.errors import BackendUnavailableError, InvalidInputError, ModelLoadError
from edgekit.infer._source import ModelSource
from edgekit.infer.types import LiteRTOptions, Quantization, TensorInfo

__all__ = [
    "LiteRTBackend",
    "checked_source",
    "tflite_operator_codes",
    "validate_tflite",
]

# --- interpreter ---------------------------------------------------------------------------

_RESOLVERS = {
    "auto": "AUTO",
    "builtin": "BUILTIN",
    "builtin_ref": "BUILTIN_REF",
    "builtin_without_default_delegates": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
}


def _interpreter_modules(runtime: str) -> Iterator[tuple[str, Any]]:
    """The interpreter modules to try, in order, each imported only when the ones before
    it did not serve (a working LiteRT does not load tflite-runtime's library too)."""
    errors: list[str] = []
    found = False
    names = ["ai_edge_litert", "tflite_runtime"] if runtime == "auto" else [runtime]
    for name in names:
        if name not in ("ai_edge_litert", "tflite_runtime"):
            raise InvalidInputError(
                f"litert_options runtime must be 'auto', 'ai_edge_litert' or 'tflite_runtime', not {name!r}"
            )
        try:
            module = __import__(f"{name}.interpreter", fromlist=["Interpreter"])
        except Exception as exc:
            errors.append(f"{name}: {exc}")
            continue
        found = True
        yield name, module
    if not found:
        raise BackendUnavailableError(
            "LiteRT (ai-edge-litert)", extra="litert", reason="; ".join(errors) or None
        )


def _release_load_memory(runtime: str) -> None:
    """Give back what building the interpreter used and running it does not: the heap's
    free pages and the runtime library's pages touched once at load (what a run needs
    faults back in)."""
    from edgekit._memory import release_library_pages, trim_heap

    trim_heap()
    release_library_pages(f"/{runtime}/")


def _litert_quantization(detail: Mapping[str, Any]) -> Quantization | None:
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", ()), dtype=np.float64).ravel()
    zeros = np.asarray(params.get("zero_points", ()), dtype=np.int64).ravel()
    if scales.size == 0:
        return None
    if zeros.size != scales.size:
        zeros = np.resize(zeros if zeros.size else np.zeros(1, np.int64), scales.size)
    return Quantization(
        tuple(float(s) for s in scales),
        tuple(int(z) for z in zeros),
        int(params.get("quantized_dimension", 0)),
    )


def _litert_tensor_info(detail: Mapping[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature")
    if signature is None or len(signature) != len(detail["shape"]):
        signature = detail["shape"]
    shape = tuple(None if int(d) < 0 else int(d) for d in signature)
    return TensorInfo(
        str(detail["name"]),
        shape,
        np.dtype(detail["dtype"]),
        _litert_quantization(detail),
        tuple(None for _ in shape),
    )


class _Interp:
    """One interpreter with bound fast-path methods of its native wrapper.

    After wrapping, only these bound methods may touch the interpreter: holding
    the native wrapper makes the public ``invoke()`` refuse to run.
    """

    def __init__(self, interpreter: Any, in_idx: list[int], out_idx: list[int]) -> None:
        self.interpreter = interpreter
        wrapper = interpreter._interpreter
        self.set_tensor: Callable[[int, np.ndarray], None] = wrapper.SetTensor
        self.invoke: Callable[[], None] = wrapper.Invoke
        self.get_tensor: Callable[..., np.ndarray] = wrapper.GetTensor
        try:
            self.get_tensor(out_idx[0], 0)
            self.two_arg = True
        except TypeError:  # tflite-runtime's older wrapper: GetTensor(index)
            self.two_arg = False
        except Exception:  # arguments accepted, tensor not readable yet
            self.two_arg = True
        self.resize: Callable[..., None] = wrapper.ResizeInputTensor
        self.allocate: Callable[[], None] = wrapper.AllocateTensors
        self.shapes: dict[int, tuple[int, ...] | None] = dict.fromkeys(in_idx)


class LiteRTBackend:
    """A LiteRT (TFLite) interpreter.

    Thread safety: a LiteRT interpreter must not be used from two threads at once.
    By default the backend holds one interpreter and serializes calls with a lock
    (``invoke`` releases the GIL, so other Python threads keep running meanwhile).
    With ``litert_options={"per_thread": True}`` each calling thread gets its own
    interpreter, created on its first call (stateless models only: a stateful
    model's state would be split between threads).
    """

    kind = "litert"

    def __init__(self, source: ModelSource, *, threads: int, options: LiteRTOptions) -> None:
        unknown = set(options) - set(LiteRTOptions.__annotations__)
        if unknown:
            raise InvalidInputError(
                f"unknown litert_options {sorted(unknown)}; known: {sorted(LiteRTOptions.__annotations__)}"
            )
        self.stateful = bool(source.state_ops)
        self.per_thread = bool(options.get("per_thread", False))
        if self.per_thread and self.stateful:
            raise InvalidInputError(
                f"{source.label} keeps state in resource variables ({', '.join(source.state_ops)}): "
                "per_thread interpreters would split that state between threads; leave per_thread off"
            )
        num_threads = int(options.get("num_threads", threads))
        resolver = options.get("op_resolver", "auto")
        if resolver not in _RESOLVERS:
            raise InvalidInputError(
                f"op_resolver must be one of {sorted(_RESOLVERS)}, not {resolver!r}"
            )
        data = source.data
        label = source.label
        last_error: BaseException | None = None
        broken: list[str] = []
        interpreter: Any = None
        for name, module in _interpreter_modules(options.get("runtime", "auto")):
            resolver_type = getattr(module.OpResolverType, _RESOLVERS[resolver])

            def factory(module: Any = module, resolver_type: Any = resolver_type) -> Any:
                it = module.Interpreter(
                    model_content=data,
                    num_threads=num_threads,
                    experimental_op_resolver_type=resolver_type,
                )
                it.allocate_tensors()
                return it

            try:
                interpreter = factory()
            except Exception as exc:
                if _is_runtime_failure(exc):
                    # Installed but unable to build any interpreter (for example a
                    # tflite-runtime wheel built against NumPy 1 under NumPy 2).
                    broken.append(
                        f"{name} is installed but its interpreter does not construct "
                        f"({_root_cause(exc)})"
                    )
                    continue
                last_error = exc
                if name == "tflite_runtime" or _is_model_error(exc):
                    break
                continue
            self.runtime = name
            self._factory = factory
            break
        if interpreter is None:
            if last_error is None:
                raise BackendUnavailableError(
                    "LiteRT (ai-edge-litert)", extra="litert", reason="; ".join(broken)
                )
            raise _litert_load_error(label, last_error) from last_error
        try:
            in_details = interpreter.get_input_details()
            out_details = interpreter.get_output_details()
            self.inputs = tuple(_litert_tensor_info(d) for d in in_details)
            self.outputs = tuple(_litert_tensor_info(d) for d in out_details)
        except Exception as exc:  # corrupt names, types or shapes
            raise ModelLoadError(f"{label}: corrupt tensor metadata: {exc}") from exc
        if not self.inputs or not self.outputs:
            raise ModelLoadError(f"{label}: the model declares no inputs or no outputs")
        _release_load_memory(self.runtime)
        self._in = [(t.name, int(d["index"])) for t, d in zip(self.inputs, in_details, strict=True)]
        self._out_idx = [int(d["index"]) for d in out_details]
        self._dynamic = {t.name for t in self.inputs if t.dynamic}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._main = self._wrap(interpreter)
        self._bind()

    def _bind(self) -> None:
        """Install the fastest ``run`` for this configuration (an instance attribute)."""
        if self.per_thread or self._dynamic or not self._main.two_arg:
            self.run = self._run_general  # type: ignore[method-assign]
            return
        it = self._main
        lock = self._lock
        set_tensor, invoke, get = it.set_tensor, it.invoke, it.get_tensor
        ins = tuple(self._in)
        outs = tuple(self._out_idx)
        if len(ins) == 1 and len(outs) == 1:  # the common shape (microWakeWord): no loops
            (name0, index0), out0 = ins[0], outs[0]
            acquire, release = lock.acquire, lock.release

            def run_one(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
                acquire()
                try:
                    set_tensor(index0, feeds[name0])
                    invoke()
                    return [get(out0, 0)]
                finally:
                    release()

            self.run = run_one  # type: ignore[method-assign]
            return

        def run(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
            with lock:
                for name, index in ins:
                    set_tensor(index, feeds[name])
                invoke()
                return [get(i, 0) for i in outs]

        self.run = run  # type: ignore[method-assign]

    def _wrap(self, interpreter: Any) -> _Interp:
        return _Interp(interpreter, [i for _, i in self._in], self._out_idx)

    def _interp(self) -> _Interp:
        if not self.per_thread:
            return self._main
        it: _Interp | None = getattr(self._local, "interp", None)
        if it is None:
            it = self._wrap(self._factory())
            self._local.interp = it
        return it

    def _resize(self, it: _Interp, feeds: Mapping[str, np.ndarray]) -> None:
        changed = False
        for name, index in self._in:
            if name in self._dynamic:
                shape = feeds[name].shape
                if it.shapes[index] != shape:
                    it.resize(index, np.asarray(shape, dtype=np.int32), False)
                    it.shapes[index] = shape
                    changed = True
        if changed:
            it.allocate()

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Set the inputs, invoke, read the outputs (replaced per instance by :meth:`_bind`)."""
        return self._run_general(feeds)

    def _run_general(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if self.per_thread:
            return self._run_on(self._interp(), feeds)
        with self._lock:
            return self._run_on(self._main, feeds)

    def _run_on(self, it: _Interp, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if self._dynamic:
            self._resize(it, feeds)
        set_tensor = it.set_tensor
        for name, index in self._in:
            set_tensor(index, feeds[name])
        it.invoke()
        get = it.get_tensor
        if it.two_arg:
            return [get(i, 0) for i in self._out_idx]
        return [get(i) for i in self._out_idx]

    def reset(self) -> None:
        """Recreate the interpreter(s): resource variables go back to their initial values.

        (``reset_all_variables`` does not reset resource variables, so a fresh
        interpreter is the only reliable reset.)
        """
        with self._lock:
            self._main = self._wrap(self._factory())
            self._local = threading.local()
            self._bind()

    def close(self) -> None:
        with self._lock:
            self._local = threading.local()


def _is_runtime_failure(exc: BaseException) -> bool:
    """True when an interpreter failed for reasons of the runtime, not of the model.

    A broken native extension surfaces as an ImportError somewhere in the chain (a
    NumPy ABI mismatch raises ``ImportError: numpy.core.multiarray failed to import``
    inside the wrapper, which CPython reports as a SystemError).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (ImportError, SystemError)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _root_cause(exc: BaseException) -> str:
    """The innermost exception of a chain, as ``Type: message``."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return f"{type(exc).__name__}: {exc}"


def _is_model_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(
        marker in text
        for marker in ("Didn't find op", "unresolved custom op", "Could not", "Model provided")
    )


def _litert_load_error(label: str, exc: BaseException) -> ModelLoadError:
    text = str(exc).strip()
    if (
        "Didn't find op" in text
        or "unresolved custom op" in text
        or "Encountered unresolved" in text
    ):
        reason = "it uses an operator LiteRT does not implement"
    elif (
        "Model provided" in text
        or "flatbuffer" in text.lower()
        or "buffer" in text.split(":")[0].lower()
    ):
        reason = "it is not a valid TFLite model (truncated or corrupt)"
    else:
        reason = "LiteRT could not load it"
    return ModelLoadError(f"{label}: {reason}: {text}")


# --- flatbuffer validation -------------------------------------------------------------

#: TFLite builtin operator codes of resource variables (tensorflow/lite/schema/schema.fbs).
VAR_HANDLE = 142
READ_VARIABLE = 143
ASSIGN_VARIABLE = 144
STATE_OPS = {
    VAR_HANDLE: "VAR_HANDLE",
    READ_VARIABLE: "READ_VARIABLE",
    ASSIGN_VARIABLE: "ASSIGN_VARIABLE",
}


def checked_source(source: ModelSource) -> ModelSource:
    """``source`` validated structurally (:func:`validate_tflite`), with its state operators.

    Raises:
        ModelLoadError: naming the first structure of the flatbuffer that is out of range.
    """
    codes = validate_tflite(source.data, label=source.label)
    state_ops = tuple(sorted({STATE_OPS[c] for c, _ in codes if c in STATE_OPS}))
    return dataclasses.replace(source, state_ops=state_ops)


_U64, _U32, _I32, _U16, _I8 = map(struct.Struct, ("<Q", "<I", "<i", "<H", "<b"))


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

    def _number(self, fmt: struct.Struct, pos: int) -> int:
        if pos < 0 or pos + fmt.size > self.size:
            raise self.fail(f"offset {pos} out of range")
        return int(fmt.unpack_from(self.data, pos)[0])

    def u64(self, pos: int) -> int:
        return self._number(_U64, pos)

    def u32(self, pos: int) -> int:
        return self._number(_U32, pos)

    def i32(self, pos: int) -> int:
        return self._number(_I32, pos)

    def u16(self, pos: int) -> int:
        return self._number(_U16, pos)

    def i8(self, pos: int) -> int:
        return self._number(_I8, pos)

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

    def vector(self, pos: int, width: int = 4, what: str = "vector") -> tuple[int, int]:
        """(first element position, length) of the vector referenced at ``pos``."""
        start = self.deref(pos)
        length = self.u32(start)
        if start + 4 + width * length > self.size:
            raise self.fail(f"{what} runs past the end")
        return start + 4, length

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
        return self.vector(pos, 1, "byte vector")

    def string(self, pos: int) -> str:
        first, length = self.vector(pos, 1, "string")
        return self.data[first : first + length].decode("utf-8", "replace")


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
