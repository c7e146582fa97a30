"""One small 2-D convolution layer, as the two families that use it (convolution, conv_backprop)
share it: the declarations of the pinned or drawn input and kernel, the choice of sizes, the
checks of what the spec pins, the exact worked correlation and the NumPy forward pass of the
independent check.

"Convolution" is the deep-learning one, a cross-correlation (the kernel is not flipped), with
zero padding p, stride s and dilation d (kernel taps d positions apart). Indices start at 0:

    Y[i, j] = b + sum_c sum_{u,v} K[c, u, v] * Xpad[c, s*i + d*u, s*j + d*v]

The exact side (:func:`correlate`, :func:`forward`) sums SymPy rationals index by index and keeps
the products for the worked solution; the check side (:func:`float_forward`) slides windows over a
padded float array with a dilated kernel, so the two share neither the size formula nor the index
formula. The families keep their own limits and wording: the helpers take them as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from worksheetgen.errors import WorksheetError
from worksheetgen.family import Record
from worksheetgen.params import Int, Kind, Matrix, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

# Terms per printed line of a worked sum (a longer line runs off an A4 page).
TERMS_PER_LINE = 8
# The size parameters a pinned input or kernel fixes, in the order they are compared.
INPUT_SIZES = ("height", "width", "channels")
KERNEL_SIZES = ("kernel_size", "channels")


# -- exact helpers --------------------------------------------------------------------------------

def out_size(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    """floor((n + 2p - d(k-1) - 1)/s) + 1; below 1 the kernel does not fit."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pad(x: sp.MatrixBase, p: int) -> sp.ImmutableMatrix:
    """x with p rows/columns of zeros on every side."""
    h, w = x.shape
    out = sp.zeros(h + 2 * p, w + 2 * p)
    out[p:p + h, p:p + w] = x
    return sp.ImmutableMatrix(out)


def chunks(items: Sequence[Any], size: int = TERMS_PER_LINE) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(items[i:i + size]) for i in range(0, len(items), size)) or ((),)


@dataclass(frozen=True)
class Term(Record):
    """One product a·b of a worked sum."""

    a: sp.Rational
    b: sp.Rational


@dataclass(frozen=True)
class SumEntry(Record):
    """One entry of a worked correlation: its indices, its non-zero products (in lines of at
    most TERMS_PER_LINE, channel by channel) and its value."""

    i: int
    j: int
    lines: tuple[tuple[Term, ...], ...]
    value: sp.Rational
    zero: bool  # every product has a zero factor


def correlate(inputs: Sequence[sp.MatrixBase], kernels: Sequence[sp.MatrixBase], bias: sp.Rational,
              stride: int, dilation: int, rows: int, cols: int) -> tuple[sp.ImmutableMatrix, tuple[SumEntry, ...]]:
    """The (already padded) inputs correlated with the kernels, entry by entry:
    out[i, j] = bias + sum_c sum_{u,v} kernels[c][u, v] * inputs[c][s*i + d*u, s*j + d*v]."""
    entries = []
    out = sp.zeros(rows, cols)
    for i in range(rows):
        for j in range(cols):
            total = bias
            lines: list[tuple[Term, ...]] = []
            for x, k in zip(inputs, kernels):
                terms = []
                for u in range(k.rows):
                    for v in range(k.cols):
                        a = x[stride * i + dilation * u, stride * j + dilation * v]
                        total += a * k[u, v]
                        if a != 0 and k[u, v] != 0:
                            terms.append(Term(a=a, b=k[u, v]))
                # Several channels: one line per channel, an empty one (printed 0) included, so
                # the lines stay in channel order.
                lines.extend(chunks(terms) if terms or len(inputs) > 1 else ())
            out[i, j] = total
            zero = all(not line for line in lines)
            entries.append(SumEntry(i=i, j=j, lines=tuple(lines) if not zero else (), value=total, zero=zero))
    return sp.ImmutableMatrix(out), tuple(entries)


@dataclass(frozen=True)
class Forward:
    """The forward pass of one layer, exactly: sizes, padded channels, output and its worked sums."""

    H: int
    W: int
    k: int
    H_out: int
    W_out: int
    padded: tuple[sp.ImmutableMatrix, ...]
    Y: sp.ImmutableMatrix
    entries: tuple[SumEntry, ...]


def forward(X: Sequence[sp.MatrixBase], K: Sequence[sp.MatrixBase], bias: sp.Rational, stride: int,
            padding: int, dilation: int = 1) -> Forward:
    """Y = b + (X padded by p) correlated with K at stride s and dilation d, channel by channel."""
    H, W = X[0].shape
    k = K[0].rows
    ho, wo = out_size(H, k, stride, padding, dilation), out_size(W, k, stride, padding, dilation)
    padded = tuple(pad(x, padding) for x in X)
    Y, entries = correlate(padded, K, bias, stride, dilation, ho, wo)
    return Forward(H=H, W=W, k=k, H_out=ho, W_out=wo, padded=padded, Y=Y, entries=entries)


# -- the independent check ------------------------------------------------------------------------

