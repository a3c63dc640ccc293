"""Generate ``_frontend_tables.py``: the integer tables of the TFLite Micro audio frontend.

The C frontend (``tensorflow/lite/experimental/microfrontend/lib``) builds its
window, mel filterbank and PCAN gain tables at start-up with float32 libm calls
(``cosf``, ``log1pf``, ``powf``) and the fixed-point kissfft twiddles with double
``cos``/``sin``. This script replays those computations step by step with the
same float32 rounding (numpy float32 scalars for the arithmetic, the C library's
own functions through ctypes for the transcendental calls) and writes the
resulting integers as a Python module, so that edgekit's frontend does not depend
on the libm of the machine it runs on.

Configuration (the one microWakeWord and ``pymicro-features`` use): 16 kHz,
30 ms window, 10 ms step, 40 channels from 125 Hz to 7500 Hz, noise reduction
(smoothing bits 10, even 0.025, odd 0.06, min signal remaining 0.05), PCAN
(strength 0.95, offset 80, gain bits 21), log scale (shift 6).

Run: ``python -m edgekit.dsp._make_frontend_tables > edgekit/dsp/_frontend_tables.py``
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

F = np.float32
SAMPLE_RATE = 16000
WINDOW_MS = 30
STEP_MS = 10
NUM_CHANNELS = 40
LOWER_HZ = 125.0
UPPER_HZ = 7500.0
WINDOW_BITS = 12
FILTERBANK_BITS = 12
NOISE_REDUCTION_BITS = 14
SMOOTHING_BITS = 10
EVEN_SMOOTHING = 0.025
ODD_SMOOTHING = 0.06
MIN_SIGNAL_REMAINING = 0.05
PCAN_STRENGTH = 0.95
PCAN_OFFSET = 80.0
PCAN_GAIN_BITS = 21
PCAN_SNR_BITS = 12
WIDE_DYNAMIC_FUNCTION_BITS = 32
CHANNEL_BLOCK_SIZE = 4
INDEX_ALIGNMENT = 2  # kFilterbankIndexAlignment (4 bytes) / sizeof(int16_t)

# log2(1 + x) - x correction in 128 segments, scaled by 2**16: the published
# constant table of the frontend's log scale (log_lut.c, kLogLut).
LOG_LUT = (
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163,
    2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848,
    3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934,
    5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
    5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633,
    5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370,
    5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762,
    4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659,
    2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224,
    1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _libm() -> ctypes.CDLL:
    """The C math library, whose float32 functions the C frontend calls."""
    lib = ctypes.CDLL(ctypes.util.find_library("m"))
    for name in ("cosf", "log1pf"):
        getattr(lib, name).restype = ctypes.c_float
        getattr(lib, name).argtypes = [ctypes.c_float]
    lib.powf.restype = ctypes.c_float
    lib.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    return lib


def cosf(x: np.float32) -> np.float32:
    result: np.float32 = np.float32(_libm().cosf(float(x)))
    return result


def log1pf(x: np.float32) -> np.float32:
    result: np.float32 = np.float32(_libm().log1pf(float(x)))
    return result


def powf(x: np.float32, y: np.float32) -> np.float32:
    result: np.float32 = np.float32(_libm().powf(float(x), float(y)))
    return result


def window_coefficients() -> list[int]:
    size = WINDOW_MS * SAMPLE_RATE // 1000
    arg = F(F(math.pi) * F(2.0)) / F(size)
    out = []
    for i in range(size):
        value = F(0.5) - F(F(0.5) * cosf(F(arg * F(F(i) + F(0.5)))))
        out.append(math.floor(F(F(value * F(1 << WINDOW_BITS)) + F(0.5))))
    return out


def kiss_twiddles(nfft: int) -> list[tuple[int, int]]:
    pi = 3.141592653589793238462643383279502884197169399375105820974944
    out = []
    for i in range(nfft):
        phase = -2 * pi * i / nfft
        out.append(
            (math.floor(0.5 + 32767 * math.cos(phase)), math.floor(0.5 + 32767 * math.sin(phase)))
        )
    return out


def kiss_super_twiddles(ncfft: int) -> list[tuple[int, int]]:
    out = []
    for i in range(ncfft // 2):
        phase = -3.14159265358979323846264338327 * (float(i + 1) / ncfft + 0.5)
        out.append(
            (math.floor(0.5 + 32767 * math.cos(phase)), math.floor(0.5 + 32767 * math.sin(phase)))
        )
    return out


def freq_to_mel(freq: np.float32) -> np.float32:
    result: np.float32 = np.float32(F(1127.0) * log1pf(F(freq / F(700.0))))
    return result


def filterbank(spectrum_size: int) -> dict[str, object]:
    n1 = NUM_CHANNELS + 1
    mel_low = freq_to_mel(F(LOWER_HZ))
    mel_hi = freq_to_mel(F(UPPER_HZ))
    mel_span = F(mel_hi - mel_low)
    mel_spacing = F(mel_span / F(n1))
    centers = [F(mel_low + F(mel_spacing * F(i + 1))) for i in range(n1)]
    hz_per_sbin = F(F(F(0.5) * F(SAMPLE_RATE)) / F(F(spectrum_size) - F(1)))
    start_index = int(F(F(1.5) + F(F(LOWER_HZ) / hz_per_sbin)))
    freq_starts = [0] * n1
    weight_starts = [0] * n1
    widths = [0] * n1
    actual_starts = [0] * n1
    actual_widths = [0] * n1
    chan_start = start_index
    weight_index_start = 0
    needs_zeros = False
    for chan in range(n1):
        freq_index = chan_start
        while freq_to_mel(F(F(freq_index) * hz_per_sbin)) <= centers[chan]:
            freq_index += 1
        width = freq_index - chan_start
        actual_starts[chan] = chan_start
        actual_widths[chan] = width
        if width == 0:
            freq_starts[chan] = 0
            weight_starts[chan] = 0
            widths[chan] = CHANNEL_BLOCK_SIZE
            if not needs_zeros:
                needs_zeros = True
                for j in range(chan):
                    weight_starts[j] += CHANNEL_BLOCK_SIZE
                weight_index_start += CHANNEL_BLOCK_SIZE
        else:
            aligned_start = (chan_start // INDEX_ALIGNMENT) * INDEX_ALIGNMENT
            aligned_width = chan_start - aligned_start + width
            padded = ((aligned_width - 1) // CHANNEL_BLOCK_SIZE + 1) * CHANNEL_BLOCK_SIZE
            freq_starts[chan] = aligned_start
            weight_starts[chan] = weight_index_start
            widths[chan] = padded
            weight_index_start += padded
        chan_start = freq_index
    weights = [0] * weight_index_start
    unweights = [0] * weight_index_start
    end_index = 0
    for chan in range(n1):
        frequency = actual_starts[chan]
        offset = frequency - freq_starts[chan]
        denom = mel_low if chan == 0 else centers[chan - 1]
        for j in range(actual_widths[chan]):
            weight = F(
                F(centers[chan] - freq_to_mel(F(F(frequency) * hz_per_sbin)))
                / F(centers[chan] - denom)
            )
            index = weight_starts[chan] + offset + j
            weights[index] = math.floor(F(F(weight * F(1 << FILTERBANK_BITS)) + F(0.5)))
            unweights[index] = math.floor(
                F(F(F(F(1.0) - weight) * F(1 << FILTERBANK_BITS)) + F(0.5))
            )
            frequency += 1
        end_index = max(end_index, frequency)
    assert end_index < spectrum_size
    return {
        "start_index": start_index,
        "end_index": end_index,
        "freq_starts": freq_starts,
        "weight_starts": weight_starts,
        "widths": widths,
        "weights": weights,
        "unweights": unweights,
    }


def pcan_lookup(input_bits: int, x: int) -> int:
    x_as_float = F(F(x) / F(1 << input_bits))
    gain = F(F(1 << PCAN_GAIN_BITS) * powf(F(x_as_float + F(PCAN_OFFSET)), F(-F(PCAN_STRENGTH))))
    if gain > F(0x7FFF):
        return 0x7FFF
    return int(F(gain + F(0.5)))  # C conversion truncates toward zero


def pcan_gain_lut(input_bits: int) -> list[int]:
    lut = [0] * (4 * WIDE_DYNAMIC_FUNCTION_BITS - 3)
    lut[0] = pcan_lookup(input_bits, 0)
    lut[1] = pcan_lookup(input_bits, 1)
    for interval in range(2, WIDE_DYNAMIC_FUNCTION_BITS + 1):
        x0 = 1 << (interval - 1)
        x1 = x0 + (x0 >> 1)
        x2 = x0 + (x0 - 1) if interval == WIDE_DYNAMIC_FUNCTION_BITS else 2 * x0
        y0 = pcan_lookup(input_bits, x0)
        y1 = pcan_lookup(input_bits, x1)
        y2 = pcan_lookup(input_bits, x2)
        diff1 = y1 - y0
        diff2 = y2 - y0
        a1 = 4 * diff1 - diff2
        a2 = diff2 - a1
        base = 4 * interval - 6
        lut[base] = y0
        lut[base + 1] = ((a1 + 0x8000) & 0xFFFF) - 0x8000
        lut[base + 2] = ((a2 + 0x8000) & 0xFFFF) - 0x8000
    return lut


def main() -> None:
    window_size = WINDOW_MS * SAMPLE_RATE // 1000
    fft_size = 1
    while fft_size < window_size:
        fft_size <<= 1
    spectrum_size = fft_size // 2 + 1
    fb = filterbank(spectrum_size)
    correction_bits = fft_size.bit_length() - 1 - FILTERBANK_BITS // 2
    input_bits = SMOOTHING_BITS - correction_bits
    values: dict[str, object] = {
        "SAMPLE_RATE": SAMPLE_RATE,
        "WINDOW_SIZE": window_size,
        "WINDOW_STEP": STEP_MS * SAMPLE_RATE // 1000,
        "FFT_SIZE": fft_size,
        "NUM_CHANNELS": NUM_CHANNELS,
        "WINDOW": window_coefficients(),
        "TWIDDLES": kiss_twiddles(fft_size // 2),
        "SUPER_TWIDDLES": kiss_super_twiddles(fft_size // 2),
        "FB_START_INDEX": fb["start_index"],
        "FB_END_INDEX": fb["end_index"],
        "FB_FREQ_STARTS": fb["freq_starts"],
        "FB_WEIGHT_STARTS": fb["weight_starts"],
        "FB_WIDTHS": fb["widths"],
        "FB_WEIGHTS": fb["weights"],
        "FB_UNWEIGHTS": fb["unweights"],
        "NR_SMOOTHING_BITS": SMOOTHING_BITS,
        # uint32 conversions of float products, as in noise_reduction_util.c
        "NR_EVEN_SMOOTHING": int(F(EVEN_SMOOTHING) * F(1 << NOISE_REDUCTION_BITS)),
        "NR_ODD_SMOOTHING": int(F(ODD_SMOOTHING) * F(1 << NOISE_REDUCTION_BITS)),
        "NR_MIN_SIGNAL_REMAINING": int(F(MIN_SIGNAL_REMAINING) * F(1 << NOISE_REDUCTION_BITS)),
        "PCAN_SNR_SHIFT": PCAN_GAIN_BITS - correction_bits - PCAN_SNR_BITS,
        "PCAN_GAIN_LUT": pcan_gain_lut(input_bits),
        "LOG_CORRECTION_BITS": correction_bits,
        "LOG_SCALE_SHIFT": 6,
        "LOG_LUT": list(LOG_LUT),
    }
    print('"""Integer tables of the TFLite Micro audio frontend (generated; do not edit).')
    print()
    print("Written by ``python -m edgekit.dsp._make_frontend_tables``; see that module.")
    print('"""')
    print()
    print("# fmt: off")
    print()
    for name, value in values.items():
        if isinstance(value, list):
            print(f"{name} = (")
            row: list[str] = []
            for item in value:
                row.append(f"({item[0]}, {item[1]})" if isinstance(item, tuple) else str(item))
                if len(row) == (6 if isinstance(item, tuple) else 12):
                    print("    " + ", ".join(row) + ",")
                    row = []
            if row:
                print("    " + ", ".join(row) + ",")
            print(")")
        else:
            print(f"{name} = {value}")


if __name__ == "__main__":
    main()
