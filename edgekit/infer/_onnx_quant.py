"""Scale and zero point of an ONNX model's quantized (int8/uint8) inputs and outputs.

ONNX keeps quantization parameters on the operators, not on the graph's inputs and
outputs: an int8/uint8 input is quantized with the ``scale``/``zero_point`` of the
``DequantizeLinear`` (or ``QLinear*``) nodes that read it, and an output with those of
the ``QuantizeLinear`` (or ``QLinear*``) node that writes it. They are read here from
constant initializers (or ``Constant`` nodes); a tensor whose readers disagree, or whose
parameters are computed at run time, gets none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from edgekit.infer._types import Quantization

__all__ = ["onnx_quantization"]

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
