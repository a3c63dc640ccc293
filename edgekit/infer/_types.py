"""Tensor descriptions and the typed option dictionaries of the runtimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

import numpy as np

__all__ = ["LiteRTOptions", "OrtOptions", "Quantization", "TensorInfo"]


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