def as_array(channels: Sequence[sp.MatrixBase]) -> np.ndarray:
    """Channels as a float array (C, H, W), each entry rounded once from its exact value."""
    return np.array([[[float(v) for v in row] for row in m.tolist()] for m in channels], dtype=float)


def float_forward(X: np.ndarray, K: np.ndarray, bias: float, stride: int, padding: int,
                  dilation: int = 1) -> np.ndarray:
    """Y from windows slid over the padded float input (C, H, W) with the kernel (C, k, k) spread
    to its dilated extent (zeros between the taps): the output size is counted from the windows,
    not computed from the size formula."""
    c, k = K.shape[0], K.shape[1]
    d, p, s = dilation, padding, stride
    Kd = np.zeros((c, d * (k - 1) + 1, d * (k - 1) + 1))
    Kd[:, ::d, ::d] = K
    Xp = np.pad(X, ((0, 0), (p, p), (p, p)))
    windows = sliding_window_view(Xp, Kd.shape[1:], axis=(1, 2))[:, ::s, ::s]
    return np.einsum("cijuv,cuv->ij", windows, Kd) + float(bias)


# -- declarations ---------------------------------------------------------------------------------

class Channels(Kind):
    """One matrix (a single channel, a list of rows) or a list of such matrices (one per channel)."""

    description = ("a matrix written as a list of rows, e.g. [[1, 0], [2, 3]], or a list of such "
                   "matrices of one size, one per channel")

    def parse(self, value: Any) -> tuple[sp.ImmutableMatrix, ...]:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(self.description)
        nested = isinstance(value[0], (list, tuple)) and value[0] and isinstance(value[0][0], (list, tuple))
        mats = list(value) if nested else [value]
        out = []
        for m in mats:
            if not isinstance(m, (list, tuple)) or not m or not all(isinstance(r, (list, tuple)) for r in m):
                raise ValueError(self.description)
            out.append(sp.ImmutableMatrix(Matrix().parse(m)))
        if len({m.shape for m in out}) != 1:
            raise ValueError("matrices of one size, one per channel")
        return tuple(out)


def input_param(max_side: int, max_channels: int, limit: int) -> Param:
    """The input X, pinned as one matrix or one per channel (drawn when left out)."""
    return Param("input", Channels(), None,
                 f"input X: a matrix (one channel) or a list of matrices (one per channel); at most "
                 f"{max_side} × {max_side} and {max_channels} channels, entries from {-limit} to {limit}")


def drawn_text(values: Mapping[int, float]) -> str:
    """How a help text names the drawn values: "drawn: 1 or 2", "drawn from 4 to 7"."""
    lo, hi = min(values), max(values)
    return f"drawn: {lo} or {hi}" if len(values) == 2 else f"drawn from {lo} to {hi}"


def size_params(drawn: Mapping[str, Mapping[int, float]], max_side: int, max_channels: int, max_kernel: int,
                max_stride: int) -> tuple[Param, ...]:
    """height, width, channels, kernel_size and stride, their help naming what is drawn."""
    return (
        Param("height", Int(1, max_side), None, f"input height H, 1 to {max_side} ({drawn_text(drawn['height'])})"),
        Param("width", Int(1, max_side), None, f"input width W, 1 to {max_side} ({drawn_text(drawn['width'])})"),
        Param("channels", Int(1, max_channels), None,
              f"input channels C, 1 to {max_channels} ({drawn_text(drawn['channels'])})"),
        Param("kernel_size", Int(1, max_kernel), None,
              f"kernel size k, 1 to {max_kernel} ({drawn_text(drawn['kernel_size'])})"),
        Param("stride", Int(1, max_stride), None, f"stride s, 1 to {max_stride} ({drawn_text(drawn['stride'])})"),
    )


def value_grids(input_grid: tuple[int, int, int], kernel_grid: tuple[int, int, int],
                bias_grid: tuple[int, int, int], limit: int) -> tuple[Param, ...]:
    """The [lo, hi, step] grids of drawn inputs, kernel entries and bias, with these defaults."""
    return (grid_param("input_grid", input_grid, f"[lo, hi, step] for drawn inputs, within ±{limit}"),
            grid_param("kernel_grid", kernel_grid, f"[lo, hi, step] for drawn kernel entries, within ±{limit}"),
            grid_param("bias_grid", bias_grid, f"[lo, hi, step] for a drawn bias, within ±{limit}"))


# -- sizes ----------------------------------------------------------------------------------------

def implied_sizes(options: Mapping[str, Any]) -> set[str]:
    """The size parameters a pinned input or kernel fixes (they are not drawn)."""
    implied: set[str] = set()
    if options["input"] is not None:
        implied |= set(INPUT_SIZES)
    if options["kernel"] is not None:
        implied |= set(KERNEL_SIZES)
    return implied


