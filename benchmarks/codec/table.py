"""Codec corpus table: edgekit against pcodec, blosc2, zstd and lz4 on every corpus series.

``python -m benchmarks.codec.table [--quick] [--only NAME ...]`` (also run at the end of
``python -m benchmarks.codec``). For each series of ``benchmarks.codec.corpus`` whose package
is installed: compression ratio of edgekit (default level), pcodec (default config), the best
blosc2 setting (the best ratio of a small grid of filters and codecs, then timed), zstd-3,
zstd-19 (ratio only) and lz4; compress and decompress speed (MB/s of raw bytes, medians of
interleaved repeats, one thread, timed on this process's CPU time so that other jobs on a
shared machine do not count) of edgekit, pcodec, blosc2 best, zstd-3 and lz4; bits per
value (bits per timestamp for timestamp series); the schemes edgekit chose; and a flag per
target of issue #14. Timestamps (datetime64[ns]) are coded as their int64 view by every codec.
For series of 10k values or more, edgekit's compress time is split into stages (issue #14,
point 3): plan (the planners and pre-checks alone, timed by calling them), transform (the
rest of ``compress(level=1)``: residuals, modes, ALP, bit-packing, framing) and entropy
(what ``level=2``, the default, adds: the Huffman stage and the schemes built on it).
Writes ``benchmarks/results/codec_corpus.md`` and ``.json``.
"""

from __future__ import annotations

from benchmarks._common import RESULTS_DIR, interleaved_medians, pin_threads

pin_threads()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.codec.corpus import Entry, available, missing  # noqa: E402

Array = np.ndarray[Any, Any]
Codec = tuple[Callable[[], bytes], Callable[[bytes], Any]]

# The targets of issue #14, per series.
RATIO_VS_PCODEC = 0.95
TIME_BITS_VS_PCODEC = 1.1
COMPRESS_VS_PCODEC, COMPRESS_MIN_N = 3.0, 10_000
DECOMPRESS_GBS, DECOMPRESS_MIN_N = 1.5, 65_536


@dataclass
class Result:
    name: str
    kind: str
    package: str
    n: int
    dtype: str
    schemes: str
    ratio: dict[str, float]
    compress_mbs: dict[str, float] = field(default_factory=dict)
    decompress_mbs: dict[str, float] = field(default_factory=dict)
    blosc2_setting: str = ""
    #: edgekit compress stages (microseconds): plan, transform, entropy (series >= 10k).
    stages_us: dict[str, float] = field(default_factory=dict)

    def bits(self, codec: str) -> float:
        """Bits per value (per timestamp) of a codec's output."""
        item_bits = 8 * np.dtype(self.dtype).itemsize
        return item_bits / self.ratio[codec]

    def flags(self) -> dict[str, bool | None]:
        """Each target: True met, False missed, None not applicable."""
        generic = max(v for k, v in self.ratio.items() if k not in ("edgekit", "pcodec"))
        c = self.compress_mbs
        return {
            "ratio": self.ratio["edgekit"] >= RATIO_VS_PCODEC * self.ratio["pcodec"],
            "generic": self.ratio["edgekit"] > generic,
            "time bits": (
                self.bits("edgekit") <= TIME_BITS_VS_PCODEC * self.bits("pcodec")
                if self.kind == "timestamps"
                else None
            ),
            "compress": (
                c["edgekit"] >= COMPRESS_VS_PCODEC * c["pcodec"]
                if self.n >= COMPRESS_MIN_N
                else None
            ),
            "decompress": (
                self.decompress_mbs["edgekit"] >= DECOMPRESS_GBS * 1000
                if self.n >= DECOMPRESS_MIN_N
                else None
            ),
        }


def blosc2_grid(x: Array) -> dict[str, Codec]:
    import blosc2

    blosc2.set_nthreads(1)
    raw = x.tobytes()
    F, C = blosc2.Filter, blosc2.Codec
    filters = {
        "shuffle": [F.SHUFFLE],
        "bitshuffle": [F.BITSHUFFLE],
        "shuffle+bytedelta": [F.SHUFFLE, F.BYTEDELTA],
    }
    codecs = {
        "zstd-5": (C.ZSTD, 5),
        "zstd-9": (C.ZSTD, 9),
        "lz4hc-9": (C.LZ4HC, 9),
        "lz4-5": (C.LZ4, 5),
    }
    out: dict[str, Codec] = {}
    for fname, flist in filters.items():
        for cname, (codec, level) in codecs.items():
            kwargs = {
                "codec": codec,
                "clevel": level,
                "filters": flist,
                "typesize": x.dtype.itemsize,
                "nthreads": 1,
            }
            out[f"{fname}+{cname}"] = (
                lambda kwargs=kwargs: blosc2.compress2(raw, **kwargs),
                lambda b: blosc2.decompress2(b),
            )
    return out


