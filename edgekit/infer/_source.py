"""Model bytes before any runtime sees them: read from a path or bytes, format sniffed, hashed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgekit.errors import InvalidInputError, ModelLoadError

__all__ = ["ModelFormat", "ModelSource", "read_model", "sniff_format"]

ModelFormat = Literal["onnx", "tflite"]


@dataclass(frozen=True)
class ModelSource:
    """A model's bytes with what edgekit learned from them before any runtime saw them.

    ``state_ops`` names the TFLite resource-variable operators the model uses (set by
    the LiteRT backend's structural check, :func:`~edgekit.infer._backends.load_model_source`).
    """

    data: bytes
    path: Path | None
    format: ModelFormat
    digest: str
    state_ops: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The file name, or ``<N bytes>`` for in-memory models."""
        return self.path.name if self.path is not None else f"<{len(self.data)} bytes>"


def sniff_format(data: bytes) -> ModelFormat:
    """``"tflite"`` when bytes 4..8 are the flatbuffer identifier ``TFL3``, else ``"onnx"``."""
    return "tflite" if data[4:8] == b"TFL3" else "onnx"


def _digest(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def read_model(model: str | os.PathLike[str] | bytes | bytearray | memoryview) -> ModelSource:
    """Read a model from a path or bytes; sniff its format; hash it (no structural check)."""
    path: Path | None = None
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
    elif isinstance(model, (str, os.PathLike)):
        path = Path(model)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ModelLoadError(f"model file {str(path)!r} does not exist") from exc
        except IsADirectoryError as exc:
            raise ModelLoadError(f"model path {str(path)!r} is a directory, not a file") from exc
        except OSError as exc:
            raise ModelLoadError(f"cannot read model file {str(path)!r}: {exc}") from exc
    else:
        raise InvalidInputError(f"model must be a path or bytes, not {type(model).__name__}")
    if len(data) < 8:
        label = path.name if path is not None else f"<{len(data)} bytes>"
        raise ModelLoadError(f"{label} is not a model: only {len(data)} bytes")
    return ModelSource(data, path, sniff_format(data), _digest(data))
