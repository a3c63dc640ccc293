"""Plain ONNX Runtime and LiteRT sessions, one thread each, to compare edgekit.infer against."""

from __future__ import annotations

from pathlib import Path


def raw_ort_session(model: bytes | str | Path):
    """A plain ONNX Runtime session with the engine's default threading, for comparisons."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 4
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=so, providers=["CPUExecutionProvider"])


def raw_litert(model: Path | bytes):
    """A plain LiteRT interpreter (one thread, default resolver), tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, Path):
        it = Interpreter(model_path=str(model), num_threads=1)
    else:
        it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    return it