def codecs(x: Array) -> tuple[dict[str, Codec], str, int]:
    """The timed codecs, the blosc2 setting kept, and the size of zstd-19's output (bytes)."""
    import lz4.block
    import pcodec
    import zstandard
    from pcodec import standalone

    from edgekit.codec import compress, decompress

    raw = x.tobytes()
    cfg = pcodec.ChunkConfig()
    z3, z19 = zstandard.ZstdCompressor(level=3), zstandard.ZstdCompressor(level=19)
    zd = zstandard.ZstdDecompressor()
    grid = blosc2_grid(x)
    grid_sizes = {k: len(c()) for k, (c, _d) in grid.items()}
    best = min(grid_sizes, key=lambda k: grid_sizes[k])
    timed: dict[str, Codec] = {
        "edgekit": (lambda: compress(x), lambda b: decompress(b)),
        "pcodec": (
            lambda: standalone.simple_compress(x, cfg),
            lambda b: standalone.simple_decompress(b),
        ),
        "blosc2": grid[best],
        "zstd-3": (lambda: z3.compress(raw), lambda b: zd.decompress(b)),
        "lz4": (
            lambda: lz4.block.compress(raw, store_size=True),
            lambda b: lz4.block.decompress(b),
        ),
    }
    return timed, best, len(z19.compress(raw))


def plan_only(x: Array, block_size: int = 65536) -> None:
    """The planner calls ``compress`` makes for ``x`` (their results thrown away): the
    float modes, the ALP (e, f) ranking and per block the pair choice, the dictionary and
    repeat pre-checks; for integers the copy scheme's probes (and its span search where
    they find spans), then per block the int-mult plan, the range statistics and the
    wide-rank pre-check."""
    from edgekit.codec import _schemes
    from edgekit.codec._kernels import blocks

    k = _schemes.kernels()
    flat = x.reshape(-1)
    if flat.dtype.kind == "f":
        probe = np.zeros(1, dtype=flat.dtype)
        _schemes.float_modes(flat, probe)
        pairs = k.alp_plan(flat, _schemes.alp_emax(flat), probe)
        uint = np.uint64 if flat.dtype.itemsize == 8 else np.uint32
        for start in range(0, flat.size, block_size):
            block = flat[start : start + block_size]
            if pairs.shape[1]:
                k.alp_choose(block, pairs, probe)
            if block.size >= 256:
                k.dictionary_may_pay(block.view(uint))
            if block.size >= _schemes.REPEAT_MIN_VALUES:
                k.repeat_lags(block[: _schemes.REPEAT_SAMPLE].view(uint))
        return
    _schemes.frame_spans(flat)
    lanes = (
        flat.astype(np.int64).view(np.uint64) if flat.dtype.kind == "i" else flat.astype(np.uint64)
    )
    for start in range(0, flat.size, block_size):
        u = lanes[start : start + block_size]
        k.int_mult_plan(u)
        k.int_stats(u)
        blocks._rank_may_pay(u, 255, 8 * u.size, np.zeros(0, dtype=np.uint64))


def stages(x: Array, repeat: int) -> dict[str, float]:
    """edgekit's compress time split into plan, transform and entropy (microseconds,
    medians of this process's CPU time)."""
    from edgekit.codec import compress

    t = interleaved_medians(
        {
            "plan": lambda: plan_only(x),
            "level1": lambda: compress(x, level=1),
            "level2": lambda: compress(x),
        },
        repeat=repeat,
        clock=time.process_time,
    )
    return {
        "plan": 1e6 * t["plan"],
        "transform": 1e6 * max(t["level1"] - t["plan"], 0.0),
        "entropy": 1e6 * max(t["level2"] - t["level1"], 0.0),
        "total": 1e6 * t["level2"],
    }


