"""edgekit.dsp against librosa, scipy and pymicro-features: ``python -m benchmarks.dsp [--quick]``.

Every figure is the median of repeated warm runs, with edgekit and the peer timed
interleaved in one process (OPENBLAS_NUM_THREADS=1). The cold-start row runs a
second process after the numba cache has been filled by this one.
"""

from __future__ import annotations

from benchmarks._common import Report, interleaved_medians, parse_args, pin_threads

pin_threads()

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SR = 16000
SMALL = {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40}
US = 1e6
MS = 1e3


def _signal(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.shape)).astype(
        np.float32
    )


def features(report: Report, repeat: int) -> None:
    import librosa

    from edgekit import dsp

    for seconds in (1, 10):
        y = _signal(seconds)
        for label, kw, n_mfcc in (
            ("n_fft 512, hop 160, 40 mels", SMALL, 13),
            ("librosa defaults", {}, 20),
        ):
            cases = {
                "edgekit_mfcc": lambda y=y, kw=kw, n=n_mfcc: dsp.mfcc(y=y, sr=SR, n_mfcc=n, **kw),
                "librosa_mfcc": lambda y=y, kw=kw, n=n_mfcc: librosa.feature.mfcc(
                    y=y, sr=SR, n_mfcc=n, **kw
                ),
                "edgekit_mel": lambda y=y, kw=kw: dsp.melspectrogram(y=y, sr=SR, **kw),
                "librosa_mel": lambda y=y, kw=kw: librosa.feature.melspectrogram(y=y, sr=SR, **kw),
            }
            t = interleaved_medians(cases, repeat=repeat)
            target_mfcc = None
            if seconds == 1 and kw:
                target_mfcc = ">= 5x librosa and <= 0.3 ms"
            elif seconds == 10 and not kw:
                target_mfcc = ">= 3x librosa"
            report.add(
                f"mfcc ({n_mfcc}), {seconds} s float32, {label}", "time", "ms",
                t["edgekit_mfcc"] * MS, peers={"librosa": t["librosa_mfcc"] * MS}, target=target_mfcc,
            )  # fmt: skip
            report.add(
                f"melspectrogram, {seconds} s float32, {label}", "time", "ms",
                t["edgekit_mel"] * MS, peers={"librosa": t["librosa_mel"] * MS},
            )  # fmt: skip


def frontend(report: Report, repeat: int) -> None:
    from pymicro_features import MicroFrontend as Reference

    from edgekit import dsp
    from edgekit.dsp import _kernels

    pcm = (_signal(1.0) * 32767).astype(np.int16)
    blocks = [pcm[i : i + 160] for i in range(0, len(pcm), 160)]
    raw_blocks = [b.tobytes() for b in blocks]

    def edgekit_blocks() -> None:
        fe = dsp.MicroFrontend()
        for b in blocks:
            fe.process(b)

    def edgekit_one_call() -> None:
        dsp.MicroFrontend().process(pcm)

    def reference_blocks() -> None:
        ref = Reference()
        for b in raw_blocks:
            ref.process_samples(b)

    t = interleaved_medians(
        {"blocks": edgekit_blocks, "one": edgekit_one_call, "ref": reference_blocks}, repeat=repeat
    )
    report.add(
        "MicroFrontend, 1 s in 10 ms blocks", "time", "ms", t["blocks"] * MS,
        peers={"pymicro-features": t["ref"] * MS}, target="faster than pymicro-features, bit-exact",
    )  # fmt: skip
    report.add(
        "MicroFrontend, 1 s in one call", "time", "ms", t["one"] * MS,
        peers={"pymicro-features (100 calls, its only way)": t["ref"] * MS}, target="<= 0.5 ms",
    )  # fmt: skip
    # Python overhead of one streamed block above the kernel call itself
    fe = dsp.MicroFrontend()
    block = blocks[0]
    t = interleaved_medians(
        {
            "api": lambda: fe.process(block),
            "kernel": lambda: _kernels.frontend_process(block, fe._buf, fe._state, fe._estimate),
        },
        repeat=repeat,
    )
    report.add(
        "MicroFrontend.process, one 10 ms block", "overhead above the kernel call", "us",
        max(t["api"] - t["kernel"], 0.0) * US, note=f"block {t['api'] * US:.2f} us, kernel {t['kernel'] * US:.2f} us",
        target="<= 5 us",
    )  # fmt: skip


def streams(report: Report, repeat: int) -> None:
    from edgekit import dsp
    from edgekit.dsp import _kernels

    block = _signal(0.01)
    s = dsp.MfccStream(sr=SR, n_mfcc=13, **SMALL)
    for _ in range(4):
        s.process(block)
    t = interleaved_medians(
        {
            "api": lambda: s.process(block),
            "kernel": lambda: _kernels.feature_stream_f32(block, s._buf, s._state, s._fp, s._ip),
        },
        repeat=repeat,
    )
    report.add(
        "MfccStream.process, one 10 ms block (n_fft 512, 13 MFCC)", "overhead above the kernel call",
        "us", max(t["api"] - t["kernel"], 0.0) * US,
        note=f"block {t['api'] * US:.2f} us, kernel {t['kernel'] * US:.2f} us", target="<= 5 us",
    )  # fmt: skip
    report.add(
        "MfccStream.process, one 10 ms block (n_fft 512, 13 MFCC)", "time", "us", t["api"] * US
    )


