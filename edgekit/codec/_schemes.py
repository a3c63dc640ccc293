"""Block schemes of the series frame: choosing, encoding and decoding one block.

Integer lanes are ``uint64`` (signed dtypes sign-extended, unsigned zero-extended);
floats are handled by ALP, ALP_RD, byte-shuffle + LZ4 or a dictionary. The modes of
format version 2 (int-mult for integers, float-mult and float-quant for floats) are
tried when a planner finds them on a sample. Scheme ids and payload layouts are
specified in ``docs/codec-format.md``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import numpy as np

from edgekit._jit import kernel_view, lazy_kernels
from edgekit.codec._format import (
    ADJ_DENSE,
    ADJ_SPARSE,
    ALP,
    ALP_RD,
    COPY,
    DELTA,
    DICT,
    DOD,
    ERR_POSITION,
    ERR_SHORT,
    ERRORS,
    FDIV,
    FGRID,
    FIRST_V2_SCHEME,
    FLANES,
    FLOAT_SCHEMES,
    FMULT,
    FMULT_ADJ,
    FOR,
    FQUANT,
    HUFF,
    HUFF1,
    HUFF1_MAX_VALUES,
    INT_SCHEMES,
    LAG,
    LEVELS,
    MULT,
    RAW,
    REPEAT,
    REPEAT_DIV,
    RUNS,
    SCHEME_NAMES,
    SHUFFLE_LZ4,
    SPARSE,
    SPLIT,
    TOP_ONLY_FLOAT_SCHEMES,
    TOP_ONLY_INT_SCHEMES,
    WIDE_RANK,
)
from edgekit.codec._frame import Reader

#: The cost ``alp_choose`` gives when no (e, f) pair fits (the kernels' ``NEVER``).
NEVER = 1 << 62
#: Largest |x / base| the adjusted float-mult scheme codes as a multiple (else ``k`` is 0).
KMAX_ADJ = float(2**52)
U64 = np.dtype("<u8")
_I8 = np.dtype("<i8")

Array = np.ndarray[Any, Any]


#: The numba kernels, imported on first use (keeps ``import edgekit.codec`` numba-free).
kernels = lazy_kernels("codec")


def _bitlen(value: int) -> int:
    return int(value).bit_length()


def _words(count: int, width: int) -> int:
    return (count * width + 63) // 64


# --- integer lanes --------------------------------------------------------------------------

#: The newest scheme id of the integer lanes encoded since the ``compress`` call under way
#: last asked (a one-item list per call, in a context variable: threads and tasks keep
#: their own): a block whose nested lanes use the scheme of version 9 makes its frame
#: version 9. :func:`encode_float_block` and :func:`encode_int_block` keep only their
#: chosen candidate's; inside one scheme's payload a form not chosen may still count (the
#: repeat scheme builds two), so a frame may be marked 9 without holding id 22 (a reader of
#: format 8 then refuses a frame it might have read), never the other way round.
_NESTED: ContextVar[list[int]] = ContextVar("edgekit_codec_nested_scheme")


def track_nested() -> Any:
    """Start tracking nested schemes for one ``compress`` call; returns the token to hand
    to :func:`reset_nested` when done."""
    return _NESTED.set([0])


def reset_nested(token: Any) -> None:
    """End the tracking that :func:`track_nested` started."""
    _NESTED.reset(token)


def take_nested() -> int:
    """The newest nested scheme id noted since the last call (0: none), and forget it."""
    box = _NESTED.get(None)
    if box is None:
        return 0
    newest, box[0] = box[0], 0
    return newest


def _note(scheme: int) -> None:
    box = _NESTED.get(None)
    if box is not None and scheme > box[0]:
        box[0] = scheme


#: Int-mult is planned on lanes of at least this many values.
MULT_MIN_VALUES = 64

#: The single-stream huffman scheme is tried on lanes of at least this many values (the
#: huffman stage's own minimum) and fewer than HUFF1_MAX_VALUES ...
HUFF1_MIN_VALUES = 64
#: ... where it saves at most this many bytes of the four streams' payload (their lengths
#: and padding).
HUFF1_SLACK = 64


#: ``stats`` for kernels where the caller has none (they compute them where needed).
_NO_STATS = np.zeros(0, dtype=np.uint64)


def encode_int_lanes(
    u: Array,
    raw: Array | None,
    *,
    entropy: bool = True,
    modes: bool = False,
    third: bool = False,
    plan: tuple[int, int, int, int] | None = None,
    limit: int | None = None,
    stats: Array | None = None,
    beat: int | None = None,
) -> tuple[int, bytes | memoryview]:
    """Cheapest integer scheme for ``u`` (uint64 lanes); ``raw``: the values in their own
    dtype, whose bytes are the RAW payload (None: the lanes'); ``stats``: the lanes'
    ``int_stats`` where the caller has them.

    for/delta/delta-of-delta sizes come from the lanes' ranges; the huffman candidate is
    built when ``entropy`` is on, there are at least 64 values and the narrowest residual
    order is at least 2 bits wide (one kernel call does it all: ``_kernels.int_payload``).
    With ``modes``, int-mult (format version 2) and sparse (version 5), then wide-rank
    (version 3) when int-mult finds nothing, are tried too. With ``third`` (a block's own
    scheme, never nested lanes), the huffman candidate may take third differences: a lag
    block of lag 1 (version 6). ``plan`` is int-mult's plan of ``u`` where the caller has
    it. Where the caller has a payload of ``limit`` bytes (RAW above), nothing of that
    size or more is of use: a mode whose lanes code to it ends the search with RAW.
    ``beat`` is such a size too, where a payload no larger than without it is wanted: a
    mode is planned against twice it (sparse then tried where the mode came to that or
    more), the Huffman stage and wide-rank give up where they cannot come in under it.
    """
    k = kernels()
    raw_size = raw.nbytes if raw is not None else 8 * u.size
    if limit is not None:
        raw_size = min(raw_size, limit)
    # (a mode is planned against twice the size to beat: its estimates are not exact)
    mode_size = raw_size if beat is None else min(raw_size, 2 * beat)
    if modes and u.size >= MULT_MIN_VALUES:
        # The mode first (its planner costs ~5 us when it finds nothing). When it finds
        # one, its nested scheme already ran the Huffman stage on the divided-out lanes:
        # the other schemes are only bit-packed (the Huffman stage is the costly one).
        factor, offset, order, constant = plan if plan is not None else k.int_mult_plan(u)
        mult, built = u[:0].view(np.uint8), False
        if factor >= 2 or order > 0:
            mult, built = k.mult_planned(
                u,
                np.uint64(factor),
                np.uint64(offset),
                order,
                np.uint64(constant),
                entropy,
                mode_size,
            )
        if built and not mult.size and limit is not None:
            # (the mode holds but codes to the caller's limit or more: what it would
            # have been weighed against, bit-packed and sparse, are tried, no more)
            sparse = k.sparse_payload(u, raw_size)
            if sparse.size:
                return SPARSE, sparse.tobytes()
            scheme, payload = k.int_payload(u, False, raw_size, False)
            if scheme != RAW:
                return int(scheme), payload.tobytes()
            return RAW, _raw_payload(u, raw)
        if mult.size:
            # A nearly constant residual: its few exceptions as varints (version 5).
            best, best_scheme, limit = mult, MULT, mult.size
            # (not where int-mult took a constant residual without exceptions: a grid)
            order = int(mult[0])
            grid = order and not mult[17 + 8 * order : 21 + 8 * order].any()
            sparse = mult[:0] if grid else k.sparse_payload(u, mult.size)
            if sparse.size:
                # (a version-1 scheme of the same size keeps the frame as before)
                best, best_scheme, limit = sparse, SPARSE, sparse.size + 1
            scheme, payload = k.int_payload(u, False, limit, False)
            if scheme == RAW:  # nothing beats the mode
                return best_scheme, best.tobytes()
            return int(scheme), payload.tobytes()
        if mode_size < raw_size and (factor >= 2 or order > 0):
            # (the mode came to twice the size to beat or more: what it is weighed
            # against, sparse (whose floor counts 3 bytes an exception where it takes 2
            # or more) and bit-packed, are tried against that size)
            sparse = k.sparse_payload(u, mode_size + mode_size // 2 + 20)
            if sparse.size:
                scheme, payload = k.int_payload(u, False, sparse.size + 1, False)
                if scheme == RAW:
                    return SPARSE, sparse.tobytes()
                return int(scheme), payload.tobytes()
    beaten = raw_size  # (what the ranks must beat where nothing else comes in under it)
    if beat is not None and beat < raw_size:
        # (the single stream below saves the four streams' lengths and padding: a short
        # block's Huffman stage is of use up to that much above the size to beat)
        short = entropy and HUFF1_MIN_VALUES <= u.size < HUFF1_MAX_VALUES
        raw_size = min(raw_size, beat + (HUFF1_SLACK if short else 0))
        # (the ranks' estimates are weighed against what they must beat, here unknown
        # but above the size to beat: twice it, and the ranks kept only under it)
        beaten = min(beaten, 2 * raw_size)
    if stats is None:
        scheme, payload = k.int_payload(u, entropy, raw_size, third)
    else:
        scheme, payload = k.int_payload(u, entropy, raw_size, third, stats)
    if modes and entropy:
        # 2 to 255 distinct values or residuals (ADC counts of a sensor with a
        # non-integer scale, the steps of dates stored as YYYYMMDD): their ranks in a
        # dictionary, when smaller by 1/64 (version 3).
        ranked = k.wide_rank_payload(
            u, payload.size if scheme != RAW else beaten, _NO_STATS if stats is None else stats
        )
        if ranked.size and (scheme != RAW or ranked.size < raw_size):
            return WIDE_RANK, ranked.tobytes()
    if entropy and HUFF1_MIN_VALUES <= u.size < HUFF1_MAX_VALUES and FOR <= scheme <= HUFF:
        # A short block: the huffman stage in one stream (version 9) saves the four
        # streams' lengths and padding, about 16 bytes.
        order = int(payload[0]) if scheme == HUFF else scheme - FOR
        single = k.huff1_payload(u, order, payload.size)
        if single.size:
            _note(HUFF1)
            return HUFF1, single.tobytes()
    if scheme == RAW:
        return RAW, _raw_payload(u, raw)
    return int(scheme), payload.tobytes()


def _raw_payload(u: Array, raw: Array | None) -> bytes | memoryview:
    """The RAW payload of lanes ``u`` whose values are ``raw`` (None: the lanes'): a view
    of their bytes (a caller with a smaller candidate drops it: a clock's 512 KB block)."""
    a = u if raw is None else raw
    return a.data.cast("B") if a.flags.c_contiguous else a.tobytes()


def decode_int_lanes(
    scheme: int, rd: Reader, n: int, dtype: np.dtype[Any], out: Array | None = None
) -> Array:
    """Decode one block of ``n`` integer lanes (uint64) from the rest of ``rd`` into ``out``."""
    k = kernels()
    if out is None:
        out = np.empty(n, dtype=np.uint64)
    if scheme == RAW:
        raw = rd.array(dtype.str, n, "raw block")
        if dtype.kind == "i":
            out[:] = raw.astype(np.int64).view(np.uint64)
        else:
            out[:] = raw
        return out
    if scheme == LAG:
        _decode_lag(rd, n, out)
        return out
    if scheme == LEVELS:
        _decode_levels(rd, n, out)
        return out
    if scheme == RUNS:
        _decode_runs(rd, n, out)
        return out
    if scheme in (FOR, DELTA, DOD, HUFF, MULT, WIDE_RANK, SPARSE, HUFF1):
        buf = kernel_view(np.frombuffer(rd.view, dtype=np.uint8))
        if scheme == HUFF1:
            status, pos = k.decode_huff1_block(buf, rd.pos, len(buf), n, out)
        elif scheme == SPARSE:
            status, pos = k.decode_sparse_block(buf, rd.pos, len(buf), n, out)
        elif scheme == WIDE_RANK:
            status, pos = k.decode_wide_rank_block(buf, rd.pos, len(buf), n, out)
        elif scheme == MULT:
            status, pos = k.decode_mult_block(buf, rd.pos, len(buf), n, out)
        elif scheme == HUFF:
            status, pos = k.decode_huff_lanes(buf, rd.pos, len(buf), n, out)
        else:
            status, pos = k.decode_packed_block(buf, rd.pos, len(buf), scheme - FOR, n, out)
        if status != 0:
            raise rd.fail(f"{SCHEME_NAMES[scheme]} block: {ERRORS.get(status, 'corrupt')}")
        rd.pos = pos
        return out
    raise rd.fail(f"scheme {scheme} is not an integer scheme")


# --- floats ---------------------------------------------------------------------------------


#: Entries each of the planner's caches keeps: bounded, so that a long-running process
#: that compresses blocks of ever new lengths or bases does not grow without end.
CACHE_ENTRIES = 256


@lru_cache(maxsize=CACHE_ENTRIES)
def _sample_index(n: int, size: int) -> Array:
    """Evenly spaced positions (first and last included); cached, frames repeat sizes."""
    idx = (np.arange(size, dtype=np.int64) * (n - 1)) // (size - 1)
    idx.flags.writeable = False
    return idx


def _sample(x: Array, size: int) -> Array:
    if x.size <= size:
        return x
    return x[_sample_index(x.size, size)]


def alp_emax(x: Array) -> int:
    """Largest ALP exponent tried: 18 for float64, 10 for float32."""
    return 18 if x.dtype.itemsize == 8 else 10


def float_modes(x: Array, probe: Array) -> tuple[float, int]:
    """Frame-level plan of the format-2 float modes on a sample of ``x``: the float-mult
    base (0.0: none) and the float-quant shift (0: none). Not tried below 64 values, where
    the planner's few microseconds would be most of the call."""
    if x.size < 64:
        return 0.0, 0
    k = kernels()
    return float(k.float_mult_base(x, probe)), int(
        k.float_quant_shift(x.view(_uint_of(x)), 8 * x.dtype.itemsize)
    )


class FloatPlan:
    """Frame-level sampling result: the few (e, f) pairs worth trying, the ALP_RD cut and
    the format-2 modes (``base``, ``shift``; see :func:`float_modes`)."""

    def __init__(
        self,
        x: Array,
        pairs: Array | None = None,
        probe: Array | None = None,
        modes: tuple[float, int] = (0.0, 0),
        adj_base: float | None = None,
    ) -> None:
        self.probe = np.zeros(1, dtype=x.dtype) if probe is None else probe
        self.base, self.shift = modes
        #: (2, m) int64: exponents and factors of the pairs worth trying, cheapest first.
        self.pairs = kernels().alp_plan(x, alp_emax(x), self.probe) if pairs is None else pairs
        self._x = x
        self._rd_right: int | None = None
        self._adj_base = adj_base
        self._grid: tuple[float, float] | None = None

    @property
    def es(self) -> Array:
        """Exponents of the pairs worth trying."""
        return self.pairs[0]  # type: ignore[no-any-return]

    @property
    def fs(self) -> Array:
        """Factors of the pairs worth trying."""
        return self.pairs[1]  # type: ignore[no-any-return]

    @property
    def adj_base(self) -> float:
        """Base of the adjusted float-mult scheme (0.0: none), planned on the frame sample
        at first use."""
        if self._adj_base is None:
            self._plan_bases()
        return self._adj_base or 0.0

    @property
    def grid(self) -> tuple[float, float]:
        """``(base, offset)`` of the float-grid scheme (``(0.0, 0.0)``: none), planned on
        the frame sample at first use."""
        if self._grid is None:
            self._plan_bases()
        return self._grid or (0.0, 0.0)

    def _plan_bases(self) -> None:
        """Both bases at once (``_kernels.frame_bases``: one sample); an ``adj_base`` the
        caller gave is kept."""
        adj_base, base, offset = kernels().frame_bases(self._x)
        if self._adj_base is None:
            self._adj_base = float(adj_base)
        self._grid = float(base), float(offset)

    @property
    def rd_right(self) -> int:
        """ALP_RD cut (right-part bits), chosen on the frame sample at first use."""
        if self._rd_right is None:
            self._rd_right = _rd_right(self._x, _sample(self._x, 256))
        return self._rd_right


def _rd_right(x: Array, sample: Array) -> int:
    total = x.dtype.itemsize * 8
    bits = sample.view(np.uint64 if total == 64 else np.uint32).astype(np.uint64)
    return int(kernels().alp_rd_cut(bits, total))


def _rd_estimate(x: Array, right: int) -> float:
    """ALP_RD's estimated payload bytes for the block ``x`` cut at ``right``, from 256 of
    its values (not counting its few head bytes)."""
    total = x.dtype.itemsize * 8
    sample = _sample(x, 256)
    bits = sample.view(np.uint64 if total == 64 else np.uint32).astype(np.uint64)
    return float(kernels().alp_rd_bits(bits, total, right)) * x.size / sample.size / 8


def encode_float_block(
    x: Array,
    plan: FloatPlan,
    *,
    entropy: bool = True,
    allow_dict: bool = True,
    allow_repeat: bool = True,
    allow_adjusted: bool = True,
    allow_lag: bool = True,
    allow_split: bool = True,
    adjusted_first: bool = False,
    ceiling: float | None = None,
) -> tuple[int, bytes | memoryview]:
    """Cheapest float scheme for the block ``x`` (float32 or float64), chosen by sampling.

    The split scheme of format 8 replaces format 1's best when that is alp-rd,
    shuffle-lz4 or raw and split is at least 1 % smaller. The format-2 modes the plan
    found (float-mult, float-quant), the repeat scheme of format 4 or its repeat-div form
    of format 8 (when :func:`repeats_may_pay` and the dictionary did not win), the
    adjusted float-mult scheme of format 5 (when the best so far takes more than 12 bits
    a value and the plan finds a base) and the float-div scheme of format 6 (decimals whose
    multiples repeat a period: :func:`float_lag`) replace the best scheme only when at
    least 3 % smaller (smaller at all where the best nests lanes of format 9: the margin
    keeps frames at older versions).

    Where at least REPEAT_FIRST_SHARE of the block's first values repeat, its repeat lags
    come first: they count its distinct values (the dictionary is built from them), and
    where no dictionary fits, the repeat scheme is built before format 1's candidates and
    bounds them (:func:`_encode_float_v1`'s ``ceiling``), with the same outcome. A
    caller's ``ceiling`` (bytes: above it, the block's size does not matter to the caller)
    bounds them too. ``adjusted_first``: where the plan has an adjusted float-mult base
    (else a grid), that payload is built first and bounds the others (a dictionary's
    values, a repeat block's literals).
    """
    # The nested schemes of the chosen candidate only (see ``_NESTED``); where it nests
    # single-stream lanes (version 9 already), a later candidate need only be smaller.
    outer = take_nested()
    allow_adjusted = allow_adjusted and x.size >= ADJ_MIN_VALUES
    pre = grid = None  # (payload, nested scheme) of float-mult-adj and float-grid
    if allow_adjusted and adjusted_first:
        if plan.adj_base:
            pre = _adjusted_payload(x, plan.adj_base, entropy=entropy)
        elif x.size >= GRID_MIN_VALUES and plan.grid[0]:
            grid = _encode_fgrid(x, *plan.grid, entropy=entropy), take_nested()
        for built in (pre, grid):
            if built is not None:
                ceiling = len(built[0]) if ceiling is None else min(ceiling, len(built[0]))
    lags = first = None
    if allow_repeat and x.size >= REPEAT_MIN_VALUES and _head_repeats(x) >= REPEAT_FIRST_SHARE:
        # Most values repeat: the lags first. They count the distinct values exactly (the
        # dictionary is built from them where it fits); where it does not, the repeat
        # scheme is built first and bounds the format-1 candidates (see ``ceiling``).
        lags = kernels().repeat_lags(x.view(_uint_of(x)))
        if kernels().count_zeros(lags) > x.size // 4:
            first = _encode_repeat(x, plan, lags, entropy=entropy)
            first_nested = take_nested()
    best = _encode_float_v1(
        x,
        plan,
        entropy=entropy,
        allow_dict=allow_dict and first is None,
        lags=lags,
        ceiling=len(first[1]) / REPEAT_MARGIN if first is not None else ceiling,
    )
    nested = take_nested() if best[0] == DICT else 0
    take_nested()

    def beats(size: int, margin: float) -> bool:
        return size < (1.0 if nested else margin) * len(best[1])

    if (
        allow_split
        and entropy
        and best[0] in (ALP_RD, SHUFFLE_LZ4, RAW)
        and x.size >= SPLIT_MIN_VALUES
        and (first is None or _split_floor(x) < len(first[1]) / REPEAT_MARGIN)
    ):
        # Noise (no decimal, no base, few repeats): the exponents through the Huffman
        # stage instead of alp-rd's dictionary of 8 left parts.
        split = _encode_split(x, entropy=entropy)
        if beats(len(split), 0.99):
            best, nested = (SPLIT, split), take_nested()
        take_nested()
    # (where the dictionary won, few distinct values: it keeps them)
    if first is not None:
        if beats(len(first[1]), REPEAT_MARGIN):
            best, nested = first, first_nested
    elif allow_repeat and best[0] != DICT and repeats_may_pay(x, 8 * len(best[1]) / x.size):
        repeat = _encode_repeat(x, plan, lags, entropy=entropy)
        if beats(len(repeat[1]), REPEAT_MARGIN):
            best, nested = repeat, take_nested()
        take_nested()
    if plan.base or plan.shift:
        k = kernels()
        bits = x.view(_uint_of(x))
        modes = []
        if plan.base:
            modes.append((FMULT, k.fmult_payload(x, bits, plan.base, plan.probe, entropy)))
        if plan.shift:
            modes.append((FQUANT, k.fquant_payload(bits, plan.shift, entropy)))
        scheme, payload = min(modes, key=lambda c: c[1].size)
        if beats(payload.size, 0.97):
            best, nested = (scheme, payload.tobytes()), 0
    if pre is None and (
        allow_adjusted
        and len(best[1]) * 8 > ADJ_MIN_BITS * x.size
        and plan.adj_base
        and not _adjusted_above(x, plan.adj_base, 0.97 * len(best[1]))
    ):
        pre = _adjusted_payload(x, plan.adj_base, entropy=entropy)
    if pre is not None:
        adjusted, used = pre
        if beats(len(adjusted), 0.97):
            best, nested = (FMULT_ADJ, adjusted), used
    if grid is None and (
        allow_adjusted
        and x.size >= GRID_MIN_VALUES
        and len(best[1]) * 8 > ADJ_MIN_BITS * x.size
        and plan.grid[0]
    ):
        grid = _encode_fgrid(x, *plan.grid, entropy=entropy), take_nested()
    if grid is not None:
        gridded, used = grid
        if beats(len(gridded), 0.97):
            best, nested = (FGRID, gridded), used
    if allow_lag and best[0] not in (REPEAT, REPEAT_DIV):  # (repeat has the lag's gain)
        divisor, lag = float_lag(x, plan.pairs, plan.probe, 8 * len(best[1]) / max(x.size, 1))
        if not lag and best[0] == ALP:  # (no period: exceptions as adjustments may pay)
            divisor = _near_decimals(x, best[1])
        if divisor:
            divided = _encode_fdiv(x, divisor, lag, entropy=entropy)
            if beats(len(divided), 0.97):
                best, nested = (FDIV, divided), take_nested()
            take_nested()
    # (the chosen scheme itself too where it is newer than version 1: nested, a
    # dictionary's values or a repeat block's literals, it may be newer than its block)
    _note(max(outer, nested, best[0] if best[0] >= FIRST_V2_SCHEME else 0))
    return best


#: The adjusted float-mult scheme (format version 5) is tried on blocks of at least this
#: many values whose best other scheme takes more than this many bits a value (values
#: that fit a decimal or an exact multiple cost less).
ADJ_MIN_VALUES = 64
ADJ_MIN_BITS = 12.0


#: The factors of a base ``10**e / d`` tried are the divisors of ``ADJ_DECADES * d``, on a
#: window of this many values at the start.
ADJ_DECADES = 10
ADJ_WINDOW = 256


@lru_cache(maxsize=CACHE_ENTRIES)
def _adj_factors(base: float) -> Array:
    """The divisors of ``10 d`` where ``base = 10**e / d`` (``d`` up to 64), as float64;
    empty where ``base`` is not of that form (cached: a frame's blocks share their base)."""
    for d in range(1, 65):
        p = base * d
        if 0.0 < p < 1e300 and abs(p / 10.0 ** round(math.log10(p)) - 1.0) < 1e-9:
            span = ADJ_DECADES * d
            return np.array([f for f in range(1, span + 1) if span % f == 0], dtype=np.float64)
    return np.zeros(0)


def _coarser_adj_base(x: Array, base: float) -> float:
    """``base * F`` for the divisor ``F`` of ``10 d`` (``base = 10**e / d``) of least
    estimated cost on the first ADJ_WINDOW values of the block ``x``
    (``_kernels.adj_factor``; the caller keeps the smaller payload of the two bases):
    averages of three readings to hundredths are mostly whole hundredths, which a base of
    a hundredth codes without an adjustment (room humidity: 14.8 bits a value at 1/6000,
    at 0.01 with rank-coded adjustments 11.9; pcodec 12.2)."""
    factors = _adj_factors(base)
    if factors.size == 0:
        return base
    w = np.ascontiguousarray(x[:ADJ_WINDOW])
    approx = np.empty_like(w)
    uint = _uint_of(w)
    j = kernels().adj_factor(w, w.view(uint), base, factors, approx, approx.view(uint), KMAX_ADJ)
    return base * float(factors[j])


#: The adjusted float-mult payload of a block is not built where its estimated size
#: (:func:`_kernels.adj_split_bits` on :func:`_windows`, scaled to the block) times
#: ADJ_SKIP_MARGIN is above the size it must beat. Where asked on the corpus, the held-out
#: set, BROAD and the sweep, the payloads built and dropped were 1.19-1.45x that size and
#: their estimates 1.06-1.26x (low: a gyroscope's windows see few of its steps); the one
#: kept was 0.09x, estimated at 0.16x.
ADJ_SKIP_MARGIN = 0.95


def _adjusted_above(x: Array, base: float, ceiling: float) -> bool:
    """Whether the adjusted float-mult payload of ``x`` at ``base`` is estimated above
    ``ceiling`` bytes (see ADJ_SKIP_MARGIN; never on blocks under two windows a window)."""
    if x.size < 2 * SKIP_WINDOWS * SKIP_WINDOW:
        return False
    w = _windows(x)
    scratch = np.empty_like(w)
    uint = _uint_of(w)
    bits = kernels().adj_split_bits(w, w.view(uint), base, scratch, scratch.view(uint), KMAX_ADJ)
    return ADJ_SKIP_MARGIN * float(bits) / 8 * x.size / w.size > ceiling


def _adjusted_payload(x: Array, base: float, *, entropy: bool) -> tuple[bytes, int]:
    """The adjusted float-mult payload of ``x`` at ``base`` or at the coarser base of
    :func:`_coarser_adj_base`, the smaller, and its newest nested scheme."""
    adjusted = _encode_fmult_adj(x, base, entropy=entropy)
    used = take_nested()
    coarse = _coarser_adj_base(x, base)
    if coarse != base:
        other = _encode_fmult_adj(x, coarse, entropy=entropy)
        if len(other) < len(adjusted):
            adjusted, used = other, take_nested()
        take_nested()
    return adjusted, used


def adjusted_may_pay(x: Array, bits_per_value: float) -> bool:
    """Whether the adjusted float-mult scheme may beat a scheme of ``bits_per_value`` on
    the block ``x`` (its planner runs only on such blocks)."""
    return (
        x.size >= ADJ_MIN_VALUES
        and bits_per_value > ADJ_MIN_BITS
        and kernels().fmult_adj_base(x) != 0.0
    )


#: The rank scheme's most distinct residuals (``_kernels.blocks.RANK_MAX``).
RANK_MAX = 64


def _rank_distinct(payload: bytes | memoryview) -> int:
    """The distinct residuals of a rank or wide-rank payload (its dictionary's size)."""
    return int(payload[1 + 8 * payload[0]])


def _encode_fmult_adj(x: Array, base: float, *, entropy: bool) -> bytes:
    """Adjusted float-mult payload (format version 5): ``base f64``, then the multiples
    ``k = round(x / base)`` as a nested integer block with its length, then the
    adjustments (the values' bits minus those of ``k * base``, as signed lanes) as a
    nested integer block to the end. Every value fits (NaN, infinities, -0.0: ``k`` 0)."""
    uint = _uint_of(x)
    scratch = np.empty_like(x)
    k, lanes = kernels().fmult_split(x, x.view(uint), base, scratch, scratch.view(uint), KMAX_ADJ)
    return _multiples_payload(struct.pack("<d", base), k, lanes, entropy=entropy)


def _multiples_payload(head: bytes, k: Array, lanes: Array, *, entropy: bool) -> bytes:
    """``head``, then the multiples ``k`` (int64) as a nested integer block with its
    length, then the adjustments ``lanes`` (int64) as a nested integer block to the end:
    the body of the float-mult-adj and float-grid payloads."""
    kscheme, kpayload = encode_int_lanes(k.view(np.uint64), None, entropy=entropy, modes=True)
    ascheme, apayload = encode_int_lanes(lanes.view(np.uint64), None, entropy=entropy, modes=True)
    if entropy and not (ascheme == WIDE_RANK and _rank_distinct(apayload) <= RANK_MAX):
        # A few distinct adjustments (the fractions of a coarse base): their ranks (not
        # where wide-rank took them with at most RANK_MAX distinct: it weighed the same
        # orders and pairs; 41 us of a BROAD gyroscope dictionary's 6,838 values).
        ranked = kernels().rank_payload(lanes.view(np.uint64), len(apayload))
        if ranked.size:
            ascheme, apayload = WIDE_RANK, ranked.tobytes()
    return b"".join(
        (head, struct.pack("<BI", kscheme, len(kpayload)), kpayload, bytes([ascheme]), apayload)
    )


#: The float-grid scheme (format version 12) is tried on blocks of at least this many
#: values whose best other scheme takes more than ADJ_MIN_BITS a value, where the frame's
#: sample lies on a grid with an offset (:func:`_kernels.grid_plan`).
GRID_MIN_VALUES = 64


def _encode_fgrid(x: Array, base: float, offset: float, *, entropy: bool) -> bytes:
    """Float-grid payload (format version 12): ``base f64, offset f64``, then the
    multiples ``k = round((x - offset) / base)`` as a nested integer block with its length,
    then the adjustments (the values' bits minus those of ``k * base + offset``, as signed
    lanes) as a nested integer block to the end (float-mult-adj's, with an offset)."""
    uint = _uint_of(x)
    scratch = np.empty_like(x)
    k, lanes = kernels().grid_split(
        x, x.view(uint), base, offset, scratch, scratch.view(uint), KMAX_ADJ
    )
    return _multiples_payload(struct.pack("<dd", base, offset), k, lanes, entropy=entropy)


def _decode_fgrid(rd: Reader, n: int, dtype: np.dtype[Any], out: Array) -> None:
    """Decode a float-grid block (see :func:`_encode_fgrid`) into ``out``."""
    base, offset = struct.unpack("<dd", rd.take(16, "base and offset"))
    if not (math.isfinite(base) and base > 0 and math.isfinite(offset)):
        raise rd.fail(f"bad grid base {base} or offset {offset}")
    k = _nested_lanes(rd, n, "multiple")
    adj = decode_int_lanes(_nested_int_scheme(rd, "adjustment scheme"), rd, n, _I8)
    uint = _uint_of(out)
    approx = np.empty(n, dtype=dtype)
    kernels().grid_values(k.view(np.int64), base, offset, approx)
    out.view(uint)[:] = approx.view(uint) + adj.astype(uint)


def _decode_fmult_adj(rd: Reader, n: int, dtype: np.dtype[Any], out: Array) -> None:
    """Decode an adjusted float-mult block (see :func:`_encode_fmult_adj`) into ``out``."""
    base = struct.unpack("<d", rd.take(8, "base"))[0]
    k = _nested_lanes(rd, n, "multiple")
    adj = decode_int_lanes(_nested_int_scheme(rd, "adjustment scheme"), rd, n, _I8)
    uint = _uint_of(out)
    with np.errstate(all="ignore"):
        approx = (k.view(np.int64).astype(np.float64) * base).astype(dtype)
    out.view(uint)[:] = approx.view(uint) + adj.astype(uint)


def _encode_float_v1(
    x: Array,
    plan: FloatPlan,
    *,
    entropy: bool,
    allow_dict: bool,
    lags: Array | None = None,
    ceiling: float | None = None,
) -> tuple[int, bytes | memoryview]:
    """Cheapest float scheme of format version 1 for the block ``x`` (RAW: a view of its
    bytes, not a copy; a repeat block's candidates mostly lose to it).

    ``lags`` (the block's repeat lags, when the caller has them) count the distinct values
    for the dictionary. With a ``ceiling`` (bytes: the size a candidate must stay under to
    matter), alp and shuffle-lz4 are skipped where their size on :func:`_windows`, scaled
    to the block, is above it even times SKIP_MARGIN, and alp-rd where its right parts
    alone are. Alp-rd is built only where its sampled estimate (:func:`_rd_estimate`) is
    below the best candidate so far (on noise, shuffle-lz4 is built first).
    """
    k = kernels()
    n = x.size
    nbytes = x.nbytes
    probe = plan.probe
    cost = NEVER
    e = f = 0
    if plan.pairs.shape[1]:
        e, f, cost = k.alp_choose(x, plan.pairs, probe)
    alp_estimate = cost * n / max(min(n, 128), 1) / 8
    candidates: list[tuple[int, bytes | memoryview]] = []

    def shuffle_lz4(under: float | None = ceiling) -> None:
        if under is None or not _lz4_above(x, under):
            candidates.append(_encode_shuffle_lz4(x))

    if (
        allow_dict
        and n >= 256
        and k.dictionary_may_pay(x.view(_uint_of(x)))
        and (lags is None or k.count_zeros(lags) <= n // 4)
    ):
        found = _encode_dict(x, lags, plan.adj_base or None, entropy=entropy)
        if found is not None:
            candidates.append(found)
            # Repeated values may be repeated runs or patterns: LZ4 can win those
            # (tried on small blocks, where it is cheap, or when the dictionary still
            # leaves over 20 % of the bytes).
            if n <= 8192 or len(found[1]) > 0.2 * nbytes:
                # (not where its size on the windows is far above the dictionary's)
                shuffle_lz4(len(found[1]) if ceiling is None else min(ceiling, len(found[1])))
            if len(found[1]) < 0.5 * alp_estimate:
                cost = NEVER  # the dictionary clearly wins: skip ALP
    if (
        cost < NEVER
        and alp_estimate < 0.9 * nbytes
        and (
            ceiling is None
            or not _above(lambda w: _encode_alp(w, e, f, probe, entropy=entropy)[1], x, ceiling)
        )
    ):
        alp = _encode_alp(x, e, f, probe, entropy=entropy)
        if not candidates and len(alp[1]) <= 0.6 * nbytes:
            return alp  # the common case: ALP alone, and good enough
        candidates.append(alp)
    best_size = min([len(c[1]) for c in candidates], default=nbytes)
    if best_size > 0.6 * nbytes:
        # (ALP_RD keeps at least total - 16 right bits a value: no need to plan its cut
        # where even that is above the ceiling)
        rd_least = 8 * x.dtype.itemsize - 16
        rd_est = math.inf
        if ceiling is None or (n * rd_least / 8 < ceiling and n * plan.rd_right / 8 < ceiling):
            rd_est = _rd_estimate(x, plan.rd_right)
        if rd_est > 0.6 * nbytes and all(c[0] != SHUFFLE_LZ4 for c in candidates):
            # Noise: shuffle-lz4 first; ALP_RD (whose size its estimate gives within 1 %)
            # is built only where it may still be smaller (a gyroscope's 23,544 literals:
            # 585 us to lose by 0.5 %).
            shuffle_lz4()
            best_size = min([len(c[1]) for c in candidates], default=nbytes)
        if rd_est < best_size:
            candidates.append(_encode_alp_rd(x, plan.rd_right))
    best = min(candidates, key=lambda c: len(c[1]), default=(RAW, b""))
    if best[0] == RAW or len(best[1]) >= nbytes:
        return RAW, x.data.cast("B")
    return best


#: Where a block's repeat scheme is built first, a format-1 candidate is skipped when its
#: size on SKIP_WINDOWS windows of SKIP_WINDOW values spread over the block, scaled to the
#: block and times SKIP_MARGIN, is still above the size it must stay under (on the
#: corpus' blocks of 4,096 values or more, alp's and shuffle-lz4's sizes are 0.86 to
#: 1.2 times that estimate).
SKIP_WINDOWS = 4
SKIP_WINDOW = 512
SKIP_MARGIN = 0.8


def _windows(x: Array) -> Array:
    """SKIP_WINDOWS runs of SKIP_WINDOW consecutive values of ``x``, evenly spread, first
    and last included, back to back."""
    starts = np.arange(SKIP_WINDOWS) * (x.size - SKIP_WINDOW) // (SKIP_WINDOWS - 1)
    return np.concatenate([x[s : s + SKIP_WINDOW] for s in starts])


def _above(encode: Callable[[Array], bytes | memoryview], x: Array, ceiling: float) -> bool:
    """Whether ``encode`` on :func:`_windows` of ``x``, scaled to ``x`` and times
    SKIP_MARGIN, takes more than ``ceiling`` bytes (never on blocks of fewer than two
    windows' worth of values each)."""
    if x.size < 2 * SKIP_WINDOWS * SKIP_WINDOW:
        return False
    w = _windows(x)
    return SKIP_MARGIN * len(encode(w)) * x.size / w.size > ceiling


def _lz4_above(x: Array, ceiling: float) -> bool:
    """:func:`_above` for shuffle-lz4, the windows gathered and shuffled in one kernel
    call (``_kernels.window_planes``)."""
    import lz4.block

    if x.size < 2 * SKIP_WINDOWS * SKIP_WINDOW:
        return False
    planes = kernels().window_planes(x.view(_uint_of(x)), SKIP_WINDOWS, SKIP_WINDOW)
    size = len(lz4.block.compress(planes, store_size=False))
    return SKIP_MARGIN * size * x.size / (SKIP_WINDOWS * SKIP_WINDOW) > ceiling


#: The repeat scheme is tried on blocks of at least this many values ...
REPEAT_MIN_VALUES = 4096
#: ... when, among their first values (up to this many), the share that repeats an
#: earlier one times the best other scheme's bits per value is at least this (bits).
REPEAT_SAMPLE = 1024
REPEAT_MIN_BITS = 8.0


#: Where at least this share of the first values repeats an earlier one, the repeat
#: scheme is built before the others (see :func:`encode_float_block`); it replaces them
#: only where at least 3 % smaller (REPEAT_MARGIN).
REPEAT_FIRST_SHARE = 0.5
REPEAT_MARGIN = 0.97


def _head_repeats(x: Array) -> float:
    """Share of the first REPEAT_SAMPLE values of ``x`` that repeat an earlier one."""
    head = x[:REPEAT_SAMPLE].view(_uint_of(x))
    return int(np.count_nonzero(kernels().repeat_lags(head))) / max(head.size, 1)


def repeats_may_pay(x: Array, bits_per_value: float) -> bool:
    """Whether the repeat scheme is worth building for the block ``x`` whose best other
    scheme takes ``bits_per_value``: the values it would not code must save at least
    8 bits a value of the block (a lag costs a few bits; cheap values such as ALP's
    short decimals do not repay it). One hash pass over the first 1,024 values."""
    if x.size < REPEAT_MIN_VALUES or bits_per_value < REPEAT_MIN_BITS:
        return False
    return _head_repeats(x) * bits_per_value >= REPEAT_MIN_BITS


def _encode_repeat(
    x: Array, plan: FloatPlan, lags: Array | None = None, *, entropy: bool
) -> tuple[int, bytes]:
    """The repeat block of ``x`` (format version 4: the literal count, the lags as a
    nested integer block, then the literals, first occurrences, as a nested float block),
    or its repeat-div form (:func:`_encode_repeat_div`) where that is at least 3 %
    smaller: ``(scheme, payload)``. ``lags``: the block's repeat lags, when known."""
    if lags is None:
        lags = kernels().repeat_lags(x.view(_uint_of(x)))
    literals, positions = kernels().split_literals(x, lags)
    before = take_nested()  # (the nested schemes of the form kept only: see ``_NESTED``)
    ischeme, ipayload = encode_int_lanes(lags.view(np.uint64), None, entropy=entropy)
    head = struct.pack("<IBI", literals.size, ischeme, len(ipayload)) + ipayload
    shared = max(before, take_nested())
    # Where ALP is unlikely to take the literals (ALP_RD and LZ4 are tried, costly),
    # repeat-div comes first and they are built under the size it leaves them (the plain
    # form wins only where repeat-div is not 3 % smaller); decimals and literals that are
    # noise to repeat-div (see RD_NOISE_SHARE), the other way round. Near-multiples of a
    # base (float-mult-adj) are not decimals: repeat-div's divisor leaves them wide
    # adjustments, and it is not tried (1.05-2.75x the literals' size on the 14 such blocks
    # of the corpus, the held-out set, BROAD and the sweep: gyroscopes' radians).
    divided = None
    adjusted = noise = tried = False
    bits = 0.0
    if not _alp_likely(literals, plan):
        adjusted = bool(plan.adj_base)
        if not adjusted:
            bits = _div_adjustment_bits(x, literals, plan)
            noise = bits >= RD_NOISE_SHARE * (52 if x.dtype.itemsize == 8 else 23)
        if not (adjusted or noise):
            tried = True
            divided = _encode_repeat_div(x, lags, positions, plan, head, entropy=entropy)
    div_nested = take_nested()
    fscheme, fpayload = encode_float_block(
        literals,
        plan,
        entropy=entropy,
        allow_dict=False,
        allow_repeat=False,
        allow_lag=False,
        allow_split=False,
        adjusted_first=True,
        ceiling=None if divided is None else len(divided) / 0.97 - len(head) - 1,
    )
    best = REPEAT, b"".join((head, bytes([fscheme]), fpayload))
    nested = take_nested()
    if not (tried or adjusted) and (
        not noise or bits + 1 < RD_NOISE_GAIN * 8 * len(fpayload) / literals.size
    ):
        divided = _encode_repeat_div(x, lags, positions, plan, head, entropy=entropy)
        div_nested = take_nested()
    if divided is not None and len(divided) < 0.97 * len(best[1]):
        best, nested = (REPEAT_DIV, divided), div_nested
    _note(max(shared, nested))
    return best


#: Repeat-div's literals are noise where the adjustments of RD_NOISE_SAMPLE of them,
#: evenly spread, take RD_NOISE_SHARE of the mantissa's bits or more on average (they are
#: not decimals at the divisor's precision: a Wii remote's resampled readings, 42 bits of
#: float64's 52; appliance power's 1-2). The plain form is then built first, and
#: repeat-div only where those bits and one for each residual are under RD_NOISE_GAIN of
#: the plain form's bits a literal (room for a gain worth its cost: on the Wii remote, 42
#: and 50 bits, it saved 3 % for a third of the block's compress time). Measured on blocks
#: of RD_NOISE_MIN_LITERALS literals or more.
RD_NOISE_SAMPLE = 256
RD_NOISE_SHARE = 0.5
RD_NOISE_GAIN = 0.8
RD_NOISE_MIN_LITERALS = 4096


def _div_adjustment_bits(x: Array, literals: Array, plan: FloatPlan) -> float:
    """Mean bit length of repeat-div's adjustments of RD_NOISE_SAMPLE evenly spread
    ``literals`` of the block ``x``; 0.0 where repeat-div does not apply or the block has
    fewer than RD_NOISE_MIN_LITERALS literals."""
    if plan.pairs.shape[1] == 0 or literals.size < RD_NOISE_MIN_LITERALS:
        return 0.0
    e, f, cost = kernels().alp_choose(x, plan.pairs, plan.probe)
    if cost >= NEVER or e < f:
        return 0.0
    sample = literals[_sample_index(literals.size, RD_NOISE_SAMPLE)]
    uint = _uint_of(x)
    probe = np.zeros(1, dtype=x.dtype)
    divisor = float(10 ** (int(e) - int(f)))
    return float(
        kernels().fdiv_adjustment_bits(
            sample, sample.view(uint), divisor, probe, probe.view(uint), KMAX_ADJ
        )
    )


def _alp_likely(x: Array, plan: FloatPlan) -> bool:
    """Whether ALP's sampled estimate of ``x`` is 0.6 of its bytes or less (where
    :func:`_encode_float_v1` returns ALP alone)."""
    if plan.pairs.shape[1] == 0 or x.size == 0:
        return False
    cost = kernels().alp_choose(x, plan.pairs, plan.probe)[2]
    return bool(cost < NEVER and cost * x.size / min(x.size, 128) / 8 <= 0.6 * x.nbytes)


#: The repeat-div scheme tries the most common lags among a block's first PERIOD_LAGS, up
#: to PERIOD_CANDIDATES of them, as its period, each on the residuals of the first
#: literals, up to PERIOD_SAMPLE (counting the lags of a whole block took 70 us of a
#: 65,536-value block's 1.5 ms).
PERIOD_CANDIDATES = 4
PERIOD_SAMPLE = 2048
PERIOD_LAGS = 16384


def _encode_repeat_div(
    x: Array, lags: Array, positions: Array, plan: FloatPlan, head: bytes, *, entropy: bool
) -> bytes | None:
    """Repeat-div payload (format version 8), or None where the block is not decimal:
    ``divisor f64, period u16``, the repeat scheme's literal count and lags (``head``),
    then each literal's multiple ``k = round(x * divisor)`` minus the multiple ``period``
    values back (0 before the block; of the most common lags among the first PERIOD_LAGS,
    the one whose residuals take the fewest bits on the first literals is the period) as
    a nested integer block with its length, then the literals' adjustments as
    float-div's. A value recurring at a period (a z-normalised appliance trace) is
    predicted from the last cycle where it does not repeat one exactly."""
    if plan.pairs.shape[1] == 0 or positions.size == 0 or positions.size == x.size:
        return None
    e, f, cost = kernels().alp_choose(x, plan.pairs, plan.probe)
    if cost >= NEVER or e < f:
        return None
    divisor = float(10 ** (int(e) - int(f)))
    uint = _uint_of(x)
    probe = np.zeros(1, dtype=x.dtype)
    k, adj = kernels().fdiv_split_at(
        x, x.view(uint), divisor, probe, probe.view(uint), KMAX_ADJ, positions
    )
    candidates = kernels().top_lags(lags[:PERIOD_LAGS], PERIOD_CANDIDATES)
    if candidates.size == 0:  # (the first values do not repeat; later ones do)
        candidates = kernels().top_lags(lags, PERIOD_CANDIDATES)
    sample = positions[:PERIOD_SAMPLE]
    cost = [kernels().period_cost(k, sample, p) for p in candidates]
    period = int(candidates[int(np.argmin(cost))])
    residuals = kernels().period_residuals(k, positions, period).view(U64)
    rscheme, rpayload = encode_int_lanes(residuals, None, entropy=entropy)
    adjustments = _encode_adjustments(adj, entropy=entropy)
    # (joined once: a chain of ``+`` copies each prefix again, ~100 KB a block)
    return b"".join(
        (
            struct.pack("<dH", divisor, period),
            head,
            struct.pack("<BI", rscheme, len(rpayload)),
            rpayload,
            adjustments,
        )
    )


def _decode_repeat_lags(rd: Reader, n: int) -> tuple[int, Array]:
    """The literal count and the lags (int64) of a repeat or repeat-div block."""
    m = rd.u32("literal count")
    if not 1 <= m <= n:
        raise rd.fail(f"{m} literals in a repeat block of {n}")
    lags = _nested_lanes(rd, n, "lag").view(np.int64)
    if int(np.count_nonzero(lags == 0)) != m:
        raise rd.fail("the literal count does not match the lags")
    return m, lags


def _repeat_status(rd: Reader, status: int) -> None:
    if status == ERR_POSITION:
        raise rd.fail("a repeat reaches before the block")
    if status != 0:
        raise rd.fail("the literal count does not match the lags")


def _decode_repeat(rd: Reader, n: int, dtype: np.dtype[Any], out: Array) -> None:
    """Decode a repeat block (see :func:`_encode_repeat`) of ``n`` values into ``out``."""
    m, lags = _decode_repeat_lags(rd, n)
    fscheme = rd.u8("literal scheme")
    if fscheme not in FLOAT_SCHEMES or fscheme in TOP_ONLY_FLOAT_SCHEMES:
        raise rd.fail(f"bad literal scheme {fscheme}")
    literals = np.empty(m, dtype=dtype)
    decode_float_block(fscheme, rd, m, dtype, literals)
    uint = _uint_of(out)
    _repeat_status(rd, kernels().repeat_fill(lags, literals.view(uint), out.view(uint)))


def _decode_repeat_div(rd: Reader, n: int, out: Array) -> None:
    """Decode a repeat-div block (see :func:`_encode_repeat_div`) of ``n`` values into
    ``out``."""
    divisor, period = struct.unpack("<dH", rd.take(10, "divisor and period"))
    if not (math.isfinite(divisor) and divisor > 0):
        raise rd.fail(f"bad divisor {divisor}")
    if period == 0:
        raise rd.fail("period 0")
    m, lags = _decode_repeat_lags(rd, n)
    residuals = _nested_lanes(rd, m, "residual")
    uint = _uint_of(out)
    adjustments = np.zeros(m, dtype=uint)
    _add_adjustments(rd, m, adjustments)
    status = kernels().repeat_div_fill(
        lags, residuals, adjustments, period, divisor, out, out.view(uint)
    )
    _repeat_status(rd, status)


# --- the lag schemes (format version 6) ----------------------------------------------------

#: The lag schemes are tried on blocks of at least this many values whose best other scheme
#: takes at least this many bits a value.
LAG_MIN_VALUES = 4096
LAG_MIN_BITS = 3.0
#: The period finder reads two windows of this many values (the block's start and middle)
#: and tries lags up to LAG_MAX.
LAG_WINDOW = 512
LAG_MAX = 128
#: ... and builds the payload only where the finder's estimate of its bits a value is below
#: this share of the best other scheme's.
LAG_PAYS = 0.95

#: A lag block is kept where it is under this fraction of the block's other scheme's size
#: (1.0 against a single-stream huffman block: version 9).
LAG_MARGIN = 0.97


def _lag_windows(a: Array) -> Array:
    """The two windows of ``a`` the period finder reads: its start and its middle."""
    return kernels().lag_windows(a, LAG_WINDOW, False)  # type: ignore[no-any-return]


def _delta_windows(u: Array) -> Array:
    """:func:`_lag_windows` of ``np.diff(u)``, differencing only the two windows."""
    return kernels().lag_windows(u, LAG_WINDOW, True)  # type: ignore[no-any-return]


def find_block_lag(v: Array, bits_per_value: float) -> int:
    """The period of the lanes ``v`` (uint64, at least ``2 * LAG_WINDOW``) from two windows,
    when differences across it are estimated at under 0.95x ``bits_per_value`` (the best
    other scheme's) and a bit below the first and second differences; else 0."""
    lag, bits = kernels().find_lag(_lag_windows(v), LAG_WINDOW, LAG_MAX)
    return int(lag) if bits < LAG_PAYS * bits_per_value else 0


def encode_int_block(
    u: Array,
    raw: Array,
    *,
    entropy: bool = True,
    stats: Array | None = None,
    beat: int | None = None,
) -> tuple[int, bytes | memoryview]:
    """Cheapest scheme of an integer block (uint64 lanes ``u`` of the values ``raw``, whose
    bytes are the RAW payload; ``stats``: the lanes' ``int_stats`` where known; ``beat``:
    the caller's size to beat, where nothing of that size or more is of use, and a payload
    that size or more may be any such):
    :func:`encode_int_lanes`
    with its modes and third differences, then the lag scheme (format 6) where the lanes
    repeat a period, and the levels scheme (format 7) where they take few levels spread
    over a wider range, each kept when at least 3 % smaller (smaller at all than a block
    of the single-stream huffman scheme of format 9). A clock's period (int-mult's plan
    holds) is tried first, so that the plain clock can give up early where it cannot beat
    it."""
    outer = take_nested()  # (the chosen candidate's nested schemes only: see ``_NESTED``)
    k = kernels()
    if u.size >= MULT_MIN_VALUES and k.constant_order(u):
        # A regular clock, a constant: bit-packed at width 0 (9 to 25 bytes), which no
        # other scheme's header undercuts; nothing else is tried.
        scheme, payload = k.int_payload(u, False, raw.nbytes, False)
        _note(outer)
        return (RAW, raw.tobytes()) if scheme == RAW else (int(scheme), payload.tobytes())
    plan = k.int_mult_plan(u) if u.size >= MULT_MIN_VALUES else None
    period, period_lag, period_used = b"", -1, 0
    if entropy and u.size >= LAG_MIN_VALUES and plan is not None and (plan[0] >= 2 or plan[2]):
        # A clock (a common factor, a nearly constant delta) whose deltas repeat a period
        # (a 64 Hz clock in ms: 15, 16, 16, 16, 15, 16, 16, 16): across it, the values
        # differ by one constant. Tried first: the plain clock then gives up early on
        # estimates where it cannot beat it.
        period_lag = int(k.find_lag(_delta_windows(u), LAG_WINDOW, LAG_MAX)[0])
        if period_lag:
            period = _encode_lag(u, period_lag, entropy=entropy, modes=True)
            period_used = take_nested()
    limit = int(len(period) / LAG_MARGIN) + 1 if period else None
    scheme, payload = encode_int_lanes(
        u,
        raw,
        entropy=entropy,
        modes=True,
        third=True,
        plan=plan,
        limit=limit,
        stats=stats,
        beat=beat,
    )
    nested = take_nested()  # (the single stream as the block's own scheme: version 9)
    margin = 1.0 if nested else LAG_MARGIN
    # (the bits a value to beat: the payload's, or the caller's limit where that is less)
    bits = 8 * min(len(payload), beat or len(payload)) / max(u.size, 1)
    if limit is not None and len(payload) >= limit:
        # The period wins (the plain clock gave up or came in above it); the levels below
        # are weighed where even the period takes LEVELS_MIN_BITS a value or more.
        scheme, payload, nested = LAG, period, period_used
        bits = 8 * len(payload) / u.size
    elif u.size >= LAG_MIN_VALUES:
        lag, clock = 0, scheme in (MULT, SPARSE)
        if bits >= LAG_MIN_BITS:
            lag = find_block_lag(u, bits)
        elif clock and entropy:
            if period_lag < 0:
                period_lag = int(k.find_lag(_delta_windows(u), LAG_WINDOW, LAG_MAX)[0])
            lag = period_lag
        if lag:
            if period and lag == period_lag and clock:
                lagged, used = period, period_used
            else:
                lagged = _encode_lag(u, int(lag), entropy=entropy, modes=clock)
                used = take_nested()
            if len(lagged) < margin * len(payload):
                scheme, payload, nested = LAG, lagged, used
    if entropy and u.size >= LEVELS_MIN_VALUES and (bits >= LEVELS_MIN_BITS or scheme == WIDE_RANK):
        # (a wide-rank block of few levels can come in under LEVELS_MIN_BITS where the
        # levels' indices, a walk, take fewer still)
        levels, index = kernels().int_levels(u, LEVELS_MAX_RANGE, u.size // LEVELS_PER_VALUE)
        if levels.size:
            leveled = _encode_levels(levels, index, entropy=entropy)
            used = take_nested()
            if len(leveled) < margin * len(payload):
                scheme, payload, nested = LEVELS, leveled, used
    _note(max(outer, nested))
    return scheme, payload


def _encode_lag(u: Array, lag: int, *, entropy: bool, modes: bool = False) -> bytes:
    """Lag payload (format version 6): ``lag u16``, then the lanes ``u[i] - u[i - lag]``
    (the first ``lag`` as first differences) as a nested integer block to the end (with
    ``modes``: int-mult and sparse tried too, for a clock's constant differences)."""
    residuals = kernels().lag_residuals(u, lag)
    scheme, payload = encode_int_lanes(residuals, None, entropy=entropy, modes=modes)
    return struct.pack("<HB", lag, scheme) + payload


def _nested_int_scheme(rd: Reader, field: str) -> int:
    scheme = rd.u8(field)
    if scheme not in INT_SCHEMES or scheme in TOP_ONLY_INT_SCHEMES:
        raise rd.fail(f"bad {field} {scheme}")
    return scheme


def _nested_lanes(rd: Reader, n: int, name: str) -> Array:
    """``n`` lanes (uint64) of a nested integer block with its length: ``{name} scheme u8``
    (any integer scheme but lag and levels), ``{name} length u32``, then that many bytes."""
    scheme = _nested_int_scheme(rd, f"{name} scheme")
    sub = Reader(rd.take(rd.u32(f"{name} length"), f"{name}s"), 0, f"{rd.what} {name}s")
    lanes = decode_int_lanes(scheme, sub, n, _I8)
    sub.end()
    return lanes


def _decode_lag(rd: Reader, n: int, out: Array) -> None:
    """Decode a lag block (see :func:`_encode_lag`) of ``n`` lanes into ``out`` (uint64)."""
    lag = rd.u16("lag")
    if lag == 0:
        raise rd.fail("lag 0")
    decode_int_lanes(_nested_int_scheme(rd, "lag residual scheme"), rd, n, _I8, out)
    kernels().unlag(out, lag)


# --- the levels scheme (format version 7) ---------------------------------------------------

#: The levels scheme is tried on blocks of at least this many values whose best other
#: scheme takes at least this many bits a value (or is wide-rank), spanning at most
#: LEVELS_MAX_RANGE integers
#: in at most one level per LEVELS_PER_VALUE values.
LEVELS_MIN_VALUES = 1024
LEVELS_MIN_BITS = 4.0
LEVELS_MAX_RANGE = 1 << 20
LEVELS_PER_VALUE = 4


def _encode_levels(levels: Array, index: Array, *, entropy: bool) -> bytes:
    """Levels payload (format version 7): ``count u32``, the ``count`` levels (ascending)
    as a nested integer block with its length, then each value's index among them as a
    nested integer block to the end."""
    lscheme, lpayload = encode_int_lanes(levels.view(U64), None, entropy=entropy)
    ischeme, ipayload = encode_int_lanes(index, None, entropy=entropy)
    head = struct.pack("<IBI", levels.size, lscheme, len(lpayload))
    return head + lpayload + bytes([ischeme]) + ipayload


def _decode_levels(rd: Reader, n: int, out: Array) -> None:
    """Decode a levels block (see :func:`_encode_levels`) of ``n`` lanes into ``out``."""
    count = rd.u32("level count")
    if not 1 <= count <= max(n, 1):
        raise rd.fail(f"level count {count} out of 1..{n}")
    levels = _nested_lanes(rd, count, "level")
    index = decode_int_lanes(_nested_int_scheme(rd, "index scheme"), rd, n, _I8)
    if kernels().levels_fill(levels, index, out):
        raise rd.fail(f"levels block: an index is not below the level count {count}")


# --- the copy scheme (format version 11) ---------------------------------------------------

#: Integer frames of at least this many values are searched for spans that repeat earlier
#: values where the probes of :func:`~edgekit.codec._kernels.spans.span_share` (about
#: ``n / 25`` window hashes) find at least COPY_MIN_SHARE of them in such spans ...
COPY_MIN_VALUES = 4096
COPY_MIN_SHARE = 0.05
#: ... then a block takes the copy scheme where spans cover at least COPY_BLOCK_SHARE of its
#: values. Where they cover less than COPY_WHOLE_SHARE, the copy payload alone is kept: the
#: copied values would have cost about what the others cost, a span takes under a fifth
#: of a bit a value (COPY_MIN_SPAN); where they cover more, they may have cost nothing (a
#: run of one value that a sparse block codes for nothing): the block is encoded whole too
#: and the smaller kept.
COPY_BLOCK_SHARE = 0.1
COPY_WHOLE_SHARE = 0.5
#: The shortest span kept (values): at most 6 bytes of span table, under a fifth of a bit a
#: value.
COPY_MIN_SPAN = 256

#: Spans of a frame: ``(starts, distances, lengths)``, int64 arrays.
Spans = tuple[Array, Array, Array]


def frame_spans(flat: Array) -> Spans | None:
    """The spans of the integers ``flat`` of COPY_MIN_SPAN values or more that repeat
    earlier values (:func:`~edgekit.codec._kernels.spans.find_spans`), or None: a frame
    under COPY_MIN_VALUES values, one whose probes find too few (most: no search), one
    whose sampled adjacent values are equal in RUNS_MIN_SHARE of cases or more (the runs
    scheme codes a copy of held readings in a few runs: BSRN's 1-minute pressure took 572
    bytes as runs, 3,000 as copies), or none found."""
    if flat.size < COPY_MIN_VALUES:
        return None
    k = kernels()
    bits = flat.view(f"<u{flat.dtype.itemsize}")
    if k.span_share(bits) < COPY_MIN_SHARE or k.runs_share(bits) >= RUNS_MIN_SHARE:
        return None
    spans: Spans = k.find_spans(bits, COPY_MIN_SPAN)
    return spans if spans[0].size else None


def encode_copy(
    flat: Array, start: int, stop: int, spans: Spans, *, entropy: bool, limit: int | None = None
) -> tuple[bytes | None, bool] | None:
    """Copy payload (format version 11) of the block ``flat[start:stop]``: its span table
    (:func:`~edgekit.codec._kernels.spans.span_table`: the spans of ``spans`` in the block,
    cut at its ends, each copying values ``distance`` back, earlier blocks included), then
    the block's other values as a nested integer block (``scheme u8``, payload) to the end,
    none where the spans cover the block. Returns it (None where it takes ``limit`` bytes
    or more) and whether the block is to be encoded whole too (COPY_WHOLE_SHARE), or None
    where the spans cover under COPY_BLOCK_SHARE."""
    k = kernels()
    rel, dist, length = k.block_spans(*spans, start, stop)
    count = stop - start
    covered = int(length.sum())
    if covered < COPY_BLOCK_SHARE * count:
        return None
    whole = covered >= COPY_WHOLE_SHARE * count
    table = k.span_table(rel, dist, length).tobytes()
    if limit is not None and len(table) >= limit:
        return None, whole
    rest = k.rest_of(flat[start:stop], rel, length)
    if rest.size:
        rest_limit = None if limit is None else limit - len(table) - 1
        if rest_limit is not None and rest_limit <= 0:
            return None, whole
        scheme, payload = encode_int_values(
            rest, entropy=entropy, beat=None if rest_limit is None else _headroom(rest_limit)
        )
        table += bytes([scheme]) + payload
    return (table if limit is None or len(table) < limit else None), whole


def int_lanes(raw: Array) -> tuple[Array, Array | None]:
    """The uint64 lanes of integer values of any dtype, and their ranges where found in the
    same pass: 8- and 16-bit values widened (with their ranges), 32-bit ones sign- or
    zero-extended, 64-bit ones their own lanes."""
    if raw.dtype.itemsize <= 2:
        lanes, stats = kernels().narrow_lanes(raw)
        return lanes, stats
    if raw.dtype.itemsize == 8:
        return raw.view(np.uint64), None
    return raw.astype(np.int64 if raw.dtype.kind == "i" else np.uint64).view(np.uint64), None


def encode_int_values(
    raw: Array, *, entropy: bool, beat: int | None = None
) -> tuple[int, bytes | memoryview]:
    """:func:`encode_int_block` of integer values of any dtype (their lanes made here)."""
    lanes, stats = int_lanes(raw)
    return encode_int_block(lanes, raw, entropy=entropy, stats=stats, beat=beat)


# --- the runs scheme (format version 13) ----------------------------------------------------

#: A block of the frame itself or a dictionary's indices (never other lanes) of at least
#: RUNS_MIN_VALUES values whose sampled adjacent pairs (:func:`_kernels.runs_share`) are
#: equal in at least RUNS_MIN_SHARE of cases (runs of 2.5 values or more on average) is
#: also coded as runs, and the smaller payload kept: a survey's yes/no flag in runs of
#: about 20 rows takes a third of its bit a value, daily counts that are 81 % zeros 11 %
#: less than the Huffman stage's bit or more a zero.
RUNS_MIN_VALUES = 256
RUNS_MIN_SHARE = 0.6
#: The runs' values are also coded less the value this many runs back, and the smaller
#: kept: a two-state flag's values alternate (all 0 then, but the first two).
RUNS_LAG = 2


def _headroom(limit: int) -> int:
    """The limit handed to a nested encoder whose caller can use only what comes in under
    ``limit`` bytes: a sixteenth more, so that the encoder's estimates (a sampled Huffman
    size, wide-rank's 1/64 to save) do not give up on a payload under ``limit``."""
    return limit + limit // 16 + 1


def encode_frame_block(
    flat: Array, start: int, stop: int, spans: Spans | None, *, entropy: bool
) -> tuple[int, bytes | memoryview]:
    """Cheapest scheme of the block ``flat[start:stop]`` of an integer frame whose spans
    (:func:`frame_spans`) are ``spans``: the runs scheme (format version 13) where its
    pre-check passes, the copy scheme where the spans cover COPY_BLOCK_SHARE of the block,
    and :func:`encode_int_block` unless the spans cover under COPY_WHOLE_SHARE (runs
    shorter than a span are then the other candidate). Ties go to copy, then to the
    block's own scheme. Runs are built first: the others are then built against the size
    to beat (a sensor's held readings in a few hundred runs: the Huffman stage of 43,200
    values gives up at once). Notes the chosen candidate's nested schemes."""
    raw = flat[start:stop]
    lanes, stats = int_lanes(raw)
    runs = encode_runs(lanes, entropy=entropy)
    take_nested()  # (a runs block's version is its own)
    beat = None if runs is None else len(runs) + 1  # (of use: under this size)
    best: tuple[int, bytes | memoryview, int] | None = None
    whole = True
    copied = (
        None
        if spans is None
        else encode_copy(flat, start, stop, spans, entropy=entropy, limit=beat)
    )
    if copied is not None:
        copy, whole = copied
        used = take_nested()
        if copy is not None:
            best, beat = (COPY, copy, used), len(copy)
    if whole:
        scheme, payload = encode_int_block(
            lanes,
            raw,
            entropy=entropy,
            stats=stats,
            beat=None if beat is None else _headroom(beat),
        )
        used = take_nested()
        if beat is None or len(payload) < beat:
            best = (scheme, payload, used)
    if best is None:
        assert runs is not None  # (the block's own scheme or copy had no size to beat)
        return RUNS, runs
    _note(best[2])
    return best[0], best[1]


def encode_runs(lanes: Array, *, entropy: bool) -> bytes | None:
    """Runs payload (format version 13) of the uint64 ``lanes`` of a block of the frame or
    of a dictionary's indices where the pre-check passes, else None: ``count u32``,
    ``lag u8``, each run's value (less the value ``lag`` runs back where ``lag`` is not 0:
    a flag's two states alternate) as a nested integer block with its length, then each
    run's length less one as a nested integer block to the end."""
    k = kernels()
    if not (entropy and lanes.size >= RUNS_MIN_VALUES and k.runs_share(lanes) >= RUNS_MIN_SHARE):
        return None
    values, lengths = k.runs_split(lanes)
    lag, (vscheme, vpayload) = 0, encode_int_lanes(values, None, entropy=entropy, modes=True)
    if values.size > RUNS_LAG:
        other = encode_int_lanes(
            k.lag_residuals(values, RUNS_LAG), None, entropy=entropy, modes=True
        )
        if len(other[1]) < len(vpayload):
            lag, (vscheme, vpayload) = RUNS_LAG, other
    lscheme, lpayload = encode_int_lanes(lengths, None, entropy=entropy, modes=True)
    head = struct.pack("<IBBI", values.size, lag, vscheme, len(vpayload))
    return b"".join((head, vpayload, bytes([lscheme]), lpayload))


def _decode_runs(rd: Reader, n: int, out: Array) -> None:
    """Decode a runs block (see :func:`encode_runs`) of ``n`` lanes into ``out``."""
    count = rd.u32("run count")
    if not 1 <= count <= max(n, 1):
        raise rd.fail(f"run count {count} out of 1..{n}")
    lag = rd.u8("run value lag")
    values = _nested_lanes(rd, count, "run value")
    if lag:
        kernels().unlag(values, lag)
    lengths = decode_int_lanes(_nested_int_scheme(rd, "run length scheme"), rd, count, _I8)
    if kernels().runs_fill(values, lengths, out):
        raise rd.fail(f"runs block: the runs do not fill its {n} values")


def decode_copy(rd: Reader, n: int, dtype: np.dtype[Any], lanes: Array, start: int) -> None:
    """Decode a copy block (see :func:`encode_copy`) of ``n`` values into
    ``lanes[start:start + n]`` (uint64 lanes of the whole frame, those before ``start``
    decoded: the spans copy them): its other values into the block's end, then the
    fill."""
    k = kernels()
    buf = kernel_view(np.frombuffer(rd.view, dtype=np.uint8))
    status, pos, rel, dist, length, covered = k.read_span_table(buf, rd.pos, len(buf), n, start)
    if status == ERR_SHORT:
        raise rd.fail("copy block: the span table is truncated or a varint too long")
    if status != 0:
        raise rd.fail("copy block: a span is out of the block or copies from before the frame")
    rd.pos = int(pos)
    m = n - covered
    if m:
        scheme = rd.u8("copy rest scheme")
        if scheme not in INT_SCHEMES or scheme == COPY:
            raise rd.fail(f"bad copy rest scheme {scheme}")
        decode_int_lanes(scheme, rd, m, dtype, lanes[start + n - m : start + n])
    k.fill_spans(lanes, start, n, rel, dist, length, m)


def _multiples(x: Array, divisor: float) -> Array:
    """``round(x * divisor)`` as int64, 0 where out of range or not finite."""
    return kernels().float_multiples(x, divisor, KMAX_ADJ)  # type: ignore[no-any-return]


def float_lag(x: Array, pairs: Array, probe: Array, bits_per_value: float) -> tuple[float, int]:
    """``(divisor, lag)`` of the float-div scheme for the block ``x``: the divisor
    ``10**(e - f)`` of its ALP exponent and factor, the period of the multiples
    ``round(x * divisor)``; ``(0.0, 0)`` when the block is small or cheap already
    (``bits_per_value``), not decimal, or without a period."""
    if x.size < LAG_MIN_VALUES or bits_per_value < LAG_MIN_BITS or pairs.shape[1] == 0:
        return 0.0, 0
    e, f, cost = kernels().alp_choose(x, pairs, probe)
    if cost >= NEVER or e < f:
        return 0.0, 0
    divisor = float(10 ** (int(e) - int(f)))
    lag = find_block_lag(_multiples(_lag_windows(x), divisor).view(U64), bits_per_value)
    return (divisor, lag) if lag else (0.0, 0)


def alp_or_float_div(x: Array, payload: Array, *, entropy: bool) -> tuple[int, bytes | memoryview]:
    """The ALP ``payload`` of the block ``x`` (uint8; its exponent and factor are its first
    two bytes), or the float-div payload where the multiples repeat a period and it is at
    least 3 % smaller: ``(scheme, payload)``."""
    pair = np.array([[payload[0]], [payload[1]]], dtype=np.int64)
    divisor, lag = float_lag(x, pair, np.zeros(1, dtype=x.dtype), 8 * payload.size / x.size)
    if lag:
        divided = _encode_fdiv(x, divisor, lag, entropy=entropy)
        if len(divided) < 0.97 * payload.size:
            return FDIV, divided
    return ALP, payload.data


def float_div_before_alp(
    x: Array, pairs: Array, probe: Array, alp_size: float, floor: int, *, entropy: bool
) -> tuple[int, bytes | memoryview] | None:
    """As :func:`alp_or_float_div` for the block ``x`` whose ALP exceptions alone take
    ``floor`` bytes (``_kernels.alp_single_block``'s code 3; ``alp_size``: ALP's
    estimate): float-div with a lag first, taken without building ALP where it is at least
    3 % under ``floor`` and at most 0.6 of the raw bytes. None where ALP, built, takes
    more than 0.6 of the raw bytes (the general chooser then tries the others too)."""
    e, f, _cost = kernels().alp_choose(x, pairs, probe)
    pair = np.array([[e], [f]], dtype=np.int64)
    divisor, lag = float_lag(x, pair, probe, 8 * alp_size / x.size)
    divided = None
    if lag:
        divided = _encode_fdiv(x, divisor, lag, entropy=entropy)
        if len(divided) < 0.97 * floor and len(divided) <= 0.6 * x.nbytes:
            return FDIV, divided
    payload = kernels().alp_payload(x, x.view(_uint_of(x)), e, f, probe, entropy)
    if payload.size > 0.6 * x.nbytes:
        return None
    if divided is not None and len(divided) < 0.97 * payload.size:
        return FDIV, divided
    return ALP, payload.data


def alp_estimate(x: Array, pairs: Array, probe: Array) -> float:
    """ALP's sampled size estimate of the block ``x`` (bytes; bit-packed widths and 12
    bytes an exception, on 128 values)."""
    cost = kernels().alp_choose(x, pairs, probe)[2]
    return float(cost * x.size / max(min(x.size, 128), 1) / 8)


def float_div_of(
    x: Array, pairs: Array, probe: Array, payload: Array, alp_size: float, *, entropy: bool
) -> tuple[int, bytes | memoryview] | None:
    """The block ``x`` whose ALP exceptions are decimals float-div takes as small
    adjustments (``_kernels.alp_single_block``'s code 2; ``alp_size``: ALP's estimate).

    Where ALP's ``payload`` was built (float-div pays on its size): as the general
    chooser, float-div with a lag (:func:`alp_or_float_div`), else without one, each where
    at least 3 % smaller than ALP. Where it was not (on the estimate): the float-div
    payload in place of ALP's, the divisor of ALP's exponent and factor, lagged where the
    multiples repeat a period; None where the block's first value is an ALP exception
    (ALP's estimate leaves out that it widens the range of its integers: a ramp that ends
    in a run of one value, estimated at 0.6 of the raw bytes, took 1.1 and shuffle-lz4
    0.26; the general chooser decides), or where the float-div payload comes out at ALP's
    estimate or above (a ramp with one jump of 993,544 bit-packed without the Huffman
    stage: 1,685 bytes against an estimate of 1,136 and ALP's 530).
    """
    e, f, _cost = kernels().alp_choose(x, pairs, probe)
    if payload.size:
        found = alp_or_float_div(x, payload, entropy=entropy)
        if found[0] == FDIV:
            return found
        divided = _encode_fdiv(x, float(10 ** (int(e) - int(f))), 0, entropy=entropy)
        return (FDIV, divided) if len(divided) < 0.97 * payload.size else found
    if kernels().alp_exceptions(x[:1], e, f, probe):
        return None
    pair = np.array([[e], [f]], dtype=np.int64)
    divisor, lag = float_lag(x, pair, probe, 8 * alp_size / x.size)
    if not lag:
        divisor = float(10 ** (int(e) - int(f)))
    divided = _encode_fdiv(x, divisor, lag, entropy=entropy)
    return (FDIV, divided) if len(divided) < alp_size else None


def _near_decimals(x: Array, payload: bytes | memoryview) -> float:
    """The float-div divisor where the ALP ``payload`` of the block ``x`` (its exponent and
    factor first) has exceptions float-div takes as small adjustments
    (``_kernels.fdiv_pays``), else 0.0."""
    e, f = int(payload[0]), int(payload[1])
    uint = _uint_of(x)
    probe = np.zeros(1, dtype=x.dtype)
    # (the size as a float, the type of the warm-up's calls: an int compiles it again)
    size = float(len(payload))
    if kernels().fdiv_pays(x, x.view(uint), e, f, probe, probe.view(uint), KMAX_ADJ, size):
        return float(10 ** (e - f))
    return 0.0


def _encode_fdiv(x: Array, divisor: float, lag: int, *, entropy: bool) -> bytes:
    """Float-div payload (format version 6): ``divisor f64, lag u16``, the multiples
    ``k = round(x * divisor)`` (differenced across ``lag`` when not 0) as a nested integer
    block with its length, then the adjustments (the values' bits minus those of ``k /
    divisor``, as signed lanes): dense as a nested integer block, or sparse as positions
    and values. Every value fits (NaN, infinities, -0.0: ``k`` 0)."""
    uint = _uint_of(x)
    scratch = np.empty_like(x)
    k, lanes = kernels().fdiv_split(x, x.view(uint), divisor, scratch, scratch.view(uint), KMAX_ADJ)
    multiples = k.view(U64)
    if lag:
        multiples = kernels().lag_residuals(multiples, lag)
    kscheme, kpayload = encode_int_lanes(multiples, None, entropy=entropy)
    head = struct.pack("<dHBI", divisor, lag, kscheme, len(kpayload))
    return head + kpayload + _encode_adjustments(lanes, entropy=entropy)


def _encode_adjustments(lanes: Array, *, entropy: bool) -> bytes:
    """Dense (``0, scheme``, nested lanes) or, when fewer than a quarter are not 0, sparse
    (``1, count u32``, then the gaps between their positions, the first from 0, as a nested
    integer block with its length, and their values as a nested integer block)."""
    if (lanes.size - kernels().count_zeros(lanes)) * 4 >= lanes.size:
        scheme, payload = encode_int_lanes(lanes.view(U64), None, entropy=entropy, modes=True)
        return bytes([ADJ_DENSE, scheme]) + payload
    gaps, values = kernels().sparse_adjustments(lanes)
    head = struct.pack("<BI", ADJ_SPARSE, values.size)
    if not values.size:
        return head
    gscheme, gpayload = encode_int_lanes(gaps, None, entropy=entropy)
    vscheme, vpayload = encode_int_lanes(values, None, entropy=entropy, modes=True)
    return (
        head + struct.pack("<BI", gscheme, len(gpayload)) + gpayload + bytes([vscheme]) + vpayload
    )


def _add_adjustments(rd: Reader, n: int, bits: Array) -> None:
    """Add the ``n`` adjustment lanes of a float-div block (see
    :func:`_encode_adjustments`) to ``bits`` (the values' unsigned view, modulo its width)."""
    form = rd.u8("adjustment form")
    if form == ADJ_DENSE:
        adj = decode_int_lanes(_nested_int_scheme(rd, "adjustment scheme"), rd, n, _I8)
        bits += adj.astype(bits.dtype)
        return
    if form != ADJ_SPARSE:
        raise rd.fail(f"bad adjustment form {form}")
    m = rd.u32("adjustment count")
    if m > n:
        raise rd.fail(f"{m} adjustments in a block of {n}")
    if not m:
        return
    gaps = _nested_lanes(rd, m, "gap")
    if gaps[0] >= n or (m > 1 and (gaps[1:].min() == 0 or gaps[1:].max() >= n)):
        raise rd.fail("adjustment position out of the block")
    positions = np.cumsum(gaps.view(np.int64))
    if positions[-1] >= n:
        raise rd.fail("adjustment position out of the block")
    values = decode_int_lanes(_nested_int_scheme(rd, "adjustment scheme"), rd, m, _I8)
    bits[positions] += values.astype(bits.dtype)


def _decode_fdiv(rd: Reader, n: int, dtype: np.dtype[Any], out: Array) -> None:
    """Decode a float-div block (see :func:`_encode_fdiv`) into ``out``."""
    divisor, lag = struct.unpack("<dH", rd.take(10, "divisor and lag"))
    if not (math.isfinite(divisor) and divisor > 0):
        raise rd.fail(f"bad divisor {divisor}")
    k = _nested_lanes(rd, n, "multiple")
    kernels().fdiv_join(k, lag, divisor, out)
    _add_adjustments(rd, n, out.view(_uint_of(out)))


def _uint_of(x: Array) -> np.dtype[Any]:
    return np.dtype("<u8") if x.dtype.itemsize == 8 else np.dtype("<u4")


def _encode_dict(
    x: Array, lags: Array | None = None, adj_base: float | None = None, *, entropy: bool
) -> tuple[int, bytes] | None:
    """Sorted distinct values (a nested float block) plus their indices (integer lanes);
    None where more than a quarter of the values are distinct. ``lags``: the block's
    repeat lags, when known (they give the distinct values without a hash pass);
    ``adj_base``: the block's adjusted float-mult base, when it has one (the values' own
    planner may miss it: Euclid's steps on sorted neighbours lose the base in their
    rounding)."""
    total = x.dtype.itemsize * 8
    bits = x.view(_uint_of(x))
    if lags is None:
        uniq, inverse = kernels().dict_encode(kernels().order_keys(bits, total), x.size // 4, total)
    else:
        uniq, inverse = kernels().dict_from_lags(bits, total, lags)
    if uniq.size == 0:
        return None
    values = kernels().keys_to_bits(uniq, total).astype(_uint_of(x)).view(x.dtype)
    # The sorted values as lanes that order like them first (format version 10): a grid of
    # readings not decimal (BROAD's accelerometer, offset + j x 0.000981: 11 KB where
    # shuffle-lz4 took 32), whose size bounds the float schemes' candidates.
    # Where the block has an adjusted float-mult base or the values lie on a grid with an
    # offset, that payload comes first and bounds the others; where it wins, the lanes
    # (the same grid, coded as bit patterns) are not built (BROAD's gyroscopes, degrees to
    # 4 places in radians: 2,938 and 4,880 bytes for 5,511 and 10,109 values, where the
    # lanes took 21,489 and 37,786; its accelerometer's 6,321 values 14,317 -> 2,917).
    pending = take_nested()
    plan = FloatPlan(values, adj_base=adj_base)
    first = adj_base is not None or (values.size >= GRID_MIN_VALUES and plan.grid[0] != 0.0)
    lanes = None
    if values.size >= FLANES_MIN_VALUES and not first:
        lanes = _encode_flanes(values, entropy=entropy)
        take_nested()  # (FLANES is newer than any scheme of the lanes)
    dscheme, dpayload = encode_float_block(
        values,
        plan,
        entropy=entropy,
        allow_dict=False,
        allow_repeat=False,  # (distinct values: none repeats)
        allow_lag=False,
        allow_split=False,
        adjusted_first=first,
        ceiling=None if lanes is None else len(lanes),
    )
    used = take_nested()
    if lanes is None and values.size >= FLANES_MIN_VALUES and dscheme not in (FMULT_ADJ, FGRID):
        lanes = _encode_flanes(values, entropy=entropy)
        take_nested()
    if lanes is not None and len(lanes) < len(dpayload):
        dscheme, dpayload, used = FLANES, lanes, FLANES
    _note(max(pending, used))
    index = np.asarray(inverse, dtype=np.uint64).reshape(-1)
    ischeme, ipayload = encode_int_lanes(index, None, entropy=entropy)
    kept = take_nested()
    runs = encode_runs(index, entropy=entropy)  # (a reading held for a while: format 13)
    take_nested()
    if runs is not None and len(runs) < len(ipayload):
        ischeme, ipayload, kept = RUNS, runs, RUNS
    _note(kept)
    head = struct.pack("<IBI", values.size, dscheme, len(dpayload))
    return DICT, head + dpayload + bytes([ischeme]) + ipayload


def _encode_alp(x: Array, e: int, f: int, probe: Array, *, entropy: bool) -> tuple[int, bytes]:
    payload = kernels().alp_payload(x, x.view(_uint_of(x)), e, f, probe, entropy)
    return ALP, payload.tobytes()


def _encode_alp_rd(x: Array, right: int) -> tuple[int, bytes]:
    k = kernels()
    total = x.dtype.itemsize * 8
    bits = x.view(np.uint64 if total == 64 else np.uint32).astype(np.uint64)
    left = bits >> np.uint64(right)
    values, counts = np.unique(_sample(left, 1024), return_counts=True)
    dictionary = values[np.argsort(-counts, kind="stable")[:8]]
    dict_bits = _bitlen(max(dictionary.size - 1, 0))
    lookup_order = np.argsort(dictionary)
    sorted_dict = dictionary[lookup_order]
    where = np.searchsorted(sorted_dict, left)
    where = np.minimum(where, sorted_dict.size - 1)
    hit = sorted_dict[where] == left
    idx = np.where(hit, lookup_order[where], 0).astype(np.uint64)
    exc_pos = np.flatnonzero(~hit)
    rights = bits & np.uint64((1 << right) - 1)
    payload = (
        struct.pack("<BB", right, dictionary.size)
        + dictionary.astype("<u2").tobytes()
        + struct.pack("<I", exc_pos.size)
        + exc_pos.astype("<u2").tobytes()
        + left[exc_pos].astype("<u2").tobytes()
        + k.pack_plain(idx, dict_bits).astype(U64).tobytes()
        + k.pack_plain(rights, right).astype(U64).tobytes()
    )
    return ALP_RD, payload


#: The split scheme (format version 8) keeps this many top bits of each value (sign
#: folded) as its left part, and is tried on blocks of at least this many values.
SPLIT_LEFT_BITS = 16
SPLIT_MIN_VALUES = 64


def _split_floor(x: Array) -> int:
    """Bytes the split payload of ``x`` takes at least: its packed right parts."""
    right: int = 8 * x.dtype.itemsize - SPLIT_LEFT_BITS
    return int(x.size) * right // 8


def _encode_split(x: Array, *, entropy: bool) -> bytes:
    """Split payload (format version 8): ``right u8``, the left parts (the magnitude's top
    ``SPLIT_LEFT_BITS - 1`` bits, exponent first, times 2, plus the sign bit) as a nested
    integer block with its length, then each value's low ``right`` bits packed. Noise whose
    exponents cluster takes ~7-8 bits a left part through the Huffman stage, where alp-rd
    spends 16 (or its dictionary bits plus exceptions)."""
    total = 8 * x.dtype.itemsize
    right = total - SPLIT_LEFT_BITS
    bits = x.view(_uint_of(x)).astype(U64)
    sign = bits >> np.uint64(total - 1)
    magnitude = bits & np.uint64((1 << (total - 1)) - 1)
    left = (magnitude >> np.uint64(right)) << np.uint64(1) | sign
    lscheme, lpayload = encode_int_lanes(left, None, entropy=entropy)
    rights = bits & np.uint64((1 << right) - 1)
    packed: bytes = kernels().pack_plain(rights, right).astype(U64).tobytes()
    return struct.pack("<BBI", right, lscheme, len(lpayload)) + lpayload + packed


def _decode_split(rd: Reader, n: int, out: Array) -> None:
    """Decode a split block (see :func:`_encode_split`) of ``n`` values into ``out``."""
    total = 8 * out.dtype.itemsize
    right = rd.u8("right bits")
    if not 1 <= right < total:
        raise rd.fail(f"bad right bits {right}")
    left = _nested_lanes(rd, n, "left part")
    if n and int(left.max()) >> (total - right):
        raise rd.fail(f"a left part is wider than {total - right} bits")
    words = rd.array("<u8", _words(n, right), "right parts")
    bits = np.empty(n, dtype=np.uint64)
    kernels().unpack_plain(words, n, right, bits)
    bits |= (left >> np.uint64(1)) << np.uint64(right)
    bits |= (left & np.uint64(1)) << np.uint64(total - 1)
    out.view(_uint_of(out))[:] = bits


#: A dictionary's sorted values are tried as float lanes (format version 10) from this many
#: values on.
FLANES_MIN_VALUES = 2


def _encode_flanes(x: Array, *, entropy: bool) -> bytes:
    """Float-lanes payload (format version 10): the values' bit patterns as signed lanes
    that order like the values (float-quant's lanes without a shift: the magnitude,
    negated minus one for a negative value; -0.0 is -1) as a nested integer block with its
    length. Every bit pattern has one (NaN, infinities, -0.0)."""
    lanes, _positions = kernels().fquant_lanes(x.view(_uint_of(x)), 0, 8 * x.dtype.itemsize)
    scheme, payload = encode_int_lanes(lanes, None, entropy=entropy)
    return struct.pack("<BI", scheme, len(payload)) + payload


def _decode_flanes(rd: Reader, n: int, out: Array) -> None:
    """Decode a float-lanes block (see :func:`_encode_flanes`) of ``n`` values into ``out``."""
    total = 8 * out.dtype.itemsize
    lanes = _nested_lanes(rd, n, "lane").view(np.int64)
    if n and not -(1 << (total - 1)) <= int(lanes.min()) <= int(lanes.max()) < 1 << (total - 1):
        raise rd.fail(f"a lane is wider than {total} bits")
    sign = np.int64(-1) << np.int64(total - 1)  # (the sign bit, and those above it)
    out.view(np.dtype(f"<i{total // 8}"))[:] = np.where(lanes < 0, (-lanes - 1) | sign, lanes)


def _encode_shuffle_lz4(x: Array) -> tuple[int, bytes]:
    import lz4.block

    shuffled = kernels().byte_shuffle(x.view(_uint_of(x)))
    return SHUFFLE_LZ4, lz4.block.compress(shuffled, store_size=False)


def decode_float_block(scheme: int, rd: Reader, n: int, dtype: np.dtype[Any], out: Array) -> None:
    """Decode one float block of ``n`` values into ``out`` (a slice of the result)."""
    k = kernels()
    itemsize = dtype.itemsize
    if scheme == RAW:
        out[:] = rd.array(dtype.str, n, "raw block")
        return
    if scheme == ALP:
        buf = kernel_view(np.frombuffer(rd.view, dtype=np.uint8))
        bits_view = out.view(np.uint64 if itemsize == 8 else np.uint32)
        status, pos = k.decode_alp_block(buf, rd.pos, len(buf), n, out, bits_view)
        if status != 0:
            raise rd.fail(f"alp block: {ERRORS.get(status, 'corrupt')}")
        rd.pos = pos
        return
    if scheme in (FMULT, FQUANT):
        buf = kernel_view(np.frombuffer(rd.view, dtype=np.uint8))
        bits_view = out.view(_uint_of(out))
        if scheme == FMULT:
            status, pos = k.decode_fmult_block(buf, rd.pos, len(buf), n, out, bits_view)
        else:
            status, pos = k.decode_fquant_block(buf, rd.pos, len(buf), n, bits_view)
        if status != 0:
            raise rd.fail(f"{SCHEME_NAMES[scheme]} block: {ERRORS.get(status, 'corrupt')}")
        rd.pos = pos
        return
    if scheme == REPEAT:
        _decode_repeat(rd, n, dtype, out)
        return
    if scheme == REPEAT_DIV:
        _decode_repeat_div(rd, n, out)
        return
    if scheme == SPLIT:
        _decode_split(rd, n, out)
        return
    if scheme == FLANES:
        _decode_flanes(rd, n, out)
        return
    if scheme == FMULT_ADJ:
        _decode_fmult_adj(rd, n, dtype, out)
        return
    if scheme == FGRID:
        _decode_fgrid(rd, n, dtype, out)
        return
    if scheme == FDIV:
        _decode_fdiv(rd, n, dtype, out)
        return
    if scheme == ALP_RD:
        total = itemsize * 8
        right = rd.u8("right bits")
        dsize = rd.u8("dictionary size")
        if not total - 16 <= right < total or not 1 <= dsize <= 8:
            raise rd.fail(f"bad alp_rd parameters right={right} dictionary={dsize}")
        dictionary = rd.array("<u2", dsize, "dictionary").astype(np.uint64)
        nexc = rd.u32("exception count")
        if nexc > n:
            raise rd.fail(f"{nexc} exceptions in a block of {n}")
        positions = rd.array("<u2", nexc, "exception positions")
        lefts = rd.array("<u2", nexc, "exception left parts").astype(np.uint64)
        if nexc and int(positions.max()) >= n:
            raise rd.fail("exception position out of the block")
        dict_bits = _bitlen(dsize - 1)
        idx_words = rd.array("<u8", _words(n, dict_bits), "dictionary indices")
        right_words = rd.array("<u8", _words(n, right), "right parts")
        bits = np.empty(n, dtype=np.uint64 if itemsize == 8 else np.uint32)
        status = k.alp_rd_decode(
            idx_words, right_words, n, dict_bits, right, dictionary, positions, lefts, total, bits
        )
        if status != 0:
            raise rd.fail(ERRORS[status])
        out[:] = bits.view(dtype)
        return
    if scheme == DICT:
        ndict = rd.u32("dictionary size")
        if not 1 <= ndict <= n:
            raise rd.fail(f"dictionary of {ndict} values for a block of {n}")
        dscheme = rd.u8("dictionary scheme")
        if dscheme not in FLOAT_SCHEMES or dscheme in TOP_ONLY_FLOAT_SCHEMES:
            raise rd.fail(f"bad dictionary scheme {dscheme}")
        dlen = rd.u32("dictionary length")
        sub = Reader(rd.take(dlen, "dictionary"), 0, rd.what + " dictionary")
        values = np.empty(ndict, dtype=dtype)
        decode_float_block(dscheme, sub, ndict, dtype, values)
        sub.end()
        ischeme = rd.u8("index scheme")
        if ischeme not in INT_SCHEMES:
            raise rd.fail(f"bad index scheme {ischeme}")
        idx = decode_int_lanes(ischeme, rd, n, np.dtype("<i8"))
        status = k.dict_gather(values, idx, out)
        if status != 0:
            raise rd.fail(ERRORS[status])
        return
    if scheme == SHUFFLE_LZ4:
        import lz4.block

        payload = rd.take(rd.remaining, "lz4 payload")
        try:
            raw = lz4.block.decompress(payload, uncompressed_size=n * itemsize)
        except Exception as exc:  # lz4 raises LZ4BlockError; translate any failure
            raise rd.fail(f"lz4 payload does not decode: {exc}") from exc
        if len(raw) != n * itemsize:
            raise rd.fail("lz4 payload has the wrong length")
        k.byte_unshuffle(kernel_view(np.frombuffer(raw, dtype=np.uint8)), out.view(_uint_of(out)))
        return
    raise rd.fail(f"scheme {scheme} is not a float scheme")