def measure(entry: Entry, series: Array, repeat: int) -> Result:
    from edgekit.codec import decompress, frame_info

    x = series.view(np.int64) if series.dtype.kind == "M" else series
    timed, best, zstd19 = codecs(x)
    blobs = {k: c() for k, (c, _d) in timed.items()}
    sizes = {**{k: len(b) for k, b in blobs.items()}, "zstd-19": zstd19}
    if decompress(blobs["edgekit"]).tobytes() != x.tobytes():
        raise AssertionError(f"{entry.name}: edgekit round trip is not bit for bit")
    if np.asarray(timed["pcodec"][1](blobs["pcodec"])).tobytes() != x.tobytes():
        raise AssertionError(f"{entry.name}: pcodec round trip differs")
    schemes = Counter(frame_info(blobs["edgekit"]).schemes)
    mb = x.nbytes / 1e6
    ctimes = interleaved_medians(
        {k: c for k, (c, _d) in timed.items()}, repeat=repeat, clock=time.process_time
    )
    dtimes = interleaved_medians(
        {k: (lambda d=d, b=blobs[k]: d(b)) for k, (_c, d) in timed.items()},
        repeat=repeat,
        clock=time.process_time,
    )
    return Result(
        name=entry.name,
        kind=entry.kind,
        package=entry.package,
        n=int(x.size),
        dtype=str(x.dtype),
        schemes=" ".join(f"{s}" + (f"x{k}" if k > 1 else "") for s, k in schemes.items()),
        ratio={k: x.nbytes / v for k, v in sizes.items()},
        compress_mbs={k: mb / t for k, t in ctimes.items()},
        decompress_mbs={k: mb / t for k, t in dtimes.items()},
        blosc2_setting=best,
        stages_us=stages(x, repeat) if x.size >= COMPRESS_MIN_N else {},
    )


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def _f(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3g}"


def _mark(flag: bool | None) -> str:
    return "-" if flag is None else "ok" if flag else "**MISS**"


def markdown(
    results: list[Result], repeat: int, title: str = "codec corpus", source: str = ""
) -> str:
    """The table of ``results`` under ``### title``; ``source`` says where the series come
    from (default: the corpus' packages)."""
    source = source or (
        f"{len(results)} real series from "
        f"{len({r.package for r in results if not r.package.startswith('(')})} PyPI packages "
        f"(`python -m benchmarks.codec.corpus --list`)"
    )
    lines = [
        f"### {title}",
        "",
        f"{source}; one thread; speeds are medians of "
        f"{repeat} interleaved repeats of this process's CPU time (MB/s of raw bytes); ratio = raw bytes / compressed "
        "bytes; bits = bits per value (per timestamp for timestamps). blosc2 = the best ratio "
        "of {shuffle, bitshuffle, shuffle+bytedelta} x {zstd-5, zstd-9, lz4hc-9, lz4-5}. "
        "Targets (issue #14): ratio >= 0.95x pcodec and above every blosc2/zstd/lz4 setting; "
        "timestamps bits <= 1.1x pcodec; compress >= 3x pcodec on >= 10k values; decompress "
        ">= 1.5 GB/s on >= 64k values.",
        "",
        "| series | class | n | dtype | edgekit schemes | ratio edgekit | pcodec | blosc2 best | "
        "zstd-3 | zstd-19 | lz4 | ratio vs pcodec | bits edgekit / pcodec | compress MB/s "
        "edgekit / pcodec (x) | decompress MB/s edgekit / pcodec (x) | ratio | > generic | "
        "ts bits | compress | decompress |",
        "|" + "---|" * 20,
    ]
    for r in results:
        fl = r.flags()
        ce, cp = r.compress_mbs["edgekit"], r.compress_mbs["pcodec"]
        de, dp = r.decompress_mbs["edgekit"], r.decompress_mbs["pcodec"]
        lines.append(
            f"| {r.name} | {r.kind} | {r.n:,} | {r.dtype} | {r.schemes} | "
            f"{_f(r.ratio['edgekit'])} | {_f(r.ratio['pcodec'])} | "
            f"{_f(r.ratio['blosc2'])} ({r.blosc2_setting}) | {_f(r.ratio['zstd-3'])} | "
            f"{_f(r.ratio['zstd-19'])} | {_f(r.ratio['lz4'])} | "
            f"{r.ratio['edgekit'] / r.ratio['pcodec']:.2f}x | "
            f"{r.bits('edgekit'):.2f} / {r.bits('pcodec'):.2f} | "
            f"{_f(ce)} / {_f(cp)} ({ce / cp:.2f}x) | {_f(de)} / {_f(dp)} ({de / dp:.2f}x) | "
            + " | ".join(_mark(v) for v in fl.values())
            + " |"
        )
    lines += ["", *summary(results), "", *stage_table(results)]
    return "\n".join(lines) + "\n"