def filters(report: Report, repeat: int) -> None:
    import scipy.signal as ss

    from edgekit import dsp
    from edgekit.dsp import _kernels

    x = _signal(1.0).astype(np.float64)
    sos = dsp.butter(4, (300.0, 3400.0), "bandpass", SR)
    t = interleaved_medians(
        {"edgekit": lambda: dsp.sosfilt(sos, x), "scipy": lambda: ss.sosfilt(sos, x)}, repeat=repeat
    )
    report.add(
        "sosfilt, 1 s float64, 8th-order band-pass (4 sections)", "time", "us", t["edgekit"] * US,
        peers={"scipy": t["scipy"] * US},
    )  # fmt: skip
    blocks = [x[i : i + 160] for i in range(0, len(x), 160)]
    f = dsp.SosFilter(sos)
    zi0 = np.zeros((sos.shape[0], 2))

    def edgekit_blocks() -> None:
        for b in blocks:
            f.process(b)

    def scipy_blocks() -> None:
        zi = zi0
        for b in blocks:
            _, zi = ss.sosfilt(sos, b, zi=zi)

    t = interleaved_medians({"edgekit": edgekit_blocks, "scipy": scipy_blocks}, repeat=repeat)
    report.add(
        "SosFilter, 160-sample block with carried state (100 blocks)", "time per block", "us",
        t["edgekit"] / len(blocks) * US, peers={"scipy sosfilt(zi=...)": t["scipy"] / len(blocks) * US},
        target=">= 10x scipy",
    )  # fmt: skip
    block = blocks[0]
    t = interleaved_medians(
        {
            "api": lambda: f.process(block),
            "kernel": lambda: _kernels.sosfilt_f64(f.sos, block, f.zi),
        },
        repeat=repeat,
    )
    report.add(
        "SosFilter.process, one 10 ms block", "overhead above the kernel call", "us",
        max(t["api"] - t["kernel"], 0.0) * US, note=f"block {t['api'] * US:.2f} us, kernel {t['kernel'] * US:.2f} us",
        target="<= 5 us",
    )  # fmt: skip


def resampling(report: Report, repeat: int) -> None:
    import scipy.signal as ss

    from edgekit import dsp

    rng = np.random.default_rng(1)
    x = rng.standard_normal(48000)
    t = interleaved_medians(
        {
            "edgekit": lambda: dsp.resample(x, 48000, 16000),
            "scipy": lambda: ss.resample_poly(x, 1, 3),
        },
        repeat=repeat,
    )
    report.add(
        "resample 48 kHz -> 16 kHz, 1 s float64", "time", "us", t["edgekit"] * US,
        peers={"scipy resample_poly": t["scipy"] * US},
    )  # fmt: skip
    r = dsp.Resampler(48000, 16000)
    block = x[:480]
    t = interleaved_medians({"edgekit": lambda: r.process(block)}, repeat=repeat)
    report.add("Resampler.process, one 10 ms block at 48 kHz", "time", "us", t["edgekit"] * US)


_COLD = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import numpy as np
    {imports}
    y = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)
    {call}
    print(time.perf_counter() - t0)
    """
)


def cold_start(report: Report, runs: int) -> None:
    # fill the cache in a first process, then time fresh processes
    import edgekit

    edgekit.warmup(("dsp",))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(imports: str, call: str) -> float:
        code = _COLD.format(imports=imports, call=call)
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return float(out.stdout.strip().splitlines()[-1])

    edgekit_cmd = (
        "import edgekit.dsp as d",
        "d.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)",
    )
    librosa_cmd = (
        "import librosa",
        "librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)",
    )
    run(*edgekit_cmd)
    e, lr = [], []
    for _ in range(runs):
        e.append(run(*edgekit_cmd))
        lr.append(run(*librosa_cmd))
    report.add(
        "second process, numba cache warm: import + first mfcc", "time", "s", float(np.median(e)),
        peers={"librosa (import + first mfcc)": float(np.median(lr))}, target="report it; < 1 s",
    )  # fmt: skip


def main() -> None:
    args = parse_args(__doc__ or "")
    report = Report("dsp", quick=args.quick)
    repeat = 5 if args.quick else 15
    features(report, repeat)
    frontend(report, repeat)
    streams(report, repeat)
    filters(report, repeat)
    resampling(report, repeat)
    cold_start(report, 2 if args.quick else 5)
    report.finish()


if __name__ == "__main__":
    main()