def pinned_sizes(options: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(source, size parameter, value) for each size a pinned input or kernel fixes, input first."""
    pinned: list[tuple[str, str, int]] = []
    if options["input"] is not None:
        h, w = options["input"][0].shape
        pinned += zip(("input",) * 3, INPUT_SIZES, (h, w, len(options["input"])))
    if options["kernel"] is not None:
        pinned += zip(("kernel",) * 2, KERNEL_SIZES, (options["kernel"][0].rows, len(options["kernel"])))
    return pinned


Conflict = Callable[[str, str, int, int], WorksheetError]


def fixed_sizes(options: Mapping[str, Any], keys: Sequence[str], conflict: Conflict) -> dict[str, int]:
    """The sizes the spec fixes, directly or through the pinned matrices. Where the two disagree,
    ``conflict(source, key, implied, given)`` is the error to raise (each family words its own)."""
    fixed = {key: options[key] for key in keys if options[key] is not None}
    for source, key, n in pinned_sizes(options):
        if fixed.setdefault(key, n) != n:
            raise conflict(source, key, n, fixed[key])
    return fixed


def size_combos(fixed: Mapping[str, int], drawn: Mapping[str, Mapping[int, float]], keys: Sequence[str],
                problem: Callable[[dict[str, int]], str | None],
                friendly: Callable[[dict[str, int]], bool]) -> tuple[list[dict[str, int]], list[float]]:
    """Every admissible size setting (fixed values kept, the rest from ``drawn``, value: weight)
    with its weight, ``problem`` ruling out the impossible ones; the ``friendly`` ones (sized for
    work by hand) when any exist."""
    combos: list[tuple[tuple[int, float], ...]] = [()]
    for key in keys:
        choices = [(fixed[key], 1)] if key in fixed else list(drawn[key].items())
        combos = [c + (o,) for c in combos for o in choices]
    hard: list[tuple[dict[str, int], float]] = []
    soft: list[tuple[dict[str, int], float]] = []
    for combo in combos:
        sizes = {k: v for k, (v, _) in zip(keys, combo)}
        weight = float(np.prod([w for _, w in combo]))
        if problem(sizes) is not None:
            continue
        hard.append((sizes, weight))
        if friendly(sizes):
            soft.append((sizes, weight))
    chosen = soft or hard
    return [c for c, _ in chosen], [w for _, w in chosen]


def pick_sizes(rng: np.random.Generator, combos: Sequence[dict[str, int]], weights: Sequence[float]) -> dict[str, int]:
    """One of the settings, drawn by weight."""
    return combos[int(rng.choice(len(combos), p=np.array(weights) / sum(weights)))]


def draw_channels(rng: np.random.Generator, grid: Sequence[Any], channels: int, rows: int,
                  cols: int) -> tuple[sp.ImmutableMatrix, ...]:
    """``channels`` matrices of rows × cols values from the grid, channel by channel."""
    return tuple(sp.ImmutableMatrix(grid_values(rng, *grid, size=(rows, cols))) for _ in range(channels))


# -- validation -----------------------------------------------------------------------------------

def check_grids(options: Mapping[str, Any], keys: Sequence[str], limit: int) -> None:
    """Each [lo, hi, step] grid usable and within ±limit."""
    for key in keys:
        require_grid(options, key)
        lo, hi, _ = options[key]
        if lo < -limit or hi > limit:
            raise WorksheetError("grid outside the allowed range", field=key,
                                 allowed=f"values from {-limit} to {limit}")


def check_channel_shapes(options: Mapping[str, Any], key: str, max_channels: int, max_side: int,
                         side_text: str) -> None:
    """A pinned input or kernel: at most max_channels channels, square if a kernel, sides at most
    max_side (``side_text`` names that limit in the message)."""
    mats = options[key]
    if mats is None:
        return
    if len(mats) > max_channels:
        raise WorksheetError(f"{len(mats)} channels", field=key, allowed=f"at most {max_channels} channels")
    rows, cols = mats[0].shape
    if key == "kernel" and rows != cols:
        raise WorksheetError(f"the kernel is {rows} × {cols}", field=key, allowed="square k × k slices")
    if max(rows, cols) > max_side:
        raise WorksheetError(f"the matrices are {rows} × {cols}", field=key, allowed=f"{side_text} at most {max_side}")


def out_of_range(mats: Sequence[sp.MatrixBase], limit: int) -> tuple[int, sp.Rational] | None:
    """(channel from 1, entry) of the first entry beyond ±limit, or None."""
    for c, m in enumerate(mats, start=1):
        for v in m:
            if abs(v) > limit:
                return c, v
    return None


def check_channels_match(options: Mapping[str, Any]) -> None:
    """A pinned input and kernel have one kernel slice per input channel."""
    if options["input"] is not None and options["kernel"] is not None and \
            len(options["input"]) != len(options["kernel"]):
        raise WorksheetError(f"the input has {len(options['input'])} channels but the kernel "
                             f"{len(options['kernel'])}", field="kernel",
                             allowed="one k × k slice per input channel")


def first_problem(fixed: Mapping[str, int], drawn: Mapping[str, Mapping[int, float]], keys: Sequence[str],
                  problem: Callable[[dict[str, int]], str | None]) -> str:
    """Why no size setting fits: the problem of the fixed sizes with the smallest drawn rest."""
    sizes = {k: fixed.get(k, min(drawn[k])) for k in keys}
    return problem(sizes) or "no drawn size fits the fixed ones"
