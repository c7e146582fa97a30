"""A convolution layer by hand: the output size with stride, padding and dilation, the output
feature map of a small multi-channel input, max and average pooling of it, and the receptive
field of a stack of convolutions.

The layer itself (a cross-correlation with zero padding p, stride s and dilation d, so a side of
length n gives floor((n + 2p - d(k-1) - 1)/s) + 1 outputs), its declarations, size choice and
checks are shared with ``conv_backprop`` in :mod:`worksheetgen.convolutions`: the exact solution
sums the products of SymPy rationals index by index; the check slides windows over a padded NumPy
array with a dilated kernel and counts the windows, so neither the size formula nor the index
formula is shared. The receptive field is derived with the recurrence r_l = r_{l-1} +
d_l (k_l - 1) j_{l-1}, j_l = j_{l-1} s_l and checked by following input positions back through
the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from worksheetgen import convolutions as conv
from worksheetgen import mathfmt
from worksheetgen.answers import Answer, IntegerAnswer, MatrixAnswer
from worksheetgen.convolutions import Channels, SumEntry, out_size
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_values

PARTS = ("size", "output", "pool", "receptive")
POOLINGS = ("max", "average", "both")
ACTIVATIONS = ("none", "relu")
# Limits, as the help texts state them. A hand exercise stays far below them; they bound the cost
# of the worked solution (at most MAX_OUTPUT output entries, each a sum of at most
# MAX_CHANNELS * MAX_KERNEL^2 products: about 5000 exact products, a few hundredths of a second).
MAX_SIDE = 12
MAX_CHANNELS = 3
MAX_KERNEL = 5
MAX_STRIDE = 4
MAX_PADDING = 4
MAX_DILATION = 3
MAX_OUTPUT = 64
MAX_POOL = 4
VALUE_LIMIT = 100
MAX_LAYERS = 8
MAX_RF_KERNEL = 11
MAX_RF_DILATION = 8
# A drawn setting asks at most this many products (a 3 × 3 output of a 3 × 3 kernel).
MAX_DRAWN_WORK = 81

# Drawn sizes, with weights: ordinary settings more often than the unusual ones.
DRAWN = {
    "height": {4: 1, 5: 2, 6: 2, 7: 1},
    "width": {4: 1, 5: 2, 6: 2, 7: 1},
    "channels": {1: 2, 2: 1},
    "kernel_size": {2: 1, 3: 2},
    "stride": {1: 2, 2: 1},
    "padding": {0: 1, 1: 2},
    "dilation": {1: 3, 2: 1},
}
SIZE_KEYS = tuple(DRAWN)
RF_KERNELS = (2, 3, 3, 3, 5)
RF_STRIDES = (1, 1, 2)
RF_DILATIONS = (1, 1, 1, 2)


# -- records ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvolutionGiven(Record):
    parts: tuple[str, ...]
    X: tuple[sp.ImmutableMatrix, ...] | None  # one matrix per input channel
    K: tuple[sp.ImmutableMatrix, ...] | None  # one k × k slice per input channel
    bias: sp.Rational
    stride: int
    padding: int
    dilation: int
    activation: str
    pooling: str
    pool_size: int
    pool_stride: int
    rf_kernels: tuple[int, ...] | None
    rf_strides: tuple[int, ...] | None
    rf_dilations: tuple[int, ...] | None


@dataclass(frozen=True)
class PoolEntry(Record):
    i: int
    j: int
    values: tuple[sp.Rational, ...]  # the window, row by row
    max: sp.Rational
    total: sp.Rational
    avg: sp.Rational


@dataclass(frozen=True)
class RFLayer(Record):
    l: int
    k: int
    s: int
    d: int
    span: int  # d(k-1) + 1
    jump_in: int  # j_{l-1}
    jump: int  # j_l
    r_in: int  # r_{l-1}
    r: int  # r_l


@dataclass(frozen=True)
class ConvolutionData(Record):
    parts: tuple[str, ...]
    C: int
    H: int
    W: int
    k: int
    span: int  # d(k-1) + 1, the extent of the dilated kernel
    num_h: int  # H + 2p - d(k-1) - 1
    num_w: int
    H_out: int
    W_out: int
    padded: tuple[sp.ImmutableMatrix, ...]
    entries: tuple[SumEntry, ...]
    Y: sp.ImmutableMatrix
    relu: bool
    A: sp.ImmutableMatrix | None
    F_name: str  # the map that is pooled: "Y" or "A"
    pool_h: int
    pool_w: int
    pool_entries: tuple[PoolEntry, ...]
    P_max: sp.ImmutableMatrix | None
    P_avg: sp.ImmutableMatrix | None
    rf_layers: tuple[RFLayer, ...]
    rf: int | None
    jump: int | None


def _has(g: ConvolutionGiven, part: str) -> bool:
    return part in g.parts


VALUE_READS = ("input", "kernel", "bias", *SIZE_KEYS)


def _relu_does_something(g: ConvolutionGiven, s: Solved) -> bool:
    if not _has(g, "output") or g.activation != "relu":
        return True
    values = list(s.data.Y)
    return any(v > 0 for v in values) and any(v < 0 for v in values)


def _pooling_differs(g: ConvolutionGiven, s: Solved) -> bool:
    """Some pooling window holds two different values (else max = average everywhere)."""
    if not _has(g, "pool"):
        return True
    return any(len(set(e.values)) > 1 for e in s.data.pool_entries)


def _pooled_nonzero(g: ConvolutionGiven, s: Solved) -> bool:
    """Each pooled map asked has a non-zero entry (a map of 0s is asked for nothing)."""
    if not _has(g, "pool"):
        return True
    return all(P is None or any(v != 0 for v in P) for P in (s.data.P_max, s.data.P_avg))


class Convolution(Family):
    name = "convolution"
    title = "Convolution and pooling"
    summary = ("A small multi-channel input ∗ kernel with stride, padding and dilation: output size, "
               "output feature map, max/average pooling; the receptive field of a stack.")
    Given = ConvolutionGiven
    Data = ConvolutionData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: size (output size), output (feature map), pool (pooling of the "
              "feature map; needs output), receptive (receptive field of a stack)"),
        conv.input_param(MAX_SIDE, MAX_CHANNELS, VALUE_LIMIT),
        Param("kernel", Channels(), None,
              f"kernel K: one square k × k matrix per input channel (a single filter), k at most "
              f"{MAX_KERNEL}, entries from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("bias", Number(-VALUE_LIMIT, VALUE_LIMIT), None, "bias b added to every output entry (0: no bias)"),
        *conv.size_params(DRAWN, MAX_SIDE, MAX_CHANNELS, MAX_KERNEL, MAX_STRIDE),
        Param("padding", Int(0, MAX_PADDING), None, f"zero padding p on every side, 0 to {MAX_PADDING} ({conv.drawn_text(DRAWN['padding'])})"),
        Param("dilation", Int(1, MAX_DILATION), None, f"dilation d, 1 to {MAX_DILATION} ({conv.drawn_text(DRAWN['dilation'])})"),
        Param("activation", Choice(ACTIVATIONS), "none", "none, or relu: the feature map is A = ReLU(Y)"),
        Param("pooling", Choice(POOLINGS), "both", "max, average or both poolings of the feature map"),
        Param("pool_size", Int(1, MAX_POOL), 2, f"pooling window q × q, q from 1 to {MAX_POOL}"),
        Param("pool_stride", Int(1, MAX_POOL), None,
              f"pooling stride, 1 to {MAX_POOL} (default: the window size q if the feature map has "
              "at least 2q rows and columns, else 1)"),
        *conv.value_grids((0, 3, 1), (-1, 2, 1), (-2, 2, 1), VALUE_LIMIT),
        Param("rf_layers", Int(1, MAX_LAYERS), None, f"layers L of the receptive-field stack, 1 to {MAX_LAYERS} (drawn: 2 to 4)"),
        Param("rf_kernels", ListOf(Int(1, MAX_RF_KERNEL), 1, MAX_LAYERS), None,
              f"kernel size of each layer of the stack, 1 to {MAX_RF_KERNEL}"),
        Param("rf_strides", ListOf(Int(1, MAX_STRIDE), 1, MAX_LAYERS), None,
              f"stride of each layer of the stack, 1 to {MAX_STRIDE}"),
        Param("rf_dilations", ListOf(Int(1, MAX_RF_DILATION), 1, MAX_LAYERS), None,
              f"dilation of each layer of the stack, 1 to {MAX_RF_DILATION}"),
    )
    constraints = (
        Constraint("an output that is not all zero", VALUE_READS,
                   lambda g, s: not _has(g, "output") or any(v != 0 for v in s.data.Y)),
        Constraint("an output with at least two different values", VALUE_READS,
                   lambda g, s: not _has(g, "output") or len(set(s.data.Y)) > 1),
        Constraint("a ReLU that zeroes some entries and keeps others", VALUE_READS, _relu_does_something),
        Constraint("a pooling window with two different values", (*VALUE_READS, "pool_stride"), _pooling_differs),
        Constraint("pooled maps that are not all 0", (*VALUE_READS, "pool_stride"), _pooled_nonzero),
        Constraint("a stride above 1 below the last layer of the stack (the jump grows)",
                   ("rf_strides",),
                   lambda g, s: not _has(g, "receptive") or len(g.rf_strides) == 1
                   or any(v > 1 for v in g.rf_strides[:-1])),
    )

    def quality(self, given: ConvolutionGiven, solved: Solved) -> dict[str, bool]:
        out: dict[str, bool] = {}
        if _has(given, "output"):
            Y = list(solved.data.Y)
            out["output all 0"] = all(v == 0 for v in Y)
            out["constant output"] = len(set(Y)) == 1
            if given.activation == "relu":
                out["ReLU zeroes everything or nothing"] = not _relu_does_something(given, solved)
        if _has(given, "pool"):
            out["every pooling window constant"] = not _pooling_differs(given, solved)
            out["pooled map all 0"] = not _pooled_nonzero(given, solved)
        if _has(given, "receptive") and len(given.rf_strides) > 1:
            out["the jump does not grow"] = all(v == 1 for v in given.rf_strides[:-1])
        return out

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """Sizes implied by a pinned input or kernel (or a pinned list of the stack) are not drawn."""
        implied = conv.implied_sizes(options)
        if any(options[k] is not None for k in ("rf_kernels", "rf_strides", "rf_dilations")):
            implied.add("rf_layers")
        return super().drawn(options) - implied

    # -- sizes -----------------------------------------------------------------------------------
    def _fixed_sizes(self, options: dict[str, Any]) -> dict[str, int]:
        """The sizes fixed by the spec, directly or through the pinned matrices."""
        def conflict(source: str, key: str, n: int, given: int) -> WorksheetError:
            if source == "input":
                return WorksheetError(f"{key} = {given} but the input has {n}", field=key,
                                      allowed=f"{n}, as in the input, or leave it out")
            where = "kernel" if options["input"] is not None and key == "channels" else key
            return WorksheetError(f"the kernel has {n} {'channels' if key == 'channels' else 'rows'} "
                                  f"but {key} is {given}", field=where,
                                  allowed=f"one k × k slice per input channel ({given})"
                                  if key == "channels" else f"{n}, as in the kernel")
        return conv.fixed_sizes(options, SIZE_KEYS, conflict)

    def _combos(self, options: dict[str, Any]) -> tuple[list[dict[str, int]], list[float]]:
        """Every admissible size setting (fixed values kept, the rest from DRAWN) with its
        weight; the teaching-friendly ones (outputs 2 to 4 per side) when any exist."""
        pool = "pool" in options["parts"]
        q = options["pool_size"]

        def friendly(sizes: dict[str, int]) -> bool:
            h, w, c, k, s, p, d = (sizes[key] for key in SIZE_KEYS)
            ho, wo = out_size(h, k, s, p, d), out_size(w, k, s, p, d)
            span = d * (k - 1) + 1
            work = ho * wo * c * k ** 2  # products to write out
            return (2 <= ho <= 4 and 2 <= wo <= 4 and work <= MAX_DRAWN_WORK and p < span and s <= span
                    and (not pool or (ho >= q and wo >= q and ho * wo > q * q)))

        return conv.size_combos(self._fixed_sizes(options), DRAWN, SIZE_KEYS,
                                lambda sizes: self._size_problem(sizes, options), friendly)

    def _size_problem(self, sizes: dict[str, int], options: dict[str, Any]) -> str | None:
        h, w, k = sizes["height"], sizes["width"], sizes["kernel_size"]
        s, p, d = sizes["stride"], sizes["padding"], sizes["dilation"]
        ho, wo = out_size(h, k, s, p, d), out_size(w, k, s, p, d)
        if ho < 1 or wo < 1:
            return (f"the dilated kernel spans d(k - 1) + 1 = {d * (k - 1) + 1} positions, more than the padded "
                    f"input ({h + 2 * p} × {w + 2 * p})")
        if ho * wo > MAX_OUTPUT:
            return f"the output would have {ho} × {wo} = {ho * wo} entries, too many to work by hand"
        if "pool" in options["parts"]:
            q = options["pool_size"]
            if ho < q or wo < q:
                return f"the {ho} × {wo} feature map is smaller than the {q} × {q} pooling window"
        return None

    # -- validation ------------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        if "pool" in parts and "output" not in parts:
            raise WorksheetError("pooling works on the feature map of the output part", field="parts",
                                 allowed="pool together with output")
        conv.check_grids(options, ("input_grid", "kernel_grid", "bias_grid"), VALUE_LIMIT)
        for key, side, what in (("input", MAX_SIDE, "side"), ("kernel", MAX_KERNEL, "kernel size")):
            conv.check_channel_shapes(options, key, MAX_CHANNELS, side, what)
            bad = conv.out_of_range(options[key] or (), VALUE_LIMIT)
            if bad:
                raise WorksheetError(f"channel {bad[0]} holds {mathfmt.num(bad[1])}", field=key,
                                     allowed=f"entries from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        conv.check_channels_match(options)
        if any(p in parts for p in ("size", "output")):
            combos, _ = self._combos(options)
            if not combos:
                problem = conv.first_problem(self._fixed_sizes(options), DRAWN, SIZE_KEYS,
                                             lambda sizes: self._size_problem(sizes, options))
                pinned = [k for k in ("kernel", "input", "kernel_size", "dilation", "padding", "stride",
                                      "height", "width") if options[k] is not None]
                field = "pool_size" if "pooling window" in problem else (pinned[0] if pinned else "kernel_size")
                raise WorksheetError(problem, field=field,
                                     allowed="a kernel that fits the padded input, at most "
                                     f"{MAX_OUTPUT} output entries, a pooling window no larger than the feature map")
        lengths = {key: len(options[key]) for key in ("rf_kernels", "rf_strides", "rf_dilations")
                   if options[key] is not None}
        if options["rf_layers"] is not None:
            lengths = {"rf_layers": options["rf_layers"], **lengths}
        if len(set(lengths.values())) > 1:
            first, *rest = lengths.items()
            bad = next(k for k, n in rest if n != first[1])
            raise WorksheetError(f"{bad} has {lengths[bad]} entries but {first[0]} says {first[1]}",
                                 field=bad, allowed=f"{first[1]} entries, one per layer")

    # -- sampling --------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ConvolutionGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        layer = any(p in parts for p in ("size", "output"))
        X = K = None
        bias = sp.Integer(0)
        stride = padding = dilation = 1
        pool_stride = options["pool_stride"] or 1
        if layer:
            sizes = conv.pick_sizes(rng, *self._combos(options))
            h, w, c, k = sizes["height"], sizes["width"], sizes["channels"], sizes["kernel_size"]
            stride, padding, dilation = sizes["stride"], sizes["padding"], sizes["dilation"]
            X = options["input"] or conv.draw_channels(rng, options["input_grid"], c, h, w)
            K = options["kernel"] or conv.draw_channels(rng, options["kernel_grid"], c, k, k)
            if options["bias"] is not None:
                bias = options["bias"]
            else:
                bias = self._draw_bias(rng, options, X, K, stride, padding, dilation)
            if options["pool_stride"] is None:
                ho, wo = out_size(h, k, stride, padding, dilation), out_size(w, k, stride, padding, dilation)
                q = options["pool_size"]
                pool_stride = q if min(ho, wo) >= 2 * q else 1
        rf = (None, None, None)
        if "receptive" in parts:
            n = options["rf_layers"] or next(
                (len(options[k]) for k in ("rf_kernels", "rf_strides", "rf_dilations") if options[k] is not None),
                int(rng.integers(2, 5)))
            rf = [list(options[key]) if options[key] is not None else
                  [int(pool[int(i)]) for i in rng.integers(0, len(pool), size=n)]
                  for key, pool in (("rf_kernels", RF_KERNELS), ("rf_strides", RF_STRIDES),
                                    ("rf_dilations", RF_DILATIONS))]
            if options["rf_strides"] is None and n > 1 and max(rf[1][:-1]) == 1:
                rf[1][int(rng.integers(0, n - 1))] = 2  # a stride below the last layer: the jump grows
            rf = tuple(tuple(v) for v in rf)
        return ConvolutionGiven(
            parts=parts, X=X, K=K, bias=bias, stride=stride, padding=padding, dilation=dilation,
            activation=options["activation"], pooling=options["pooling"], pool_size=options["pool_size"],
            pool_stride=pool_stride, rf_kernels=rf[0], rf_strides=rf[1], rf_dilations=rf[2])

    def _draw_bias(self, rng: np.random.Generator, options: dict[str, Any], X: Any, K: Any,
                   stride: int, padding: int, dilation: int) -> sp.Rational:
        """A bias from the grid; with a ReLU, one for which the ReLU zeroes some outputs and keeps
        others, when the grid has such a value (else any: the constraint then redraws)."""
        grid = options["bias_grid"]
        if options["activation"] != "relu" or "output" not in options["parts"]:
            return grid_values(rng, *grid)
        lo, hi, step = grid
        count = int(sp.floor((hi - lo) / step)) + 1
        raw = conv.forward(X, K, sp.Integer(0), stride, padding, dilation).Y
        # Grid indices i with -max(raw) < lo + i*step < -min(raw).
        first = max(0, int(sp.floor((-max(raw) - lo) / step)) + 1)
        last = min(count - 1, int(sp.ceiling((-min(raw) - lo) / step)) - 1)
        if first > last:
            first, last = 0, count - 1
        return lo + step * int(rng.integers(first, last + 1))

    # -- solving ---------------------------------------------------------------------------------
    def solve(self, given: ConvolutionGiven) -> Solved:
        g = given
        answers: list[Answer] = []
        exact = {"kind": "exact"}
        data: dict[str, Any] = dict(
            parts=g.parts, C=0, H=0, W=0, k=0, span=0, num_h=0, num_w=0, H_out=0, W_out=0, padded=(),
            entries=(), Y=sp.ImmutableMatrix([[0]]), relu=g.activation == "relu", A=None, F_name="Y",
            pool_h=0, pool_w=0, pool_entries=(), P_max=None, P_avg=None, rf_layers=(), rf=None, jump=None)
        if g.X is not None:
            p = g.padding
            f = conv.forward(g.X, g.K, g.bias, g.stride, p, g.dilation)
            H, W, k, ho, wo, Y = f.H, f.W, f.k, f.H_out, f.W_out, f.Y
            span = g.dilation * (k - 1) + 1
            data.update(C=len(g.X), H=H, W=W, k=k, span=span, num_h=H + 2 * p - span, num_w=W + 2 * p - span,
                        H_out=ho, W_out=wo, padded=f.padded, entries=f.entries, Y=Y)
            if "size" in g.parts:
                answers += [IntegerAnswer("H_out", r"H_{\text{out}}", ho),
                            IntegerAnswer("W_out", r"W_{\text{out}}", wo)]
            if "output" in g.parts:
                answers.append(MatrixAnswer("Y", "Y", Y))
                feature = Y
                if data["relu"]:
                    feature = Y.applyfunc(lambda v: v if v > 0 else sp.Integer(0))
                    data.update(A=feature, F_name="A")
                    answers.append(MatrixAnswer("A", r"A = \operatorname{ReLU}(Y)", feature))
            if "pool" in g.parts:
                q, t = g.pool_size, g.pool_stride
                ph, pw = (ho - q) // t + 1, (wo - q) // t + 1
                pool_entries = []
                P_max, P_avg = sp.zeros(ph, pw), sp.zeros(ph, pw)
                for i in range(ph):
                    for j in range(pw):
                        values = tuple(feature[t * i + u, t * j + v] for u in range(q) for v in range(q))
                        total = sum(values, sp.Integer(0))
                        P_max[i, j], P_avg[i, j] = max(values), total / (q * q)
                        pool_entries.append(PoolEntry(i=i, j=j, values=values, max=P_max[i, j],
                                                      total=total, avg=P_avg[i, j]))
                data.update(pool_h=ph, pool_w=pw, pool_entries=tuple(pool_entries))
                if g.pooling in ("max", "both"):
                    data["P_max"] = sp.ImmutableMatrix(P_max)
                    answers.append(MatrixAnswer("P_max", r"\text{max pooling}", data["P_max"]))
                if g.pooling in ("average", "both"):
                    data["P_avg"] = sp.ImmutableMatrix(P_avg)
                    answers.append(MatrixAnswer("P_avg", r"\text{average pooling}", data["P_avg"]))
        if "receptive" in g.parts:
            layers = []
            r, jump = 1, 1
            for l, (k, s, dil) in enumerate(zip(g.rf_kernels, g.rf_strides, g.rf_dilations), start=1):
                new_r, new_jump = r + dil * (k - 1) * jump, jump * s
                layers.append(RFLayer(l=l, k=k, s=s, d=dil, span=dil * (k - 1) + 1, jump_in=jump,
                                      jump=new_jump, r_in=r, r=new_r))
                r, jump = new_r, new_jump
            data.update(rf_layers=tuple(layers), rf=r, jump=jump)
            answers += [IntegerAnswer("rf", r"r_L", r, tolerance=exact),
                        IntegerAnswer("jump", r"j_L", jump, tolerance=exact)]
        return Solved(answers, ConvolutionData(**data))

    # -- independent check -----------------------------------------------------------------------
    def check(self, given: ConvolutionGiven) -> dict[str, Any]:
        """Windows slid over a padded float array with a dilated kernel (zeros between the taps);
        sizes are counted from the windows, not computed from the size formula."""
        g = given
        out: dict[str, Any] = {}
        if g.X is not None:
            Y = conv.float_forward(conv.as_array(g.X), conv.as_array(g.K), g.bias, g.stride, g.padding, g.dilation)
            if "size" in g.parts:
                out.update(H_out=int(Y.shape[0]), W_out=int(Y.shape[1]))
            if "output" in g.parts:
                out["Y"] = Y
                feature = Y
                if g.activation == "relu":
                    feature = np.maximum(Y, 0.0)
                    out["A"] = feature
            if "pool" in g.parts:
                q, t = g.pool_size, g.pool_stride
                win = sliding_window_view(feature, (q, q))[::t, ::t]
                if g.pooling in ("max", "both"):
                    out["P_max"] = win.max(axis=(2, 3))
                if g.pooling in ("average", "both"):
                    out["P_avg"] = win.mean(axis=(2, 3))
        if "receptive" in g.parts:
            out.update(zip(("rf", "jump"), receptive_field_by_positions(g.rf_kernels, g.rf_strides, g.rf_dilations)))
        return out


def receptive_field_by_positions(kernels: Sequence[int], strides: Sequence[int],
                                 dilations: Sequence[int]) -> tuple[int, int]:
    """(receptive field, jump) of the last layer, by following positions back to the input: a
    unit at position i of a layer reads positions s*i + d*u, u < k, of the layer below (padding
    only shifts positions, so it is left out)."""
    def sources(last: int) -> set[int]:
        positions = {last}
        for k, s, d in reversed(list(zip(kernels, strides, dilations))):
            positions = {s * i + d * u for i in positions for u in range(k)}
        return positions

    first, second = sources(0), sources(1)
    return max(first) - min(first) + 1, min(second) - min(first)
