"""The ``edgekit`` command, one module per command group.

This package is the only place that imports the CLI toolkit (click, with rich for
tables). Both come with the ``cli`` extra; without them the command says which
extra to install. ``root`` holds the command group, which turns every
:class:`~edgekit.errors.EdgekitError` into a clean error message, and ``edgekit
info``; each other module adds the commands of one layer or application.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from edgekit import __version__

__all__ = ["main"]

_MISSING_CLI = 'the edgekit command needs the "cli" extra: pip install "edgekit[cli]"\n'


def _make_cli() -> Any:
    """The ``edgekit`` click group, with every command (imports click)."""
    from edgekit._cli.root import cli

    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``edgekit`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(f"edgekit, version {__version__}")
        return 0
    try:
        import click
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write(_MISSING_CLI)
        return 2
    try:
        result = _make_cli().main(args=args, prog_name="edgekit", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0
