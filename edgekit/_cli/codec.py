"""``edgekit codec``: compress and decompress ``.npy`` files, describe frames."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.group()
def codec() -> None:
    """Lossless compression of numeric arrays (.npy) into edgekit frames."""


@codec.command("compress")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--level", type=click.IntRange(1, 2), default=None, help="1 = no Huffman stage.")
def codec_compress(source: str, target: str, level: int | None) -> None:
    """Compress the array in SOURCE (.npy) into the frame file TARGET."""
    import numpy as np

    from edgekit.codec import compress

    try:
        array = np.load(source, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    frame = compress(array, level=level)
    with open(target, "wb") as fh:
        fh.write(frame)
    ratio = array.nbytes / len(frame) if frame else 0.0
    click.echo(f"{array.nbytes} -> {len(frame)} bytes ({ratio:.2f}x)")


@codec.command("decompress")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
def codec_decompress(source: str, target: str) -> None:
    """Decode the frame file SOURCE into TARGET (.npy)."""
    import numpy as np

    from edgekit.codec import decompress

    with open(source, "rb") as fh:
        array = decompress(fh.read())
    np.save(target, array, allow_pickle=False)
    click.echo(f"{array.dtype} {array.shape}")


@codec.command("info")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
def codec_info(source: str) -> None:
    """Describe the frame file SOURCE: dtype, shape and the scheme of each block."""
    from edgekit.codec import frame_info

    with open(source, "rb") as fh:
        info = frame_info(fh.read())
    click.echo(f"dtype {info.dtype}, shape {info.shape}, {info.nbytes} bytes")
    for i, (scheme, size) in enumerate(zip(info.schemes, info.block_bytes, strict=True)):
        click.echo(f"block {i}: {scheme}, {size} bytes")


COMMANDS = [codec]
