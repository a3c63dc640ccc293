"""The in-memory backend: runs a :class:`~edgekit.infer.MemoryModel` (a Python function) in-process."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgekit.errors import InvalidInputError
from edgekit.infer.types import MemoryModel

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Runs a :class:`MemoryModel` in-process."""

    kind = "memory"

    def __init__(self, model: MemoryModel) -> None:
        self.model = model
        self.inputs = model.inputs
        self.outputs = model.outputs
        self.stateful = model.stateful
        self._names = [o.name for o in model.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        result = self.model.fn(dict(feeds))
        if isinstance(result, Mapping):
            try:
                values = [result[n] for n in self._names]
            except KeyError as exc:
                raise InvalidInputError(
                    f"MemoryModel {self.model.name!r} returned no output {exc.args[0]!r}"
                ) from exc
        else:
            values = list(result)
            if len(values) != len(self._names):
                raise InvalidInputError(
                    f"MemoryModel {self.model.name!r} returned {len(values)} outputs, "
                    f"expected {len(self._names)}"
                )
        return [np.asarray(v) for v in values]

    def reset(self) -> None:
        """Nothing to reset: state, if any, lives in the user's function."""

    def close(self) -> None:
        """Nothing to release."""
