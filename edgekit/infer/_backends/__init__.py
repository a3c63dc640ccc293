"""The runtimes behind :class:`~edgekit.infer.InferenceEngine`, one module each, and the
one selector that picks among them.

- :mod:`.onnx`: ONNX Runtime (and the quantization parameters of ONNX graphs).
- :mod:`.litert`: LiteRT or tflite-runtime (and the structural check of TFLite files).
- :mod:`.memory`: a :class:`~edgekit.infer.MemoryModel`, a Python function.

Every backend has ``kind``, ``inputs``/``outputs`` (:class:`~edgekit.infer.TensorInfo`),
``stateful``, ``run(feeds) -> list of outputs in output order``, ``reset()`` and
``close()`` (:class:`Backend`). Feeds reach a backend already validated by the engine.
Load errors of a runtime become ``ModelLoadError`` here; run errors are translated by
the engine. No runtime is imported until a backend is created.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, Protocol, cast, get_args

import numpy as np

from edgekit.errors import InvalidInputError, ModelLoadError
from edgekit.infer._backends.litert import LiteRTBackend, checked_source
from edgekit.infer._backends.memory import MemoryBackend
from edgekit.infer._backends.onnx import OrtBackend
from edgekit.infer._source import ModelSource, read_model
from edgekit.infer.types import LiteRTOptions, MemoryModel, OrtOptions, TensorInfo

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendName",
    "Kind",
    "ModelLike",
    "check_name",
    "load_model_source",
    "open_backend",
    "select_backend",
]

#: Backend names :class:`~edgekit.infer.InferenceEngine` accepts: ``"auto"`` (by content),
#: a runtime, or an alias (``"onnx"`` of ``"onnxruntime"``, ``"tflite"`` of ``"litert"``).
BackendName = Literal["auto", "onnxruntime", "onnx", "litert", "tflite", "memory"]
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)
#: The backends themselves (the ``kind`` of each).
Kind = Literal["onnxruntime", "litert", "memory"]
_KINDS: dict[str, Kind] = {
    "onnxruntime": "onnxruntime",
    "onnx": "onnxruntime",
    "litert": "litert",
    "tflite": "litert",
    "memory": "memory",
}

ModelLike = str | os.PathLike[str] | bytes | bytearray | memoryview | MemoryModel


class Backend(Protocol):
    """One runtime with one model loaded (``kind``: ``"onnxruntime"``, ``"litert"``, ``"memory"``)."""

    kind: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    stateful: bool

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


def check_name(name: object) -> None:
    """Raise ``InvalidInputError`` unless ``name`` is one of :data:`BACKENDS`."""
    if name not in BACKENDS:
        raise InvalidInputError(f"unknown backend {name!r}; expected one of {BACKENDS}")


def load_model_source(
    model: str | os.PathLike[str] | bytes | bytearray | memoryview,
) -> ModelSource:
    """Read a model from a path or bytes, sniff its format and hash it; a TFLite model is
    also checked structurally and its state operators found (:func:`.litert.checked_source`)."""
    source = read_model(model)
    return checked_source(source) if source.format == "tflite" else source


def select_backend(
    model: ModelLike, name: str, *, expected_digest: str | None = None
) -> tuple[Kind, ModelSource | MemoryModel]:
    """The backend that runs ``model`` under the backend ``name``, and the model read.

    ``"auto"`` picks by content: ``"memory"`` for a :class:`~edgekit.infer.MemoryModel`,
    ``"litert"`` when bytes 4..8 are the TFLite identifier ``TFL3``, ``"onnxruntime"``
    otherwise. A model file is read, checked (:func:`load_model_source`) and compared
    with ``expected_digest`` before any runtime sees it.
    """
    check_name(name)
    if isinstance(model, MemoryModel):
        if name not in ("auto", "memory"):
            raise InvalidInputError(f"a MemoryModel runs on the memory backend, not {name!r}")
        return "memory", model
    if name == "memory":
        raise InvalidInputError("the memory backend runs a MemoryModel, not a model file")
    source = load_model_source(model)
    if expected_digest is not None and source.digest != expected_digest.lower():
        raise ModelLoadError(
            f"{source.label}: digest {source.digest} differs from the expected "
            f"{expected_digest} (corrupt or wrong file)"
        )
    kind = (
        _KINDS[name] if name != "auto" else "litert" if source.format == "tflite" else "onnxruntime"
    )
    if kind == "onnxruntime" and source.format == "tflite":
        raise InvalidInputError(f"{source.label} is a TFLite model; use backend='litert' or 'auto'")
    if kind == "litert" and source.format != "tflite":
        raise ModelLoadError(
            f"{source.label} is not a TFLite model (no TFL3 identifier at bytes 4..8)"
        )
    return kind, source


def open_backend(
    model: ModelSource | MemoryModel, kind: Kind, *, threads: int, options: Mapping[str, Any]
) -> Backend:
    """The ``kind`` backend loaded with ``model``, as :func:`select_backend` gave them.

    ``threads`` and ``options`` (:class:`~edgekit.infer.OrtOptions` or
    :class:`~edgekit.infer.LiteRTOptions`) are the runtime's; a memory backend has none.
    """
    if isinstance(model, MemoryModel):
        return MemoryBackend(model)
    if kind == "onnxruntime":
        return OrtBackend(model, threads=threads, options=cast(OrtOptions, options))
    return LiteRTBackend(model, threads=threads, options=cast(LiteRTOptions, options))
