"""A ratio sweep of the codec over columns neither the corpus nor the held-out set has.

``python -m benchmarks.codec.sweep``: every numeric column of 300 values or more (no
missing values) of the datasets that ``statsmodels`` and ``vega_datasets`` ship, the first
dimension of five ``aeon`` problems (cases end to end: daily Covid-19 deaths per country,
Japanese vowels' LPC coefficients, leaf and arrow-head outlines) and the UCR anomaly
series ``aeon`` ships, each as stored and its floats also as float32. Survey and
tabular columns (``randhie``, ``fair``, ``star98``) are not the sensor series the codec's
targets are for, but a library meets them; they show where the codec is weak. Sizes
only: ratio against pcodec and against the best generic setting of the corpus table
(blosc2's grid, zstd-3, zstd-19, lz4). Writes ``benchmarks/results/codec_sweep.md``.
"""

from __future__ import annotations

from benchmarks._common import RESULTS_DIR, pin_threads

pin_threads()

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from importlib.util import find_spec  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.codec.table import codecs  # noqa: E402

Array = np.ndarray[Any, Any]
MIN_VALUES = 300
AEON_PROBLEMS = ("Covid3Month", "JapaneseVowels", "OSULeaf", "ArrowHead", "CardanoSentiment")


def _package_dir(module: str) -> Path | None:
    spec = find_spec(module)
    return Path(spec.origin).parent if spec and spec.origin else None


def _ts_first_dimension(path: Path) -> Array:
    """The first dimension of every case of an aeon ``.ts`` file, end to end."""
    values: list[float] = []
    data = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            data = True
        elif data:
            values.extend(float(t) for t in line.split(":")[0].split(",") if t not in ("?", ""))
    x = np.array(values)
    return x[np.isfinite(x)]


def series() -> Iterator[tuple[str, Array]]:
    """``(name, values)`` of every column the sweep takes, as stored."""
    import pandas as pd

    tables: list[tuple[str, Path]] = []
    if (sm := _package_dir("statsmodels")) is not None:
        tables += [(f"sm:{p.parent.name}", p) for p in sorted(sm.glob("datasets/*/*.csv"))]
    if (vega := _package_dir("vega_datasets")) is not None:
        tables += [(f"vega:{p.stem}", p) for p in sorted(vega.glob("_data/*.csv"))]
        tables += [(f"vega:{p.stem}", p) for p in sorted(vega.glob("_data/*.json"))]
    for name, path in tables:
        try:
            df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_json(path)
        except (ValueError, TypeError):
            continue
        if not isinstance(df, pd.DataFrame):
            continue
        for column in df.columns:
            v = df[column]
            if v.dtype.kind in "fi" and len(v) >= MIN_VALUES and v.notna().all():
                yield f"{name}:{column}", np.ascontiguousarray(v.to_numpy())
    if (aeon := _package_dir("aeon")) is not None:
        data = aeon / "datasets" / "data"
        for problem in AEON_PROBLEMS:
            path = data / problem / f"{problem}_TRAIN.ts"
            if path.exists():
                yield f"aeon:{problem}", _ts_first_dimension(path)
        for path in sorted(data.glob("KDD-TSAD_*/*_TRAIN.csv")):
            df = pd.read_csv(path)
            yield f"aeon:{path.parent.name}", df[df.columns[1]].to_numpy(dtype=np.float64)


def sizes(x: Array) -> tuple[int, int, int, str]:
    """Bytes of edgekit, pcodec and the best generic setting, and edgekit's schemes."""
    from edgekit.codec import decompress, frame_info

    timed, _best, zstd19 = codecs(x)
    blobs = {k: c() for k, (c, _d) in timed.items()}
    if decompress(blobs["edgekit"]).tobytes() != x.tobytes():
        raise AssertionError("edgekit round trip is not bit for bit")
    generic = min(zstd19, *(len(blobs[k]) for k in ("blosc2", "zstd-3", "lz4")))
    schemes = ", ".join(sorted(set(frame_info(blobs["edgekit"]).schemes)))
    return len(blobs["edgekit"]), len(blobs["pcodec"]), generic, schemes


def run() -> str:
    import edgekit

    edgekit.warmup(("codec",))
    rows = []
    for name, stored in series():
        x = stored.astype(np.int64) if stored.dtype.kind == "i" else stored
        for v in (x, x.astype(np.float32)) if x.dtype.kind == "f" else (x,):
            ek, pco, generic, schemes = sizes(np.ascontiguousarray(v))
            rows.append((name, str(v.dtype), v.size, v.nbytes, ek, pco, generic, schemes))
            print(f"  {name} {v.dtype}: {pco / ek:.2f}x pcodec", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: min(r[5] / r[4], r[6] / r[4]))
    vs_pco = np.array([r[5] / r[4] for r in rows])
    vs_gen = np.array([r[6] / r[4] for r in rows])
    lines = [
        "### codec sweep",
        "",
        f"{len(rows)} columns of statsmodels, vega_datasets and aeon data that the codec "
        "was never tuned on (`python -m benchmarks.codec.sweep`), worst first; ratio = raw "
        "bytes / compressed bytes; generic = the best of blosc2's grid, zstd-3, zstd-19 "
        "and lz4.",
        "",
        f"Geometric mean: {np.exp(np.mean(np.log(vs_pco))):.2f}x pcodec's ratio, "
        f"{np.exp(np.mean(np.log(vs_gen))):.2f}x the best generic setting's. Below 0.95x "
        f"pcodec: {int(np.sum(vs_pco < 0.95))}; at or below a generic setting: "
        f"{int(np.sum(vs_gen <= 1.0))}.",
        "",
        "| column | dtype | n | edgekit schemes | ratio edgekit | pcodec | generic "
        "| vs pcodec | vs generic |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, dtype, n, raw, ek, pco, generic, schemes in rows:
        lines.append(
            f"| {name} | {dtype} | {n:,} | {schemes} | {raw / ek:.2f} | {raw / pco:.2f} "
            f"| {raw / generic:.2f} | {pco / ek:.2f}x | {generic / ek:.2f}x |"
        )
    table = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "codec_sweep.md").write_text(table)
    return table


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print(run())


if __name__ == "__main__":
    main()
