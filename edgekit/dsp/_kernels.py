"""Numba kernels of edgekit.dsp (imported lazily by the public modules)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from edgekit._jit import njit
from edgekit.dsp import _frontend_tables as _T

# --------------------------------------------------------------------------
# TFLite Micro audio frontend, integer arithmetic as in the C original
# --------------------------------------------------------------------------

_FE_WIN = np.array(_T.WINDOW, dtype=np.int64)
_FE_SIZE = _T.WINDOW_SIZE
_FE_STEP = _T.WINDOW_STEP
_FE_NCH = _T.NUM_CHANNELS
_FE_NFFT = _T.FFT_SIZE // 2  # complex FFT length inside kiss_fftr
_FE_TW = np.array(_T.TWIDDLES, dtype=np.int64)
_FE_STW = np.array(_T.SUPER_TWIDDLES, dtype=np.int64)
_FE_FB_START = _T.FB_START_INDEX
_FE_FB_END = _T.FB_END_INDEX
_FE_FB_FSTART = np.array(_T.FB_FREQ_STARTS, dtype=np.int64)
_FE_FB_WSTART = np.array(_T.FB_WEIGHT_STARTS, dtype=np.int64)
_FE_FB_WIDTH = np.array(_T.FB_WIDTHS, dtype=np.int64)
_FE_FB_W = np.array(_T.FB_WEIGHTS, dtype=np.int64)
_FE_FB_UW = np.array(_T.FB_UNWEIGHTS, dtype=np.int64)
_FE_NR_BITS = _T.NR_SMOOTHING_BITS
_FE_NR_EVEN = _T.NR_EVEN_SMOOTHING
_FE_NR_ODD = _T.NR_ODD_SMOOTHING
_FE_NR_MIN = _T.NR_MIN_SIGNAL_REMAINING
_FE_SNR_SHIFT = _T.PCAN_SNR_SHIFT
_FE_GAIN_LUT = np.array(_T.PCAN_GAIN_LUT, dtype=np.int64)
_FE_CORR = _T.LOG_CORRECTION_BITS
_FE_LOG_SHIFT = _T.LOG_SCALE_SHIFT
_FE_LOG_LUT = np.array(_T.LOG_LUT, dtype=np.int64)


def _digit_reverse4(n: int) -> np.ndarray:
    digits = 0
    while (1 << (2 * digits)) < n:
        digits += 1
    out = np.empty(n, dtype=np.int64)
    for pos in range(n):
        rev, v = 0, pos
        for _ in range(digits):
            rev = rev * 4 + (v & 3)
            v >>= 2
        out[pos] = rev
    return out


_FE_PERM = _digit_reverse4(_FE_NFFT)


def _filterbank_records() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bin, channel, weight, unweight) of every bin with a non-zero weight or unweight.

    The C code walks each channel's zero-padded, aligned run of bins; only these
    bins contribute (its padding weights are zero), and integer sums do not
    depend on the order.
    """
    rec: list[tuple[int, int, int, int]] = []
    for c in range(_FE_NCH + 1):
        fs = int(_FE_FB_FSTART[c])
        ws = int(_FE_FB_WSTART[c])
        for j in range(int(_FE_FB_WIDTH[c])):
            w = int(_FE_FB_W[ws + j])
            u = int(_FE_FB_UW[ws + j])
            if w or u:
                rec.append((fs + j, c, w, u))
    arr = np.array(rec, dtype=np.int64).reshape(-1, 4)
    return (
        np.ascontiguousarray(arr[:, 0]),
        np.ascontiguousarray(arr[:, 1]),
        np.ascontiguousarray(arr[:, 2]),
        np.ascontiguousarray(arr[:, 3]),
    )


_FE_REC_BIN, _FE_REC_CH, _FE_REC_W, _FE_REC_U = _filterbank_records()
_FE_NREC = _FE_REC_BIN.shape[0]
_M32 = 0xFFFFFFFF


@njit(inline="always")
def _w16(v):
    """Wrap to int16 as a C store into ``int16_t`` does."""
    return ((v + 32768) & 0xFFFF) - 32768


@njit(inline="always")
def _sr(x):
    """``sround`` where the result provably fits int16 (no wrap needed)."""
    return (x + 16384) >> 15


@njit(inline="always")
def _sround(x):
    return _w16((x + 16384) >> 15)


