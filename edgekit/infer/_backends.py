"""The runtimes behind :class:`~edgekit.infer.InferenceEngine`: ONNX Runtime, LiteRT, in-memory.

Each backend exposes ``inputs``/``outputs`` (:class:`TensorInfo`), ``stateful``,
``run(feeds) -> list of outputs in output order``, ``reset()`` and ``close()``.
Feeds reach a backend already validated by the engine; runtime errors are
translated into the ``EdgekitError`` tree by the engine.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from edgekit.errors import BackendUnavailableError, InvalidInputError, ModelLoadError
from edgekit.infer._model import ModelSource
from edgekit.infer._types import LiteRTOptions, OrtOptions, Quantization, TensorInfo

__all__ = ["Backend", "LiteRTBackend", "MemoryBackend", "MemoryModel", "OrtBackend"]


class Backend(Protocol):
    kind: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    stateful: bool

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


# --- ONNX Runtime ----------------------------------------------------------------------

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
    from edgekit.infer._onnx_quant import onnx_quantization

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
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError("onnxruntime", extra="onnx", reason=str(exc)) from exc
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


def _closed_run(*args: Any) -> list[np.ndarray]:
    from edgekit.errors import InferenceError

    raise InferenceError("the engine is closed")


# --- LiteRT ----------------------------------------------------------------------------

_RESOLVERS = {
    "auto": "AUTO",
    "builtin": "BUILTIN",
    "builtin_ref": "BUILTIN_REF",
    "builtin_without_default_delegates": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
}


def _interpreter_modules(runtime: str) -> list[tuple[str, Any]]:
    """The interpreter modules to try, in order."""
    found: list[tuple[str, Any]] = []
    errors: list[str] = []
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
        found.append((name, module))
    if not found:
        raise BackendUnavailableError(
            "LiteRT (ai-edge-litert)", extra="litert", reason="; ".join(errors) or None
        )
    return found


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


# --- in-memory ---------------------------------------------------------------------------


class MemoryModel:
    """A model made of a Python function, for tests and notebooks without a runtime.

    ``fn`` receives a dict of validated input arrays and returns a dict (or a
    sequence in output order) of arrays. ``inputs``/``outputs`` declare the
    tensors exactly as a real model would. ``stateful=True`` marks a model whose
    results depend on earlier calls (a result cache is refused for it).

    Example:
        >>> import numpy as np
        >>> from edgekit.infer import InferenceEngine, MemoryModel, TensorInfo
        >>> double = MemoryModel(
        ...     lambda feeds: {"y": feeds["x"] * 2},
        ...     inputs=[TensorInfo("x", (None, 4), np.dtype("float32"))],
        ...     outputs=[TensorInfo("y", (None, 4), np.dtype("float32"))],
        ... )
        >>> engine = InferenceEngine(double)
        >>> engine.run(np.ones((1, 4), np.float32))["y"]
        array([[2., 2., 2., 2.]], dtype=float32)
    """

    def __init__(
        self,
        fn: Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray] | Sequence[np.ndarray]],
        *,
        inputs: Sequence[TensorInfo],
        outputs: Sequence[TensorInfo],
        name: str = "memory",
        stateful: bool = False,
    ) -> None:
        if not inputs or not outputs:
            raise InvalidInputError("a MemoryModel needs at least one input and one output")
        self.fn = fn
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.name = name
        self.stateful = stateful

    def digest(self) -> str:
        """An identity for cache keys: the name, the tensors and the function's id."""
        import xxhash

        text = f"memory:{self.name}:{id(self.fn)}:{self.inputs}:{self.outputs}"
        return xxhash.xxh3_128_hexdigest(text.encode())


class MemoryBackend:
    """Runs a :class:`MemoryModel` in-process."""

    kind = "memory"

    def __init__(self, model: MemoryModel) -> None:
        self.model = model
        self.inputs = model.inputs
        self.outputs = model.outputs
        self.stateful = model.stateful
        self._names = [o.name for o in model.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        result = self.model.fn(dict(feeds))
        if isinstance(result, Mapping):
            try:
                values = [result[n] for n in self._names]
            except KeyError as exc:
                raise InvalidInputError(
                    f"MemoryModel {self.model.name!r} returned no output {exc.args[0]!r}"
                ) from exc
        else:
            values = list(result)
            if len(values) != len(self._names):
                raise InvalidInputError(
                    f"MemoryModel {self.model.name!r} returned {len(values)} outputs, "
                    f"expected {len(self._names)}"
                )
        return [np.asarray(v) for v in values]

    def reset(self) -> None:
        """Nothing to reset: state, if any, lives in the user's function."""

    def close(self) -> None:
        """Nothing to release."""
