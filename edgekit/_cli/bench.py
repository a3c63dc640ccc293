"""``edgekit bench``: the side-by-side benchmarks, from a source checkout."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.command()
@click.argument("layers", nargs=-1)
@click.option("--quick", is_flag=True, help="Fewer repeats (about a minute a layer).")
def bench(layers: tuple[str, ...], quick: bool) -> int:
    """Run the side-by-side benchmarks of LAYERS (default: all) against their peers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    candidates = [Path.cwd(), Path(__file__).resolve().parents[2]]
    root = next((c for c in candidates if (c / "benchmarks" / "__main__.py").exists()), None)
    if root is None:
        raise click.ClickException(
            "the benchmarks ship with edgekit's source, not with the wheel: "
            "run `edgekit bench` from a clone of the repository"
        )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "benchmarks", *layers, *(["--quick"] if quick else [])]
    return subprocess.run(command, cwd=root, env=env).returncode


COMMANDS = [bench]