@intrinsic
def _ctlz64(typingctx, v):
    """Count leading zeros of an int64 (64 for 0): LLVM's ctlz."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@njit(inline="always")
def _msb(v):
    """MostSignificantBit of a non-negative value (0 for 0)."""
    return 64 - _ctlz64(v)  # type: ignore[call-arg]


@njit
def _fe_sqrt_u64(num_signed):
    """Sqrt64 of the C frontend; the argument is a uint64 held in an int64."""
    num = np.uint64(num_signed)
    if (num >> np.uint64(32)) == np.uint64(0):
        n = np.int64(num)
        if n == 0:
            return np.int64(0)
        r = np.int64(np.sqrt(np.float64(n)))
        while r * r > n:
            r -= 1
        while (r + 1) * (r + 1) <= n:
            r += 1
        if n - r * r > r and r != 0xFFFF:
            r += 1
        return r
    if num_signed > 0 and num_signed < (np.int64(1) << 62):
        n = num_signed
        r = np.int64(np.sqrt(np.float64(n)))
        while r * r > n:
            r -= 1
        while (r + 1) * (r + 1) <= n:
            r += 1
        if n - r * r > r and r != 0xFFFFFFFF:
            r += 1
        return r
    # Huge values (only reachable through the C code's int32 overflow): bit by bit.
    res = np.uint64(0)
    msb = 0
    v = num
    while v > np.uint64(0):
        v >>= np.uint64(1)
        msb += 1
    max_bit = (64 - msb) | 1
    bit = np.uint64(1) << np.uint64(63 - max_bit)
    iterations = (63 - max_bit) // 2 + 1
    for _ in range(iterations):
        if num >= res + bit:
            num -= res + bit
            res = (res >> np.uint64(1)) + bit
        else:
            res >>= np.uint64(1)
        bit >>= np.uint64(2)
    if num > res and res != np.uint64(0xFFFFFFFF):
        res += np.uint64(1)
    return np.int64(res)


@njit
def _fe_frame(src, off, estimate, out_row, fr, fi, tr, ti, energy, work):
    """One frontend frame from ``src[off:off+480]``; updates ``estimate``."""
    size = _FE_SIZE
    nfft = _FE_NFFT
    # window
    max_abs = 0
    wout = tr  # reuse scratch: tr[0:size] holds the windowed signal temporarily
    seg = src[off : off + size]
    for i in range(size):
        v = (np.int64(seg[i]) * _FE_WIN[i]) >> 12
        v = _w16(v)
        wout[i] = v
        a = -v if v < 0 else v
        a = _w16(a)
        if a > max_abs:
            max_abs = a
    shift = 15 - _msb(max_abs)
    # real input (512, zero padded) as 256 complex values, digit-reversed
    for i in range(size, 2 * nfft):
        wout[i] = 0
    for p in range(nfft):
        q = 2 * _FE_PERM[p]
        fr[p] = _w16((wout[q] & 0xFFFF) << shift)
        fi[p] = _w16((wout[q + 1] & 0xFFFF) << shift)
    # radix-4 stages (kf_bfly4, forward). Wraps to int16 are emulated where a sum can
    # overflow; after the 1/4 scaling (|x| <= 8191) and a unit twiddle (|x| <= 11585)
    # the intermediate values provably fit, so those stores need no wrap.
    m = 1
    while m < nfft:
        fstride = nfft // (4 * m)
        for base in range(0, nfft, 4 * m):
            for k in range(m):
                i0 = base + k
                i1 = i0 + m
                i2 = i1 + m
                i3 = i2 + m
                f0r = _sr(fr[i0] * 8191)
                f0i = _sr(fi[i0] * 8191)
                f1r = _sr(fr[i1] * 8191)
                f1i = _sr(fi[i1] * 8191)
                f2r = _sr(fr[i2] * 8191)
                f2i = _sr(fi[i2] * 8191)
                f3r = _sr(fr[i3] * 8191)
                f3i = _sr(fi[i3] * 8191)
                t1 = k * fstride
                t2 = 2 * t1
                t3 = 3 * t1
                w1r = _FE_TW[t1, 0]
                w1i = _FE_TW[t1, 1]
                w2r = _FE_TW[t2, 0]
                w2i = _FE_TW[t2, 1]
                w3r = _FE_TW[t3, 0]
                w3i = _FE_TW[t3, 1]
                s0r = _sr(f1r * w1r - f1i * w1i)
                s0i = _sr(f1r * w1i + f1i * w1r)
                s1r = _sr(f2r * w2r - f2i * w2i)
                s1i = _sr(f2r * w2i + f2i * w2r)
                s2r = _sr(f3r * w3r - f3i * w3i)
                s2i = _sr(f3r * w3i + f3i * w3r)
                s5r = f0r - s1r
                s5i = f0i - s1i
                f0r = f0r + s1r
                f0i = f0i + s1i
                s3r = s0r + s2r
                s3i = s0i + s2i
                s4r = s0r - s2r
                s4i = s0i - s2i
                fr[i2] = _w16(f0r - s3r)
                fi[i2] = _w16(f0i - s3i)
                fr[i0] = _w16(f0r + s3r)
                fi[i0] = _w16(f0i + s3i)
                fr[i1] = _w16(s5r + s4i)
                fi[i1] = _w16(s5i - s4r)
                fr[i3] = _w16(s5r - s4i)
                fi[i3] = _w16(s5i + s4r)
        m *= 4
    # kiss_fftr post-processing into (tr, ti) of length nfft + 1; halves fit int16
    # (|x| <= 16383), so only the twiddle product can wrap
    tdcr = _sround(fr[0] * 16383)
    tdci = _sround(fi[0] * 16383)
    tr[0] = _w16(tdcr + tdci)
    tr[nfft] = _w16(tdcr - tdci)
    ti[0] = 0
    ti[nfft] = 0
    for k in range(1, nfft // 2 + 1):
        pkr = _sr(fr[k] * 16383)
        pki = _sr(fi[k] * 16383)
        nkr = _sr(fr[nfft - k] * 16383)
        nki = _sr(_w16(-fi[nfft - k]) * 16383)
        f1kr = pkr + nkr
        f1ki = pki + nki
        f2kr = pkr - nkr
        f2ki = pki - nki
        swr = _FE_STW[k - 1, 0]
        swi = _FE_STW[k - 1, 1]
        twr = _sround(f2kr * swr - f2ki * swi)
        twi = _sround(f2kr * swi + f2ki * swr)
        tr[k] = (f1kr + twr) >> 1
        ti[k] = (f1ki + twi) >> 1
        tr[nfft - k] = (f1kr - twr) >> 1
        ti[nfft - k] = (twi - f1ki) >> 1
    # filterbank: channel c sums its bins' weighted energy and channel c-1's unweighted;
    # energy is int32 in C, a wrapped value is sign-extended when widened (int64 sums
    # wrap like the C code's uint64 ones)
    work[:] = 0
    for r in range(_FE_NREC):
        b = _FE_REC_BIN[r]
        e = tr[b] * tr[b] + ti[b] * ti[b]
        if e > 0x7FFFFFFF:
            e -= np.int64(1) << 32
        c = _FE_REC_CH[r]
        work[c] += _FE_REC_W[r] * e
        work[c + 1] += _FE_REC_U[r] * e
    for c in range(_FE_NCH):
        sig = (_fe_sqrt_u64(work[c + 1]) & _M32) >> shift
        # noise reduction
        smoothing = _FE_NR_EVEN if (c & 1) == 0 else _FE_NR_ODD
        one_minus = (1 << 14) - smoothing
        up = (sig << _FE_NR_BITS) & _M32
        est = ((up * smoothing + estimate[c] * one_minus) >> 14) & _M32
        estimate[c] = est
        if est > up:
            est = up
        floor = ((sig * _FE_NR_MIN) >> 14) & _M32
        sub = ((up - est) & _M32) >> _FE_NR_BITS
        sig = sub if sub > floor else floor
        # PCAN gain control (gain from the smoothed noise estimate)
        x = estimate[c]
        if x <= 2:
            gain = _FE_GAIN_LUT[x]
        else:
            interval = _msb(x)
            lo = 4 * interval - 6
            frac = (
                ((x << (11 - interval)) & _M32) & 0x3FF
                if interval < 11
                else (x >> (interval - 11)) & 0x3FF
            )
            res = (_FE_GAIN_LUT[lo + 2] * frac) >> 5
            res += _w32(((_FE_GAIN_LUT[lo + 1] & _M32) << 5) & _M32)
            res = _w32(res * frac)
            res = (res + (1 << 14)) >> 15
            res += _FE_GAIN_LUT[lo]
            gain = _w16(res)
        gain &= _M32
        snr = ((sig * gain) >> _FE_SNR_SHIFT) & _M32
        sig = ((snr * snr) >> 20) if snr < (2 << 12) else ((snr >> 6) - 64)
        # log scale
        value = sig
        if _FE_CORR < 0:
            value >>= -_FE_CORR
        else:
            value = (value << _FE_CORR) & _M32
        if value > 1:
            integer = _msb(value) - 1
            frac2 = value - (np.int64(1) << integer)
            frac2 = _w32(frac2)
            if integer < 16:
                frac2 = _w32(frac2 << (16 - integer))
            else:
                frac2 >>= integer - 16
            base_seg = (frac2 & _M32) >> 9
            c0 = _FE_LOG_LUT[base_seg]
            c1 = _FE_LOG_LUT[base_seg + 1]
            seg_base = 512 * base_seg
            rel = _w32((c1 - c0) * (frac2 - seg_base)) >> 16
            fraction = (frac2 + c0 + rel) & _M32
            log2 = ((integer << 16) + fraction) & _M32
            loge = ((45426 * log2 + 32768) >> 16) & _M32
            value = ((((loge << _FE_LOG_SHIFT) & _M32) + 32768) & _M32) >> 16
        else:
            value = 0
        out_row[c] = value if value < 0xFFFF else 0xFFFF


@njit(inline="always")
def _w32(v):
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit
def frontend_process(samples, buf, state, estimate):
    """Feed int16 ``samples``; return the (n, 40) uint16 frames they complete.

    ``buf`` (int16, window size) holds ``state[0]`` carried samples;
    ``estimate`` (int64, 40) is the noise estimate.
    """
    used = state[0]
    n = samples.shape[0]
    total = used + n
    if total < _FE_SIZE:
        buf[used:total] = samples
        state[0] = total
        return np.empty((0, _FE_NCH), dtype=np.uint16)
    nframes = (total - _FE_SIZE) // _FE_STEP + 1
    ext = np.empty(total, dtype=np.int16)
    ext[:used] = buf[:used]
    ext[used:] = samples
    out = np.empty((nframes, _FE_NCH), dtype=np.uint16)
    fr = np.empty(_FE_NFFT, dtype=np.int64)
    fi = np.empty(_FE_NFFT, dtype=np.int64)
    tr = np.zeros(max(_FE_SIZE, 2 * _FE_NFFT), dtype=np.int64)
    ti = np.zeros(_FE_NFFT + 1, dtype=np.int64)
    energy = np.zeros(_FE_NFFT + 1, dtype=np.int64)
    work = np.zeros(_FE_NCH + 2, dtype=np.int64)
    row = np.empty(_FE_NCH, dtype=np.int64)
    for f in range(nframes):
        _fe_frame(ext, f * _FE_STEP, estimate, row, fr, fi, tr, ti, energy, work)
        for c in range(_FE_NCH):
            out[f, c] = row[c]
    rest = total - nframes * _FE_STEP
    buf[:rest] = ext[nframes * _FE_STEP :]
    state[0] = rest
    return out


# --------------------------------------------------------------------------
# Spectral features (librosa conventions); FFT is numpy.fft inside numba (rocket-fft)
# --------------------------------------------------------------------------


_CHUNK = 16  # frames per FFT call: small buffers stay in cache (and off mmap)


@njit
def _fill_frames(frames, y, offset, t0, n, window, lo, hi, hop):
    """Windowed frames ``t0 .. t0+n`` of ``y``; samples outside ``y`` are zeros (centre padding)."""
    ny = y.shape[0]
    for t in range(n):
        off = offset + (t0 + t) * hop
        if off + lo >= 0 and off + hi <= ny:
            # slices keep the indices provably non-negative, so the loop vectorises
            seg = y[off + lo : off + hi]
            wseg = window[lo:hi]
            row = frames[t, lo:hi]
            for i in range(hi - lo):
                row[i] = seg[i] * wseg[i]
        else:
            for i in range(lo, hi):
                k = off + i
                frames[t, i] = y[k] * window[i] if 0 <= k < ny else 0.0


@njit
def stft_frames(y, offset, window, lo, hi, n_fft, hop, n_frames):
    """Complex STFT (bins, frames); frame t starts at ``offset + t * hop`` (zeros outside ``y``)."""
    frames = np.zeros((n_frames, n_fft))
    _fill_frames(frames, y, offset, 0, n_frames, window, lo, hi, hop)
    spec = np.fft.rfft(frames)
    return spec.T.copy()


@njit
def _bin_major(bstart, blen, bvals, boff, nb):
    """The mel filters indexed by FFT bin: for bin f, entries ``ptr[f]:ptr[f+1]`` of (mel, weight)."""
    n_mels = bstart.shape[0]
    ptr = np.zeros(nb + 1, dtype=np.int64)
    for m in range(n_mels):
        for j in range(blen[m]):
            ptr[bstart[m] + j + 1] += 1
    for f in range(nb):
        ptr[f + 1] += ptr[f]
    fill = ptr[:-1].copy()
    mel_of = np.empty(ptr[nb], dtype=np.int64)
    weight = np.empty(ptr[nb])
    for m in range(n_mels):
        o = boff[m]
        for j in range(blen[m]):
            f = bstart[m] + j
            mel_of[fill[f]] = m
            weight[fill[f]] = bvals[o + j]
            fill[f] += 1
    return ptr, mel_of, weight


@njit
def mel_spectrogram(
    y, offset, window, lo, hi, n_fft, hop, n_frames, power, bstart, blen, bvals, boff
):
    """Mel spectrogram (mels, frames); frame t starts at ``offset + t * hop`` (zeros outside ``y``).

    Per chunk of frames, each FFT bin's power is computed for the chunk's frames
    (a short vector kept in L1) and added to the few mel bands whose filter covers
    the bin; bins outside every filter are skipped.
    """
    n_mels = bstart.shape[0]
    nb = n_fft // 2 + 1
    ptr, mel_of, weight = _bin_major(bstart, blen, bvals, boff, nb)
    out = np.empty((n_mels, n_frames))
    chunk = max(1, min(_CHUNK, n_frames))  # a streamed block often completes one frame
    frames = np.zeros((chunk, n_fft))
    acc = np.empty((n_mels, chunk))
    p = np.zeros(chunk)
    for t0 in range(0, n_frames, chunk):
        n = min(chunk, n_frames - t0)
        _fill_frames(frames, y, offset, t0, n, window, lo, hi, hop)
        spec = np.fft.rfft(frames[:n])
        acc[:, :] = 0.0
        for f in range(nb):
            e0 = ptr[f]
            e1 = ptr[f + 1]
            if e0 == e1:
                continue
            if power == 2.0:
                for t in range(n):
                    c = spec[t, f]
                    p[t] = c.real * c.real + c.imag * c.imag
            elif power == 1.0:
                for t in range(n):
                    c = spec[t, f]
                    p[t] = np.sqrt(c.real * c.real + c.imag * c.imag)
            else:
                for t in range(n):
                    c = spec[t, f]
                    p[t] = np.sqrt(c.real * c.real + c.imag * c.imag) ** power
            for e in range(e0, e1):
                row = acc[mel_of[e]]
                v = weight[e]
                for t in range(chunk):
                    row[t] += v * p[t]
        out[:, t0 : t0 + n] = acc[:, :n]
    return out


_DB_PER_NEPER = 10.0 / np.log(10.0)


@njit
def power_to_db_inplace(s, amin, ref_db, top_db):
    """10 log10(max(amin, s)) - ref_db, then floored at max - top_db (``top_db`` < 0: off)."""
    flat = s.reshape(-1)
    mx = -np.inf
    for i in range(flat.shape[0]):
        v = flat[i]
        if v < amin:
            v = amin
        v = np.log(v) * _DB_PER_NEPER - ref_db  # 10 log10(v); log is faster than log10
        flat[i] = v
        if v > mx:
            mx = v
    if top_db >= 0.0:
        floor = mx - top_db
        for i in range(flat.shape[0]):
            if flat[i] < floor:
                flat[i] = floor
    return s


@njit
def dct_rows(s, dct):
    """``dct @ s``: (n_out, n_mels) times (n_mels, frames)."""
    n_out = dct.shape[0]
    n_in = dct.shape[1]
    n_frames = s.shape[1]
    out = np.zeros((n_out, n_frames))
    for k in range(n_out):
        for m in range(n_in):
            d = dct[k, m]
            for t in range(n_frames):
                out[k, t] += d * s[m, t]
    return out


@njit
def mfcc_features(
    y,
    offset,
    window,
    lo,
    hi,
    n_fft,
    hop,
    n_frames,
    power,
    bstart,
    blen,
    bvals,
    boff,
    amin,
    ref_db,
    top_db,
    dct,
):
    """MFCC (n_mfcc, frames) of the already padded ``y``."""
    mel = mel_spectrogram(
        y, offset, window, lo, hi, n_fft, hop, n_frames, power, bstart, blen, bvals, boff
    )
    power_to_db_inplace(mel, amin, ref_db, top_db)
    return dct_rows(mel, dct)


@njit
def _all_finite(x):
    for i in range(x.shape[0]):
        v = x[i]
        if not np.isfinite(v):
            return False
    return True


# Parameter packing of a feature stream (one float64 and one int64 array, so that a
# streamed block costs one dispatch with five arguments).
# ip: kind, n_fft, hop, lo, hi, n_mels, n_mfcc, block_size, then bstart, blen, boff (n_mels each)
# fp: power, amin, ref_db, window (n_fft), bvals (sum of blen), dct (n_mfcc * n_mels)
IP_HEAD = 8
FP_HEAD = 3


@njit
def _stream_core(block, buf, state, fp, ip):
    kind = ip[0]
    n_fft = ip[1]
    hop = ip[2]
    lo = ip[3]
    hi = ip[4]
    n_mels = ip[5]
    n_mfcc = ip[6]
    bstart = ip[IP_HEAD : IP_HEAD + n_mels]
    blen = ip[IP_HEAD + n_mels : IP_HEAD + 2 * n_mels]
    boff = ip[IP_HEAD + 2 * n_mels : IP_HEAD + 3 * n_mels]
    power = fp[0]
    amin = fp[1]
    ref_db = fp[2]
    window = fp[FP_HEAD : FP_HEAD + n_fft]
    nvals = boff[n_mels - 1] + blen[n_mels - 1]
    bvals = fp[FP_HEAD + n_fft : FP_HEAD + n_fft + nvals]
    d0 = FP_HEAD + n_fft + nvals
    n_out = n_mels if kind < 2 else n_mfcc
    if not _all_finite(block):
        return np.empty((0, 0))
    scale = 1.0 / 32768.0 if block.itemsize == 2 else 1.0
    used = state[0]
    n = block.shape[0]
    total = used + n
    if total < n_fft:
        for i in range(n):
            buf[used + i] = block[i] * scale
        state[0] = total
        return np.empty((n_out, 0))
    n_frames = (total - n_fft) // hop + 1
    ext = np.empty(total)
    ext[:used] = buf[:used]
    for i in range(n):
        ext[used + i] = block[i] * scale
    mel = mel_spectrogram(
        ext, 0, window, lo, hi, n_fft, hop, n_frames, power, bstart, blen, bvals, boff
    )
    rest = total - n_frames * hop
    buf[:rest] = ext[n_frames * hop :]
    state[0] = rest
    if kind == 0:
        return mel
    power_to_db_inplace(mel, amin, ref_db, -1.0)
    if kind == 1:
        return mel
    dct = fp[d0 : d0 + n_mfcc * n_mels].reshape((n_mfcc, n_mels))
    return dct_rows(mel, dct)


@njit
def feature_stream_f64(block, buf, state, fp, ip):
    """Frames completed by ``block`` as float64 (n_out, frames); (0, 0) means non-finite input."""
    return _stream_core(block, buf, state, fp, ip)


@njit
def feature_stream_f32(block, buf, state, fp, ip):
    """As :func:`feature_stream_f64`, returned as float32."""
    return _stream_core(block, buf, state, fp, ip).astype(np.float32)


# --------------------------------------------------------------------------
# Filters, levels, resampling
# --------------------------------------------------------------------------


@njit
def sosfilt_f64(sos, x, zi):
    """Cascade of second-order sections, direct form II transposed; ``zi`` (n, 2) updated.

    Sample by sample through all sections (the sections' recursions overlap in the
    CPU, unlike section by section). Returns float64 output; an empty (0,) array
    means non-finite input (state untouched).
    """
    if not _all_finite(x):
        return np.empty(0)
    scale = 1.0 / 32768.0 if x.itemsize == 2 else 1.0
    n = x.shape[0]
    ns = sos.shape[0]
    y = np.empty(n)
    z = zi.copy()
    for i in range(n):
        v = x[i] * scale
        for s in range(ns):
            yi = sos[s, 0] * v + z[s, 0]
            z[s, 0] = sos[s, 1] * v - sos[s, 4] * yi + z[s, 1]
            z[s, 1] = sos[s, 2] * v - sos[s, 5] * yi
            v = yi
        y[i] = v
    zi[:] = z
    return y


@njit
def sosfilt_f32(sos, x, zi):
    """As :func:`sosfilt_f64`, returned as float32."""
    return sosfilt_f64(sos, x, zi).astype(np.float32)


@njit
def preemphasis_f64(x, coef, zi):
    """``y[n] = x[n] - coef * x[n-1]``; ``zi[0]`` is the state added to ``y[0]``; updated."""
    if not _all_finite(x):
        return np.empty(0)
    scale = 1.0 / 32768.0 if x.itemsize == 2 else 1.0
    n = x.shape[0]
    y = np.empty(n)
    z = zi[0]
    for i in range(n):
        xi = x[i] * scale
        y[i] = xi + z
        z = -coef * xi
    zi[0] = z
    return y


@njit
def preemphasis_f32(x, coef, zi):
    """As :func:`preemphasis_f64`, returned as float32."""
    return preemphasis_f64(x, coef, zi).astype(np.float32)


@njit
def block_level(x):
    """(mean square, peak |x|) of a block (full scale 1.0; int16 scaled by 1/32768); (-1, -1): non-finite."""
    scale = 1.0 / 32768.0 if x.itemsize == 2 else 1.0
    acc = 0.0
    peak = 0.0
    for i in range(x.shape[0]):
        v = x[i] * scale
        if not np.isfinite(v):
            return -1.0, -1.0
        acc += v * v
        a = abs(v)
        if a > peak:
            peak = a
    return acc / x.shape[0], peak


@njit
def resample_stream(x, hr, up, down, hist, state, final):
    """Polyphase ``upfirdn(h, x, up, down)`` output samples computable from the inputs so far.

    ``hr[p]`` holds phase ``p``'s taps reversed (``h[p + up * m]`` at ``L - 1 - m``);
    ``hist`` the last ``len(hist)`` inputs (older first, zeros before the start);
    ``state`` = [inputs seen, outputs emitted, outputs still to skip, outputs in
    total when final]. With ``final`` the inputs past the end count as zeros and
    output stops at ``state[3]``. Returns (float64 samples, ok); ``ok`` is False
    for non-finite input, and then the state is untouched.
    """
    if not _all_finite(x):
        return np.empty(0), False
    scale = 1.0 / 32768.0 if x.itemsize == 2 else 1.0
    nh = hist.shape[0]
    taps = hr.shape[1]
    n = x.shape[0]
    n_seen = state[0]
    tail = taps + down // up + 2 if final else 0
    ext = np.zeros(nh + n + tail)
    ext[:nh] = hist
    for i in range(n):
        ext[nh + i] = x[i] * scale
    base = n_seen - nh
    n_total_in = n_seen + n
    j0 = state[1]
    j_end = state[3] if final else (n_total_in * up + down - 1) // down  # j*down < n_in*up
    count = max(0, j_end - j0)
    out = np.empty(count)
    for w in range(count):
        t = (j0 + w) * down
        i_hi = t // up
        seg = ext[i_hi - (taps - 1) - base : i_hi + 1 - base]
        coef = hr[t - i_hi * up]
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        k = 0
        while k + 4 <= taps:
            a0 += coef[k] * seg[k]
            a1 += coef[k + 1] * seg[k + 1]
            a2 += coef[k + 2] * seg[k + 2]
            a3 += coef[k + 3] * seg[k + 3]
            k += 4
        while k < taps:
            a0 += coef[k] * seg[k]
            k += 1
        out[w] = (a0 + a1) + (a2 + a3)
    state[0] = n_total_in
    state[1] = j0 + count
    hist[:] = ext[n : n + nh]
    skip = state[2]
    if skip > 0:
        drop = min(skip, count)
        state[2] = skip - drop
        return out[drop:].copy(), True
    return out, True
