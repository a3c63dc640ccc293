"""``edgekit dsp features``: features of a WAV file (frontend, MFCC, log-mel)."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["COMMANDS"]


@click.group()
def dsp() -> None:
    """Audio features and filters (edgekit.dsp)."""


@dsp.command()
@click.argument("wav", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(["frontend", "mfcc", "log-mel"]),
    default="frontend",
    show_default=True,
    help="frontend: microWakeWord's 40 uint16 features; mfcc: 13 MFCCs; log-mel: 40 dB bands.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="save the features as .npy")
def features(wav: str, kind: str, out: str | None) -> None:
    """Compute features of a 16-bit PCM WAV file (mixed to mono, resampled to 16 kHz)."""
    import numpy as np

    from edgekit import dsp as _dsp
    from edgekit.dsp._audio_input import to_int16
    from edgekit.pipelines._audio import load_wav

    mono = load_wav(wav, sr=16000)
    if kind == "frontend":
        result = _dsp.MicroFrontend().process(to_int16(mono))
    else:
        options: dict[str, Any] = {"sr": 16000, "n_fft": 512, "hop_length": 160, "win_length": 400}
        if kind == "mfcc":
            result = _dsp.mfcc(y=mono, n_mfcc=13, n_mels=40, **options).T
        else:
            result = _dsp.power_to_db(_dsp.melspectrogram(y=mono, n_mels=40, **options)).T
    click.echo(
        f"{wav}: {len(mono) / 16000:.2f} s -> {result.shape[0]} frames x {result.shape[1]} "
        f"{kind} features ({result.dtype}), min {result.min():.4g}, max {result.max():.4g}"
    )
    if out:
        np.save(out, result)
        click.echo(f"saved to {out}")


COMMANDS = [dsp]
