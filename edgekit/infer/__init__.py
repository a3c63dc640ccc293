"""One inference engine over ONNX Runtime and LiteRT, with a result cache,
micro-batching, warm-up, hot swap and latency statistics.

- :class:`InferenceEngine`: loads an ONNX or TFLite model (picked by content),
  validates feeds, runs, caches, micro-batches, swaps models and keeps statistics.
- :class:`ResultCache`: outputs of repeated inputs, keyed by model digest and xxh3-128
  of each input.
- :class:`MemoryModel`: a Python function declared as a model, for tests and notebooks.
- :func:`quantize_dynamic`: int8 weights for an ONNX model, with a size and accuracy report.

Importing this package imports no runtime: ONNX Runtime and LiteRT are imported
when an engine first needs them.

Public modules: ``engine``, ``types`` (tensors, in-memory models, runtime options),
``cache``, ``quantize``, ``stats``. Private: ``_backends`` (one module per runtime,
``onnx``, ``litert``, ``memory``, and the selector), ``_source`` (model bytes),
``_loaded`` (a loaded model's validation, batching and quantization tables),
``_batching``, ``_probe``.
"""

from __future__ import annotations

from edgekit.infer.cache import CacheInfo, ResultCache
from edgekit.infer.engine import BACKENDS, InferenceEngine
from edgekit.infer.quantize import QuantizationReport, quantize_dynamic
from edgekit.infer.stats import EngineStats
from edgekit.infer.types import LiteRTOptions, MemoryModel, OrtOptions, Quantization, TensorInfo

__all__ = [
    "BACKENDS",
    "CacheInfo",
    "EngineStats",
    "InferenceEngine",
    "LiteRTOptions",
    "MemoryModel",
    "OrtOptions",
    "Quantization",
    "QuantizationReport",
    "ResultCache",
    "TensorInfo",
    "quantize_dynamic",
]
