"""Real and built models for the infer tests, examples and benchmarks.

The real ones come from PyPI packages: Silero VAD's ONNX files from ``silero-vad``
(located without importing it: importing it pulls torch) and the four int8
microWakeWord TFLite models of ``pymicro-wakeword``. The built ones are made with
``onnx.helper``: a trivial Add, an MLP with a dynamic batch, and a model with an
operator no runtime has.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

WAKE_WORDS = {
    "okay_nabu": "okay nabu",
    "hey_jarvis": "hey jarvis",
    "hey_mycroft": "hey mycroft",
    "alexa": "alexa",
}


def silero_path(name: str = "silero_vad.onnx") -> Path:
    """Path of one of Silero VAD's ONNX files, found without importing silero_vad."""
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None and spec.submodule_search_locations, "silero-vad is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    assert path.is_file(), path
    return path


def wakeword_path(name: str = "okay_nabu") -> Path:
    """Path of one of the int8 microWakeWord TFLite models edgekit ships (pymicro-wakeword's)."""
    from edgekit.pipelines.wakeword import MODELS_DIR

    path = MODELS_DIR / f"{name}.tflite"
    assert path.is_file(), path
    return path


def silero_feeds(chunk: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One Silero VAD call: 64 context + 512 new samples at 16 kHz, zero state."""
    x = np.zeros((1, 576), np.float32) if chunk is None else chunk.reshape(1, -1)
    return {
        "input": x.astype(np.float32),
        "state": np.zeros((2, 1, 128), np.float32),
        "sr": np.array(16000, dtype=np.int64),
    }


def _serialize(graph: object) -> bytes:
    """An opset-13, IR-version-8 model of ``graph`` as bytes."""
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def add_model(size: int = 16) -> bytes:
    """``z = x + y`` on float32 ``[1, size]``: the cheapest model there is."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, size])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, size])
    graph = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"])], "add", [x, y], [z])
    return _serialize(graph)


def qdq_relu_model() -> bytes:
    """uint8 ``[1, 4]`` in -> DequantizeLinear (0.5, 10) -> Relu -> QuantizeLinear
    (0.25, 3) -> uint8 out: quantization parameters that live on the operators."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 4])
    inits = [
        helper.make_tensor("xs", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("xz", TensorProto.UINT8, [], [10]),
        helper.make_tensor("ys", TensorProto.FLOAT, [], [0.25]),
        helper.make_tensor("yz", TensorProto.UINT8, [], [3]),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
        helper.make_node("Relu", ["xf"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "qdq_relu", [x], [y], initializer=inits)
    return _serialize(graph)


def qlinear_matmul_model() -> bytes:
    """int8 ``[1, 3]`` times a constant int8 ``[3, 2]`` with QLinearMatMul -> int8 ``[1, 2]``."""
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.INT8, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 2])
    inits = [
        helper.make_tensor("as", TensorProto.FLOAT, [], [0.1]),
        helper.make_tensor("az", TensorProto.INT8, [], [-2]),
        helper.make_tensor("w", TensorProto.INT8, [3, 2], [1, -1, 2, 0, -3, 4]),
        helper.make_tensor("ws", TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor("wz", TensorProto.INT8, [], [0]),
        helper.make_tensor("ys", TensorProto.FLOAT, [], [0.02]),
        helper.make_tensor("yz", TensorProto.INT8, [], [1]),
    ]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "w", "ws", "wz", "ys", "yz"], ["y"])
    graph = helper.make_graph([node], "qlinear_matmul", [a], [y], initializer=inits)
    return _serialize(graph)


def mlp_model(
    n_in: int = 256, hidden: int = 512, n_out: int = 16, *, batch: int | None = None, seed: int = 0
) -> bytes:
    """A float32 MLP ``n_in -> hidden -> hidden -> n_out`` (ReLU) with a dynamic batch axis.

    ``batch=1`` fixes the batch dimension at 1 (a model that cannot be batched).
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    dims = [n_in, hidden, hidden, n_out]
    inits, nodes = [], []
    current = "x"
    for i in range(3):
        w = (rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        b = (rng.standard_normal(dims[i + 1]) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]))
        out = "y" if i == 2 else f"a{i}"
        nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [out if i == 2 else f"h{i}"]))
        if i < 2:
            nodes.append(helper.make_node("Relu", [f"h{i}"], [out]))
        current = out
    bdim: int | str = "batch" if batch is None else batch
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [bdim, n_in])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [bdim, n_out])
    graph = helper.make_graph(nodes, "mlp", [x], [y], initializer=inits)
    return _serialize(graph)


