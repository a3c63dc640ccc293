"""One inference engine over ONNX Runtime and LiteRT, with a result cache,
micro-batching, warm-up, hot swap and latency statistics."""

from __future__ import annotations

__all__: list[str] = []