def stage_table(results: list[Result]) -> list[str]:
    """edgekit's compress stages per series of 10k values or more, beside pcodec's time."""
    rows = [r for r in results if r.stages_us]
    if not rows:
        return []
    out = [
        "edgekit compress time by stage, series of >= 10k values (microseconds, medians of "
        "CPU time; plan = the planners alone, transform = the rest of level 1, entropy = what "
        "level 2 adds; the total is timed apart, so the stages need not add up to it):",
        "",
        "| series | n | plan | transform | entropy | total | pcodec | compress vs pcodec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        st = r.stages_us
        pcodec_us = 1e6 * (r.n * np.dtype(r.dtype).itemsize / 1e6) / r.compress_mbs["pcodec"]
        out.append(
            f"| {r.name} | {r.n:,} | {st['plan']:,.0f} | {st['transform']:,.0f} | "
            f"{st['entropy']:,.0f} | {st['total']:,.0f} | {pcodec_us:,.0f} | "
            f"{r.compress_mbs['edgekit'] / r.compress_mbs['pcodec']:.2f}x |"
        )
    return out


def summary(results: list[Result]) -> list[str]:
    def gm(values: list[float]) -> str:
        return f"{geomean(values):.2f}x"

    ts = [r for r in results if r.kind == "timestamps"]
    big = [r for r in results if r.n >= COMPRESS_MIN_N]
    out = [
        "| geometric mean over the corpus | edgekit vs pcodec |",
        "|---|---|",
        f"| ratio, all {len(results)} series (target >= 1.05x) | "
        f"{gm([r.ratio['edgekit'] / r.ratio['pcodec'] for r in results])} |",
        f"| ratio, edgekit vs best of blosc2/zstd/lz4 | "
        f"{gm([r.ratio['edgekit'] / max(v for k, v in r.ratio.items() if k not in ('edgekit', 'pcodec')) for r in results])} |",
        f"| bits per timestamp, {len(ts)} timestamp series (edgekit / pcodec, lower is better) | "
        f"{gm([r.bits('edgekit') / r.bits('pcodec') for r in ts])} |",
        f"| compress speed, {len(big)} series of >= 10k values | "
        f"{gm([r.compress_mbs['edgekit'] / r.compress_mbs['pcodec'] for r in big])} |",
        f"| compress speed, all series | "
        f"{gm([r.compress_mbs['edgekit'] / r.compress_mbs['pcodec'] for r in results])} |",
        f"| decompress speed, all series | "
        f"{gm([r.decompress_mbs['edgekit'] / r.decompress_mbs['pcodec'] for r in results])} |",
        "",
    ]
    counts = {k: [0, 0] for k in results[0].flags()} if results else {}
    for r in results:
        for k, v in r.flags().items():
            if v is not None:
                counts[k][0] += bool(v)
                counts[k][1] += 1
    out.append(
        "Targets met: " + "; ".join(f"{k} {met}/{n}" for k, (met, n) in counts.items()) + "."
    )
    return out


def run(quick: bool = False, only: list[str] | None = None) -> str:
    """Measure every available corpus series; write the results; return the Markdown."""
    import edgekit

    edgekit.warmup(("codec",))
    repeat = 3 if quick else 7
    results = []
    for entry, series in available():
        if only and not any(o in entry.name for o in only):
            continue
        r = measure(entry, series, repeat)
        results.append(r)
        print(
            f"  {r.name}: ratio {r.ratio['edgekit']:.2f} (pcodec {r.ratio['pcodec']:.2f}), "
            f"compress {r.compress_mbs['edgekit'] / r.compress_mbs['pcodec']:.2f}x pcodec, "
            f"{r.schemes}"
            + (
                " | stages us: " + ", ".join(f"{k} {v:,.0f}" for k, v in r.stages_us.items())
                if r.stages_us
                else ""
            ),
            file=sys.stderr,
            flush=True,
        )
    for e in missing():
        print(f"  skipped {e.name}: {e.package} not installed", file=sys.stderr)
    table = markdown(results, repeat)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "codec_corpus.md").write_text(table)
    payload = {
        "quick": quick,
        "repeat": repeat,
        "rows": [asdict(r) | {"flags": r.flags()} for r in results],
    }
    (RESULTS_DIR / "codec_corpus.json").write_text(json.dumps(payload, indent=2) + "\n")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for CI")
    parser.add_argument("--only", nargs="*", help="series whose name contains one of these")
    args = parser.parse_args()
    print(run(args.quick, args.only))


if __name__ == "__main__":
    main()
