"""The public types of :mod:`edgekit.infer`: tensor descriptions, in-memory models and the
typed option dictionaries of the runtimes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict

import numpy as np

from edgekit.errors import InvalidInputError

__all__ = ["LiteRTOptions", "MemoryModel", "OrtOptions", "Quantization", "TensorInfo"]


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: ``real = (q - zero_point) * scale``.

    ``scale`` and ``zero_point`` hold one value for per-tensor quantization and one
    value per channel along ``axis`` for per-axis quantization.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_tensor(self) -> bool:
        """True when one scale and zero point cover the whole tensor."""
        return len(self.scale) == 1


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output.

    ``shape`` holds ``None`` for a dynamic dimension; ``dim_names`` the symbolic
    names the model gives its dynamic dimensions (``"batch"``), or ``None``.
    ``quantization`` is set for int8/uint8 (or other integer) tensors that carry
    a scale and zero point.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype[np.generic]
    quantization: Quantization | None = None
    dim_names: tuple[str | None, ...] = field(default=(), compare=False)

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def dynamic(self) -> bool:
        """True when at least one dimension is dynamic."""
        return any(d is None for d in self.shape)

    def describe(self) -> str:
        """``name: float32[?, 512]`` style summary."""
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        text = f"{self.name}: {self.dtype}[{dims}]"
        if self.quantization is not None:
            q = self.quantization
            if q.per_tensor:
                text += f" (scale={q.scale[0]:.6g}, zero_point={q.zero_point[0]})"
            else:
                text += f" (per-axis over axis {q.axis}, {len(q.scale)} channels)"
        return text


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


class OrtOptions(TypedDict, total=False):
    """Options for the ONNX Runtime backend (``ort_options=``).

    Unset keys keep edgekit's defaults: one intra-op and one inter-op thread, no
    spinning, sequential execution, all graph optimizations, CPU provider, and
    ``log_severity_level`` 4 (fatal only: errors reach the caller as exceptions,
    not as log lines). ``session_config`` entries go to
    ``SessionOptions.add_session_config_entry`` as they are.
    """

    intra_op_num_threads: int
    inter_op_num_threads: int
    allow_spinning: bool
    execution_mode: Literal["sequential", "parallel"]
    graph_optimization_level: Literal["disable", "basic", "extended", "all"]
    providers: list[str]
    enable_mem_pattern: bool
    enable_cpu_mem_arena: bool
    log_severity_level: int
    session_config: dict[str, str]


class LiteRTOptions(TypedDict, total=False):
    """Options for the LiteRT backend (``litert_options=``).

    ``num_threads`` defaults to the engine's ``threads`` (1). ``op_resolver``
    picks the kernel set: ``"auto"`` (built-in kernels with the XNNPACK delegate),
    ``"builtin_without_default_delegates"`` or ``"builtin_ref"`` (reference
    kernels). ``per_thread`` gives every calling thread its own interpreter
    (stateless models only) instead of serializing calls on one.
    """

    num_threads: int
    op_resolver: Literal["auto", "builtin", "builtin_ref", "builtin_without_default_delegates"]
    per_thread: bool
    runtime: Literal["auto", "ai_edge_litert", "tflite_runtime"]
