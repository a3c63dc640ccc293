"""The codec kernels, one module per algorithm in the ``_kernels`` package, start warm.

numba caches each kernel beside its module (``cache=True``); a fresh copy of the package
is imported by two interpreters in turn, and numba's dispatcher statistics show that the
first compiled the whole-frame integer decoder (which calls kernels of the ``blocks``,
``huffman`` and ``bitpack`` modules) and the second loaded it from the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgekit
from edgekit.codec import compress, frame_info
from tests._support.kernels import spy_read_only

PROBE = """
import json
import numpy as np
import pytest
from edgekit.codec import _kernels
frame = bytes.fromhex({frame!r})
out = np.empty({n}, dtype=np.uint64)
status = _kernels.decode_int_frame(frame, out)
stats = _kernels.decode_int_frame.stats
print(json.dumps({{
    "file": _kernels.__file__,
    "status": int(status),
    "values": out.view(np.int64).tolist(),
    "cache_path": stats.cache_path,
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
}}))
"""


def test_a_second_process_loads_the_split_kernels_from_the_cache(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    steps = rng.geometric(0.05, 400) * rng.choice([-1, 1], 400)
    x = np.concatenate([np.cumsum(steps), np.arange(200) * 5]).astype(np.int64)
    frame = compress(x, block_size=400)
    assert frame_info(frame).schemes == ("huffman-1", "delta")
    site = tmp_path / "site"
    shutil.copytree(
        Path(edgekit.__file__).parent,
        site / "edgekit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(site)
    code = PROBE.format(frame=frame.hex(), n=x.size)
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,  # not the checkout: ``-c`` puts the working directory on sys.path
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["file"].startswith(str(site))
    assert first["status"] == second["status"] == 0
    assert first["values"] == second["values"] == x.tolist()
    assert (first["hits"], first["misses"]) == (0, 1)  # compiled once ...
    assert (second["hits"], second["misses"]) == (1, 0)  # ... and loaded by the next process
    cache = site / "edgekit" / "codec" / "_kernels" / "__pycache__"
    assert Path(first["cache_path"]) == cache
    assert list(cache.glob("blocks.decode_int_frame-*.nbi"))


def test_read_only_arrays_reach_the_kernels_as_writable_ones(
    co2: np.ndarray[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """numba compiles a kernel again for read-only arrays, which the warm-up does not
    cover: pandas 3's ``to_numpy()`` (the CO2 column) and a frame's bytes through
    ``np.frombuffer`` reach every kernel as writable aliases of the same memory."""
    from edgekit.codec import decompress, diff, patch, signature
    from edgekit.codec._schemes import kernels

    read_only = spy_read_only(kernels(), monkeypatch)
    assert not co2.flags.writeable  # (pandas 3's copy-on-write: a read-only view)
    rng = np.random.default_rng(3)
    frozen = []
    for x in (
        np.cumsum(rng.integers(-3, 4, 5000)) * 1_000_000,  # int-mult
        np.round(rng.standard_normal(3000), 2).astype(np.float32),
        np.tile(rng.integers(0, 40, 1000) * 0.0076293945, 5),  # dictionary (from its lags)
        np.repeat(np.round(rng.standard_normal(2500), 8), 2),  # repeat
        rng.standard_normal(3000),  # noise
    ):
        y = np.frombuffer(x.tobytes(), dtype=x.dtype)
        frozen.append(y)
    for x in (co2, *frozen):
        for block_size in (1024, 65536):
            frame = compress(x, block_size=block_size)
            for data in (frame, memoryview(frame)):  # (the whole-frame kernels, the block loop)
                assert decompress(data).tobytes() == x.tobytes()
    old = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    new = old[:1000] + b"x" + old[1000:]
    assert patch(old, diff(signature(old), new)) == new
    assert read_only == set()
