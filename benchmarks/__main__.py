"""Run every layer's benchmark: ``python -m benchmarks [--quick] [LAYER ...]``.

Each layer runs in its own process with BLAS and runtime threads pinned to one;
the per-layer Markdown tables are joined into ``benchmarks/results/report.md``
and the JSON into ``benchmarks/results/all.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks._common import RESULTS_DIR, THREAD_ENV

ROOT = Path(__file__).resolve().parent
LAYER_ORDER = ("dsp", "codec", "infer", "scan", "sync")


def available_layers() -> list[str]:
    return [layer for layer in LAYER_ORDER if (ROOT / layer / "__main__.py").exists()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("layers", nargs="*", help=f"layers to run (default: all of {LAYER_ORDER})")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for CI")
    args = parser.parse_args()
    layers = args.layers or available_layers()
    unknown = sorted(set(layers) - set(available_layers()))
    if unknown:
        parser.error(f"no benchmark for {unknown}; available: {available_layers()}")
    env = {**os.environ, **THREAD_ENV}
    failed = []
    for layer in layers:
        print(f"== benchmarks.{layer}", flush=True)
        command = [
            sys.executable,
            "-m",
            f"benchmarks.{layer}",
            *(["--quick"] if args.quick else []),
        ]
        if subprocess.run(command, env=env, cwd=ROOT.parent).returncode != 0:
            failed.append(layer)
    tables, results = [], []
    for layer in layers:
        md, js = RESULTS_DIR / f"{layer}.md", RESULTS_DIR / f"{layer}.json"
        if md.exists() and js.exists():
            tables.append(md.read_text())
            results.append(json.loads(js.read_text()))
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "report.md").write_text("# edgekit benchmarks\n\n" + "\n".join(tables))
    (RESULTS_DIR / "all.json").write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"benchmarks failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
