"""The ONNX Runtime backend: an ``InferenceSession`` behind the engine, and the scale and
zero point of an ONNX model's quantized (int8/uint8) inputs and outputs.

ONNX keeps quantization parameters on the operators, not on the graph's inputs and
outputs: an int8/uint8 input is quantized with the ``scale``/``zero_point`` of the
``DequantizeLinear`` (or ``QLinear*``) nodes that read it, and an output with those of
the ``QuantizeLinear`` (or ``QLinear*``) node that writes it. They are read here from
constant initializers (or ``Constant`` nodes); a tensor whose readers disagree, or whose
parameters are computed at run time, gets none.

``onnxruntime`` and ``onnx`` are imported when a session is first created.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from edgekit.errors import (
    BackendUnavailableError,
    InferenceError,
    InvalidInputError,
    ModelLoadError,
)
from edgekit.infer._source import ModelSource
from edgekit.infer.types import OrtOptions, Quantization, TensorInfo

__all__ = ["OrtBackend", "onnx_quantization"]

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(uint16)": "uint16",
    "tensor(int32)": "int32",
    "tensor(uint32)": "uint32",
    "tensor(int64)": "int64",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
}

_GRAPH_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def _ort_tensor_info(meta: Any) -> TensorInfo:
    dims: list[int | None] = []
    names: list[str | None] = []
    for d in meta.shape or ():
        if isinstance(d, int) and d >= 0:
            dims.append(d)
            names.append(None)
        else:
            dims.append(None)
            names.append(d if isinstance(d, str) else None)
    dtype = np.dtype(_ORT_TYPES.get(meta.type, "object"))
    return TensorInfo(meta.name, tuple(dims), dtype, None, tuple(names))


def _with_onnx_quantization(
    source: ModelSource, inputs: tuple[TensorInfo, ...], outputs: tuple[TensorInfo, ...]
) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """The int8/uint8 inputs and outputs with the scale and zero point the graph gives them."""

    def quantized(t: TensorInfo) -> bool:
        return t.dtype.kind in "iu" and t.dtype.itemsize == 1

    found = onnx_quantization(
        source.data,
        [t.name for t in inputs if quantized(t)],
        [t.name for t in outputs if quantized(t)],
    )
    return (
        tuple(dataclasses.replace(t, quantization=found.get(t.name)) for t in inputs),
        tuple(dataclasses.replace(t, quantization=found.get(t.name)) for t in outputs),
    )


def _import_ort() -> Any:
    first = "onnxruntime" not in sys.modules
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError("onnxruntime", extra="onnx", reason=str(exc)) from exc
    if first:  # the library's pages its load touched once (about 11 MB), before a session's
        from edgekit._memory import release_library_pages

        release_library_pages("onnxruntime")
    return onnxruntime


def _ort_load_error(label: str, exc: BaseException) -> ModelLoadError:
    text = str(exc)
    if "NOT_IMPLEMENTED" in text or "Could not find an implementation" in text:
        reason = "it uses an operator ONNX Runtime does not implement"
    elif "No Op registered" in text or "is not a registered function/op" in text:
        reason = "it uses an operator ONNX Runtime does not know (unsupported op or domain)"
    elif "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text:
        reason = "it is not a valid ONNX model (not an ONNX protobuf, or truncated)"
    else:
        reason = "ONNX Runtime could not load it"
    return ModelLoadError(f"{label}: {reason}: {text.strip()}")


class OrtBackend:
    """ONNX Runtime ``InferenceSession`` with one intra-op thread and no spinning by default."""

    kind = "onnxruntime"

    def __init__(self, source: ModelSource, *, threads: int, options: OrtOptions) -> None:
        ort = _import_ort()
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(options.get("intra_op_num_threads", threads))
        so.inter_op_num_threads = int(options.get("inter_op_num_threads", 1))
        spin = "1" if options.get("allow_spinning", False) else "0"
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        mode = options.get("execution_mode", "sequential")
        so.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL
            if mode == "parallel"
            else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        level = options.get("graph_optimization_level", "all")
        if level not in _GRAPH_LEVELS:
            raise InvalidInputError(
                f"graph_optimization_level must be one of {sorted(_GRAPH_LEVELS)}, not {level!r}"
            )
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _GRAPH_LEVELS[level])
        if "enable_mem_pattern" in options:
            so.enable_mem_pattern = bool(options["enable_mem_pattern"])
        if "enable_cpu_mem_arena" in options:
            so.enable_cpu_mem_arena = bool(options["enable_cpu_mem_arena"])
        so.log_severity_level = int(options.get("log_severity_level", 4))
        for key, value in options.get("session_config", {}).items():
            so.add_session_config_entry(str(key), str(value))
        providers = list(options.get("providers", ["CPUExecutionProvider"]))
        unknown = set(options) - set(OrtOptions.__annotations__)
        if unknown:
            raise InvalidInputError(
                f"unknown ort_options {sorted(unknown)}; known: {sorted(OrtOptions.__annotations__)}"
            )
        model: Any = str(source.path) if source.path is not None else source.data
        try:
            self.session = ort.InferenceSession(model, sess_options=so, providers=providers)
        except Exception as exc:
            raise _ort_load_error(source.label, exc) from exc
        _release_load_memory()
        self.inputs = tuple(_ort_tensor_info(m) for m in self.session.get_inputs())
        self.outputs = tuple(_ort_tensor_info(m) for m in self.session.get_outputs())
        if any(t.dtype.kind in "iu" and t.dtype.itemsize == 1 for t in self.inputs + self.outputs):
            self.inputs, self.outputs = _with_onnx_quantization(source, self.inputs, self.outputs)
        self.stateful = False
        self.output_names = [o.name for o in self.outputs]
        # The C binding skips the Python wrapper's per-call checks; the engine validates.
        sess = getattr(self.session, "_sess", None)
        self._run: Callable[..., list[np.ndarray]] = (
            sess.run if sess is not None and hasattr(sess, "run") else self.session.run
        )

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(self.output_names, feeds, None)

    def reset(self) -> None:
        """ONNX Runtime sessions hold no state between runs."""

    def close(self) -> None:
        self._run = _closed_run
        self.session = None


def _release_load_memory() -> None:
    """Give back what creating a session used and running it does not: the heap's free
    pages, and ONNX Runtime's pages touched once registering every operator (a few MB
    and 10-20 MB of resident set; what a run needs faults back in)."""
    from edgekit._memory import release_library_pages, trim_heap

    trim_heap()
    release_library_pages("onnxruntime")


def _closed_run(*args: Any) -> list[np.ndarray]:
    raise InferenceError("the engine is closed")


# --- quantization parameters -----------------------------------------------------------

#: Per operator that reads quantized tensors: (input index, its scale's, its zero point's).
_READS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "DequantizeLinear": ((0, 1, 2),),
    "QLinearConv": ((0, 1, 2), (3, 4, 5)),
    "QLinearMatMul": ((0, 1, 2), (3, 4, 5)),
    "QLinearAdd": ((0, 1, 2), (3, 4, 5)),
    "QLinearMul": ((0, 1, 2), (3, 4, 5)),
}
#: Per operator that writes a quantized output: (its scale's input, its zero point's).
_WRITES: dict[str, tuple[int, int]] = {
    "QuantizeLinear": (1, 2),
    "QLinearConv": (6, 7),
    "QLinearMatMul": (6, 7),
    "QLinearAdd": (6, 7),
    "QLinearMul": (6, 7),
}


def onnx_quantization(
    model: bytes, inputs: Iterable[str], outputs: Iterable[str]
) -> dict[str, Quantization]:
    """Quantization of each named graph input and output that has one.

    Returns an empty dict when ``onnx`` is not installed or the graph cannot be read
    (ONNX Runtime has loaded the model, so that only leaves the parameters unknown).
    """
    try:
        return _read(model, list(inputs), list(outputs))
    except Exception:
        return {}


def _read(model: bytes, inputs: list[str], outputs: list[str]) -> dict[str, Quantization]:
    import onnx

    graph = onnx.load_model_from_string(model).graph  # (external data is not loaded)
    # Constant tensors by name, converted to arrays only when a parameter is read.
    consts: dict[str, Any] = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    consts[node.output[0]] = attr.t
    found: dict[str, Quantization] = {}
    for name in inputs:
        params = {
            _params(node, scale, zero, consts)
            for node in graph.node
            for at, scale, zero in _READS.get(node.op_type, ())
            if at < len(node.input) and node.input[at] == name
        }
        if len(params) == 1 and (q := params.pop()) is not None:
            found[name] = q
    for name in outputs:
        for node in graph.node:
            if name in node.output and node.op_type in _WRITES:
                q = _params(node, *_WRITES[node.op_type], consts)
                if q is not None:
                    found[name] = q
    return found


def _params(node: Any, scale_at: int, zero_at: int, consts: dict[str, Any]) -> Quantization | None:
    """The node's constant scale and zero point at those input positions, or None."""
    from onnx import numpy_helper

    inputs = list(node.input)
    if scale_at >= len(inputs) or inputs[scale_at] not in consts:
        return None
    scale = numpy_helper.to_array(consts[inputs[scale_at]]).astype(np.float64).ravel()
    if zero_at < len(inputs) and inputs[zero_at]:
        if inputs[zero_at] not in consts:
            return None
        zero = numpy_helper.to_array(consts[inputs[zero_at]]).astype(np.int64).ravel()
    else:
        zero = np.zeros(scale.size, np.int64)  # (the default zero point)
    if scale.size != zero.size or scale.size == 0:
        return None
    axis = 1
    for attr in node.attribute:
        if attr.name == "axis":
            axis = int(attr.i)
    return Quantization(
        tuple(float(s) for s in scale), tuple(int(z) for z in zero), axis if scale.size > 1 else 0
    )
