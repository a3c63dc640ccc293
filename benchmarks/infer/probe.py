"""The cost of the probe load: a model's first load with the probe against without it.

``python -m benchmarks.infer.probe [--quick]``

For the microWakeWord ``okay_nabu.tflite`` that edgekit ships and Silero VAD's
``silero_vad.onnx``, loaded by path with the engine's defaults otherwise (3 warm-up
runs), timed in turn in one process: ``verify=True`` (a first load: the model is
loaded and run in a child process first), ``verify=False`` (no probe: the peer), and
the default for a file already known-good (the digest found in the probe cache, no
child process). Medians of the repeats; the runtime is imported before timing. The
probe cache is a temporary ``XDG_CACHE_HOME``.
"""

from benchmarks._common import Report, parse_args, pin_threads

pin_threads()

import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from edgekit.infer import InferenceEngine  # noqa: E402
from tests.infer import models  # noqa: E402

MS = 1e3


def load_time(path: Path, **options: Any) -> float:
    start = time.perf_counter()
    InferenceEngine(path, **options).close()
    return time.perf_counter() - start


def main() -> None:
    args = parse_args(__doc__ or "")
    repeat = 3 if args.quick else 9
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="edgekit-probe-bench-")
    report = Report("infer_probe", quick=args.quick)
    for case, path in (
        ("microWakeWord okay_nabu.tflite (LiteRT)", models.wakeword_path("okay_nabu")),
        ("Silero VAD silero_vad.onnx (ONNX Runtime)", models.silero_path()),
    ):
        InferenceEngine(path).close()  # imports the runtime; the file is now known-good
        cases: dict[str, Callable[[], float]] = {
            "probed": lambda p=path: load_time(p, verify=True),
            "no probe": lambda p=path: load_time(p, verify=False),
            "known-good": lambda p=path: load_time(p),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeat):
            for name, fn in cases.items():
                samples[name].append(fn())
        median = {name: statistics.median(values) * MS for name, values in samples.items()}
        report.add(
            case,
            "first load, probed (verify=True)",
            "ms",
            median["probed"],
            peers={"no probe (verify=False)": median["no probe"]},
            note=f"probe adds {median['probed'] - median['no probe']:.0f} ms",
        )
        report.add(
            case,
            "load of a known-good file (default)",
            "ms",
            median["known-good"],
            peers={"no probe (verify=False)": median["no probe"]},
        )
    report.finish()


if __name__ == "__main__":
    main()
