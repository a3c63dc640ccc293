"""Byte-mutated real models: every load succeeds or raises an EdgekitError, never a crash.

The mutations run in a child process, so a native crash fails the test with the
trial that caused it instead of killing pytest. Most bytes of a real model are
weights, whose mutation is harmless; half the mutations therefore hit the bytes
outside the constant buffers (tables, vtables, shapes, indices, options), where
a runtime is most likely to crash.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MUTATE = """
import sys
import numpy as np
from edgekit.errors import EdgekitError
from edgekit.infer import InferenceEngine
from tests.infer.test_mutated_models import mutate, structure_offsets
from tests.infer import models

seed, start, trials, verify = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
options = {} if verify == "default" else {"verify": verify == "true"}
sources = [models.wakeword_path(n).read_bytes() for n in models.WAKE_WORDS]
sources.append(models.silero_path().read_bytes())
hot = [structure_offsets(s) for s in sources]
loaded = failed = 0
for trial in range(start, trials):
    rng = np.random.default_rng([seed, trial])
    k = trial % len(sources)
    blob = mutate(sources[k], hot[k], rng)
    print("trial", trial, flush=True)
    try:
        engine = InferenceEngine(blob, warmup=1, **options)
        engine.run(engine._model.synthetic_feeds())
        engine.close()
        loaded += 1
    except EdgekitError:
        failed += 1
    except Exception as exc:
        print("not an EdgekitError:", trial, type(exc).__name__, exc, flush=True)
        sys.exit(5)
print("loaded", loaded, "refused", failed, flush=True)
"""


def structure_offsets(data: bytes) -> list[int]:
    """Offsets of a TFLite file outside its constant buffers (all offsets for other files)."""
    import numpy as np

    from edgekit.infer._backends.litert import _Reader

    if data[4:8] != b"TFL3":
        return []
    r = _Reader(data, "model")
    inside = np.zeros(len(data), dtype=bool)
    buffers = r.field(r.deref(0), 4)
    first, count = r.vector(buffers)
    for i in range(count):
        field = r.field(r.deref(first + 4 * i), 0)
        if field:
            start = r.deref(field)
            inside[start + 4 : start + 4 + r.u32(start)] = True
    return [int(i) for i in np.flatnonzero(~inside) if i >= 8]


def mutate(data: bytes, hot: list[int], rng: object) -> bytes:
    """``data`` with 1-4 bytes set to random values; half the time only in ``hot`` offsets."""
    raw = bytearray(data)
    structural = bool(hot) and rng.random() < 0.5  # type: ignore[attr-defined]
    for _ in range(int(rng.integers(1, 5))):  # type: ignore[attr-defined]
        pick = rng.integers(0, len(hot)) if structural else rng.integers(8, len(raw))  # type: ignore[attr-defined]
        pos = hot[int(pick)] if structural else int(pick)
        raw[pos] = int(rng.integers(0, 256))  # type: ignore[attr-defined]
    return bytes(raw)


def run_mutations(seed: int, trials: int, verify: str = "default") -> str:
    """Run the trials in a child; fail with the trial that crashed it."""
    result = subprocess.run(
        [sys.executable, "-c", MUTATE, str(seed), "0", str(trials), verify],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=3600,
    )
    last = [line for line in result.stdout.splitlines() if line.startswith("trial")][-1:]
    assert result.returncode == 0, (
        f"exit {result.returncode} at {last}: {result.stdout[-500:]} {result.stderr[-1500:]}"
    )
    assert "loaded" in result.stdout
    return result.stdout.splitlines()[-1]


def test_mutated_real_models_load_or_raise_an_edgekit_error():
    """microWakeWord and Silero models mutated at random offsets: load, or EdgekitError."""
    run_mutations(seed=11, trials=40)


@pytest.mark.slow
def test_mutated_real_models_long_run():
    """The same, 1000 mutations."""
    run_mutations(seed=12, trials=1000)