def conv1d_model(
    n_mels: int = 40, frames: int = 49, channels: int = 64, n_out: int = 12, *, seed: int = 0
) -> bytes:
    """A keyword-spotting shaped 1-D CNN with a dynamic batch axis (float32).

    ``[batch, n_mels, frames]`` -> Conv1d(k=3) -> ReLU -> Conv1d(k=3) -> ReLU ->
    GlobalAveragePool -> Flatten -> Gemm -> ``[batch, n_out]``: the layers of the
    small CNN keyword spotters, with random weights.
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> object:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        array = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        return numpy_helper.from_array(array, name)

    inits = [
        weight("w0", channels, n_mels, 3),
        weight("b0", channels),
        weight("w1", channels, channels, 3),
        weight("b1", channels),
        weight("w2", n_out, channels),
        weight("b2", n_out),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_mels, frames])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])
    graph = helper.make_graph(nodes, "kws_cnn", [x], [y], initializer=inits)
    return _serialize(graph)


def unsupported_op_model() -> bytes:
    """A model whose one node is ``com.example.edgekit::Frobnicate``, which no runtime has."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example.edgekit")
    graph = helper.make_graph([node], "frob", [x], [y])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example.edgekit", 1)],
    )
    model.ir_version = 8
    return model.SerializeToString()


def mlp_reference(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """The MLP computed with NumPy from its own initializers (float64), for checks."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(model_bytes)
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    h = x.astype(np.float64)
    for i in range(3):
        h = h @ w[f"w{i}"] + w[f"b{i}"]
        if i < 2:
            h = np.maximum(h, 0)
    return h


def tflite_add_model(
    size: int = 4, *, dynamic_batch: bool = False, custom_op: str | None = None
) -> bytes:
    """A float32 TFLite model ``z = x + y`` on ``[1, size]`` built with LiteRT's flatbuffer schema.

    ``dynamic_batch`` marks the first dimension as dynamic (``shape_signature`` -1);
    ``custom_op`` replaces ADD by a custom operator of that name (which LiteRT lacks).
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def tensor(name: str, buffer: int) -> object:
        t = schema.TensorT()
        t.name = name
        t.shape = [1, size]
        t.shapeSignature = [-1 if dynamic_batch else 1, size]
        t.type = schema.TensorType.FLOAT32
        t.buffer = buffer
        return t

    code = schema.OperatorCodeT()
    if custom_op is None:
        code.builtinCode = schema.BuiltinOperator.ADD
        code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    else:
        code.builtinCode = schema.BuiltinOperator.CUSTOM
        code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        code.customCode = custom_op
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [0, 1]
    op.outputs = [2]
    if custom_op is None:
        op.builtinOptionsType = schema.BuiltinOptions.AddOptions
        op.builtinOptions = schema.AddOptionsT()
    sub = schema.SubGraphT()
    sub.tensors = [tensor("x", 1), tensor("y", 2), tensor("z", 3)]
    sub.inputs = [0, 1]
    sub.outputs = [2]
    sub.operators = [op]
    sub.name = "main"
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sub]
    model.buffers = [schema.BufferT() for _ in range(4)]
    model.description = "edgekit test add"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def constant_of_shape_model(n_bytes: int = 10 << 30) -> bytes:
    """A tiny ONNX model with no inputs whose one run allocates ``n_bytes``: a float32
    ``ConstantOfShape`` of a constant shape (issue #20: 109 bytes asking for 10 GiB)."""
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [n_bytes // 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    node = helper.make_node("ConstantOfShape", ["shape"], ["y"])
    graph = helper.make_graph([node], "bomb", [], [y], initializer=[shape])
    return _serialize(graph)


#: Byte patches of the shipped microWakeWord models (``edgekit/pipelines/models``,
#: pymicro-wakeword's, Apache-2.0) that pass the structural check and crash LiteRT with
#: SIGSEGV when loaded in-process: (model, [(offset, new byte), ...]). Found by setting
#: 1-4 bytes outside the weight buffers (``test_mutated_models.structure_offsets``) with
#: ``numpy.random.default_rng([2026, trial])``, trials 0-1,999: trials 990 and 1624
#: crashed (as did 709 and 1975).
CRASHING_TFLITE = {
    "hey_mycroft": [(35723, 150)],
    "okay_nabu": [(45238, 119), (53150, 170)],
}


def crashing_tflite(name: str) -> bytes:
    """A microWakeWord model patched as in :data:`CRASHING_TFLITE`."""
    raw = bytearray(wakeword_path(name).read_bytes())
    for offset, value in CRASHING_TFLITE[name]:
        raw[offset] = value
    return bytes(raw)
