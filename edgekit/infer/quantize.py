"""Dynamic int8 quantization of ONNX models, with a size and accuracy report."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from edgekit.errors import BackendUnavailableError, InvalidInputError, ModelLoadError

__all__ = ["QuantizationReport", "quantize_dynamic"]


@dataclass(frozen=True)
class QuantizationReport:
    """What :func:`quantize_dynamic` did.

    ``max_abs_diff`` and ``mean_abs_diff`` map each output name to the largest and
    mean absolute difference between the float and the quantized model over the
    sample inputs given (empty without samples).
    """

    src: Path
    dst: Path
    bytes_before: int
    bytes_after: int
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    mean_abs_diff: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Size after over size before (0.25 means four times smaller)."""
        return self.bytes_after / self.bytes_before if self.bytes_before else 0.0

    def __str__(self) -> str:
        text = (
            f"{self.src.name}: {self.bytes_before:,} -> {self.bytes_after:,} bytes "
            f"({self.ratio:.0%})"
        )
        if self.max_abs_diff:
            diffs = ", ".join(f"{k} max |diff| {v:.3g}" for k, v in self.max_abs_diff.items())
            text += f"; {diffs}"
        return text


def quantize_dynamic(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    samples: Sequence[Mapping[str, np.ndarray]] | Mapping[str, np.ndarray] | None = None,
    weight_type: Literal["int8", "uint8"] = "int8",
    per_channel: bool = False,
) -> QuantizationReport:
    """Quantize the weights of the ONNX model ``src`` to 8 bits into ``dst``.

    Uses ``onnxruntime.quantization.quantize_dynamic``: weights are stored as
    int8 (or uint8) and activations are quantized on the fly at run time, so the
    model keeps float inputs and outputs. ``samples`` (one feeds dict or a list
    of them) are run through both models to report the output difference.

    Raises:
        BackendUnavailableError: onnxruntime or onnx is not installed (extra ``onnx``).
        ModelLoadError: ``src`` is not an ONNX model that can be quantized.
    """
    src_path, dst_path = Path(src), Path(dst)
    if not src_path.is_file():
        raise ModelLoadError(f"model file {str(src_path)!r} does not exist")
    if src_path.resolve() == dst_path.resolve():
        raise InvalidInputError("dst must differ from src")
    if weight_type not in ("int8", "uint8"):
        raise InvalidInputError(f"weight_type must be 'int8' or 'uint8', not {weight_type!r}")
    try:
        from onnxruntime.quantization import QuantType
        from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic
    except ImportError as exc:
        raise BackendUnavailableError(
            "onnxruntime.quantization (needs onnx)", extra="onnx", reason=str(exc)
        ) from exc
    qtype = QuantType.QInt8 if weight_type == "int8" else QuantType.QUInt8
    try:
        ort_quantize_dynamic(
            str(src_path), str(dst_path), weight_type=qtype, per_channel=per_channel
        )
    except Exception as exc:
        raise ModelLoadError(f"{src_path.name}: cannot be quantized: {exc}") from exc
    report = QuantizationReport(
        src_path, dst_path, src_path.stat().st_size, dst_path.stat().st_size
    )
    if samples is None:
        return report
    batch = [samples] if isinstance(samples, Mapping) else list(samples)
    from edgekit.infer.engine import InferenceEngine

    with (
        InferenceEngine(src_path, warmup=0) as before,
        InferenceEngine(dst_path, warmup=0) as after,
    ):
        worst: dict[str, float] = {}
        total: dict[str, float] = {}
        count: dict[str, int] = {}
        for feeds in batch:
            a, b = before.run(feeds), after.run(feeds)
            for name in a:
                diff = np.abs(np.asarray(a[name], np.float64) - np.asarray(b[name], np.float64))
                worst[name] = max(worst.get(name, 0.0), float(diff.max(initial=0.0)))
                total[name] = total.get(name, 0.0) + float(diff.sum())
                count[name] = count.get(name, 0) + diff.size
    report.max_abs_diff.update(worst)
    report.mean_abs_diff.update({k: total[k] / max(count[k], 1) for k in total})
    return report
