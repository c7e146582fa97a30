"""MLP vs CNN on a raw image (seed 003 Exercise 2 a–e): parameter counts of a one-hidden-layer
MLP and of a stack of convolution layers, the output size of a strided, padded convolution, the
fully connected linear layer that computes the same function as that convolution (its shape,
the entries that can be non-zero, its parameters and their ratio to the convolution's), why
convolutional layers are therefore a proper subset of fully connected ones, and how many times
more parameters the MLP needs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.answers import IntegerAnswer, NumberAnswer, TextAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.mathfmt import intsep
from worksheetgen.params import Bool, Choice, Int, ListOf, Param

# (width, height): camera, screen and dataset sizes.
IMAGE_SIZES = ((1920, 1080), (1280, 720), (3840, 2160), (640, 480), (800, 600), (1024, 768),
               (224, 224), (256, 256), (512, 512), (128, 128), (64, 64), (32, 32))
HIDDEN = (64, 128, 256, 512, 1024)
OUTPUTS = (2, 5, 10, 20, 100)
FILTERS = (16, 32, 64, 128, 256)
KERNELS = (3, 4, 5, 7)
STRIDES = (1, 2, 3, 4)
# The source sheet's parts in its order, then the ratio of the two totals.
PARTS = ("mlp", "cnn", "conv_output", "dense_equivalent", "subset", "ratio")
# What a part needs asked before it (it builds on their numbers).
NEEDS = {"ratio": ("mlp", "cnn"), "subset": ("dense_equivalent",)}


def conv_output(size: int, kernel: int, stride: int, padding: int) -> int:
    """⌊(size + 2p − k)/s⌋ + 1 (only meaningful when size + 2p ≥ k)."""
    return (size + 2 * padding - kernel) // stride + 1


def window_coverage(size: int, kernel: int, stride: int, padding: int) -> int:
    """Σ over the output positions along one side of the number of real (not padding) pixels
    under the window: the window at position i covers [i·s − p, i·s − p + k − 1] ∩ [0, size − 1]."""
    total = 0
    for i in range(conv_output(size, kernel, stride, padding)):
        start = i * stride - padding
        total += max(0, min(start + kernel, size) - max(start, 0))
    return total


def subset_answer(f: dict[str, Any]) -> str:
    """The model answer of the subset part, built from the counts of the dense part (``f``);
    check() rebuilds it from counts of its own."""
    bias = (" and $b$ repeats the one bias of the filter" if f["conv_bias"]
            else " and $b = 0$ (the filter has no bias)")
    return (
        f"By {f['ref']}, every convolution layer of this shape "
        rf"(one ${f['k']} \times {f['k']}$ filter over ${f['C']}$ channel{'s' if f['C'] > 1 else ''}, "
        rf"stride ${f['s']}$, padding ${f['p']}$, on a ${f['W']} \times {f['H']}$ image) computes "
        "$f = Ax + b$ for a matrix $A$ and a vector $b$, so every function written as such a "
        "convolutional layer is also written as a fully connected linear layer: the convolutional "
        "layers are a subset of the fully connected ones. The subset is proper. A fully connected "
        f"layer may choose all ${intsep(f['rows'] * f['cols'])}$ entries of $A$ and all "
        f"${intsep(f['rows'])}$ biases freely, while for a convolution only ${intsep(f['nonzero'])}$ "
        "entries of $A$ can be non-zero (an output sees only the pixels under its window), and in "
        f"every row they are taken from the same ${intsep(f['k'] * f['k'] * f['C'])}$ filter weights "
        f"(weight sharing){bias}. A fully connected layer with, say, a non-zero weight from a pixel "
        "outside an output's window, or two rows with different weights, is no convolution. "
        f"So the convolutional layers form a linear subspace of dimension ${intsep(f['conv'])}$ "
        f"inside the ${intsep(f['dense'])}$ dimensions of the fully connected layers: far fewer "
        "parameters to learn, with locality and weight sharing built in."
    )


def _ref(part_of: dict[str, int], part: str) -> str:
    """'(d)': the label of a part as printed."""
    return "(" + "abcdefghij"[part_of[part] - 1] + ")" if part in part_of else ""


def _scientific(n: int) -> str:
    """'1.6 \\cdot 10^{9}': two significant digits, as the seed writes the MLP total."""
    d = Decimal(n)
    exponent = d.adjusted()
    mantissa = (d.scaleb(-exponent)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa} \\cdot 10^{{{exponent}}}"


@dataclass(frozen=True)
class CnnParamsGiven(Record):
    parts: tuple[str, ...]
    width: int
    height: int
    channels: int
    hidden: int
    outputs: int
    mlp_bias: bool
    conv_layers: int
    filters: int
    kernel: int
    conv_bias: bool
    stride: int
    padding: int
    exact_division: bool


@dataclass(frozen=True)
class CnnParamsData(Record):
    inputs: int  # W·H·C, the flattened image
    mlp_hidden: int
    mlp_output: int
    mlp_total: int
    mlp_sci: str  # the MLP total to two significant digits, as TeX
    cnn_first: int
    cnn_rest: int
    cnn_total: int
    span_w: int  # size + 2p − k along the width
    span_h: int
    out_w: int
    out_h: int
    exact_w: bool  # the stride divides the span
    exact_h: bool
    ratio: sp.Rational
    # the equivalent fully connected layer of the single convolution of (c)
    part_of: dict[str, int]  # part name → its number, for references in the text
    dense_rows: int  # outputs: out_w · out_h · 1
    dense_cols: int  # inputs: W · H · C
    cover_w: int  # Σ real pixels under the window along the width (and height)
    cover_h: int
    dense_nonzero: int
    dense_weights: int
    dense_params: int
    conv_params: int
    dense_ratio: sp.Rational
    dense_ratio_sci: str  # the ratio to two significant digits, as TeX


SIZE_READS = ("width", "height", "kernel", "padding")
def _compared(g: Any) -> bool:
    """The sheet sets the MLP against the CNN (both counted)."""
    return "mlp" in g.parts and "cnn" in g.parts


MLP_CNN_READS = ("width", "height", "channels", "hidden", "outputs", "conv_layers", "filters", "kernel")


class CnnParams(Family):
    """Every count is integer arithmetic and the check counts (array shapes, window positions)
    without allocating, so the largest documented values (10 000 × 10 000 × 16 images, 100 layers
    of 1024 filters of 31 × 31) cost microseconds: nothing needs refusing for its cost."""

    name = "cnn_params"
    title = "MLP vs CNN"
    summary = ("Parameters of a one-hidden-layer MLP on a raw H×W×C image and of an L-layer CNN "
               "with F k×k filters; output size of a strided, padded convolution; their ratio.")
    Given = CnnParamsGiven
    Data = CnnParamsData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask, printed in this order: mlp, cnn, conv_output, dense_equivalent "
              "(the fully connected layer equal to the convolution of conv_output), subset (why "
              "convolutional layers are a proper subset of fully connected ones; needs "
              "dense_equivalent), ratio (MLP over CNN parameters; needs mlp and cnn)"),
        Param("width", Int(1, 10000), None, "image width in pixels, 1 to 10 000 (seed: 1920)"),
        Param("height", Int(1, 10000), None, "image height in pixels, 1 to 10 000 (seed: 1080)"),
        Param("channels", Int(1, 16), None,
              "channels per pixel, 1 to 16: 3 for RGB, 1 for grayscale (drawn from these two)"),
        Param("hidden", Int(1, 100000), None, "nodes of the MLP's hidden layer, 1 to 100 000"),
        Param("outputs", Int(1, 100000), None, "nodes of the MLP's output layer, 1 to 100 000"),
        Param("mlp_bias", Bool(), True, "every MLP node has a bias"),
        Param("conv_layers", Int(1, 100), None, "number L of convolution layers, 1 to 100 (drawn from 2 to 12)"),
        Param("filters", Int(1, 1024), None, "filters F per convolution layer, 1 to 1024"),
        Param("kernel", Int(1, 31), None,
              "filter size k, 1 to 31 (k × k over all input channels; it must fit the padded image)"),
        Param("conv_bias", Bool(), True, "every filter has a bias"),
        Param("stride", Int(1, 16), None, "stride s of the single convolution in part (c), 1 to 16"),
        Param("padding", Int(0, 32), None, "padding p (pixels on every side) in part (c), 0 to 32"),
        Param("exact_division", Bool(), True,
              "draw only (c) settings where (size + 2p − k) is a multiple of s in both directions"),
    )
    constraints = (
        Constraint("the filter fits the padded image (output at least 1 × 1)", SIZE_READS,
                   lambda g, s: s.data.span_w >= 0 and s.data.span_h >= 0),
        Constraint("(size + 2p − k) divisible by the stride in both directions",
                   (*SIZE_READS, "stride"),
                   lambda g, s: not g.exact_division or (s.data.exact_w and s.data.exact_h)),
        Constraint("padding smaller than the filter", ("padding", "kernel"),
                   lambda g, s: g.padding < g.kernel),
        # A stride beyond the filter skips pixels: columns of the dense layer's A are all zero.
        Constraint("stride at most the filter size (no pixel skipped)", ("stride", "kernel"),
                   lambda g, s: g.stride <= g.kernel),
        # The source sheet's lesson: the MLP on raw pixels needs far more parameters.
        Constraint("the MLP needs at least 10 times the CNN's parameters", MLP_CNN_READS,
                   lambda g, s: not _compared(g) or s.data.ratio >= 10),
    )
    # Parameter counts are exact products of the given sizes: their magnitude follows the image
    # (32 × 32 grayscale to 3840 × 2160 RGB) and the layer sizes, not the work, which is the same
    # multiplication for every student. A fully connected layer on a 4K image has ~10^14
    # parameters, one on 32 × 32 about 10^5 (about 7 decades between the 5th and 95th percentile
    # over 200 draws); the spread of magnitudes is that range, not a difference in difficulty. The ratio's rule (at least 10) keeps every student's conclusion.
    quality_bounds = {"spread": 8.0}

    def quality(self, given: CnnParamsGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        return {
            "filter does not fit the padded image": d.span_w < 0 or d.span_h < 0,
            "stride does not divide (size + 2p - k)": given.exact_division and not (d.exact_w and d.exact_h),
            "padding not smaller than the filter": given.padding >= given.kernel,
            "stride larger than the filter (pixels skipped)": given.stride > given.kernel,
            "MLP below 10 times the CNN's parameters": _compared(given) and d.ratio < 10,
        }

    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for part, needed in NEEDS.items():
            missing = [n for n in needed if n not in parts]
            if part in parts and missing:
                raise WorksheetError(f"part {part} builds on {', '.join(missing)}, which is not asked",
                                     field="parts", allowed=f"{part} together with {', '.join(needed)}")
        kernel, padding = options["kernel"], options["padding"]
        for side in ("width", "height"):
            size = options[side]
            if None not in (size, kernel, padding) and size + 2 * padding < kernel:
                raise WorksheetError(
                    f"a {kernel}×{kernel} filter does not fit a {side} of {size} with padding {padding}",
                    field="kernel", allowed=f"at most {size + 2 * padding} (or more padding)")

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less a side that copies the other (a square image): it is fixed by
        the spec as much as the side it copies."""
        drawn = set(super().drawn(options))
        for side, other in (("width", "height"), ("height", "width")):
            if options[side] is None and options[other] is not None:
                drawn.discard(side)
        return frozenset(drawn)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> CnnParamsGiven:
        def pick(key: str, values: tuple[Any, ...]) -> Any:
            return options[key] if options[key] is not None else values[int(rng.integers(len(values)))]

        width, height = options["width"], options["height"]
        if width is None and height is None:
            width, height = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
        width = width if width is not None else height
        height = height if height is not None else width
        kernel = pick("kernel", KERNELS)
        # Padding up to half the filter: 'same'-style padding and the seed's 2 for a 4×4 filter.
        padding = pick("padding", tuple(range(kernel // 2 + 1)))
        return CnnParamsGiven(
            parts=tuple(p for p in PARTS if p in options["parts"]),
            width=width, height=height, channels=pick("channels", (1, 3)),
            hidden=pick("hidden", HIDDEN), outputs=pick("outputs", OUTPUTS),
            mlp_bias=options["mlp_bias"],
            conv_layers=pick("conv_layers", tuple(range(2, 13))), filters=pick("filters", FILTERS),
            kernel=kernel, conv_bias=options["conv_bias"],
            stride=pick("stride", tuple(v for v in STRIDES if v <= kernel) or STRIDES), padding=padding,
            exact_division=options["exact_division"],
        )

    def solve(self, given: CnnParamsGiven) -> Solved:
        w, h, c = given.width, given.height, given.channels
        n, k_out = given.hidden, given.outputs
        mb = 1 if given.mlp_bias else 0
        inputs = w * h * c
        mlp_hidden = inputs * n + mb * n
        mlp_output = n * k_out + mb * k_out
        mlp_total = mlp_hidden + mlp_output

        layers, f, k = given.conv_layers, given.filters, given.kernel
        cb = 1 if given.conv_bias else 0
        cnn_first = (k * k * c + cb) * f
        cnn_rest = (k * k * f + cb) * f
        cnn_total = cnn_first + (layers - 1) * cnn_rest

        s, p = given.stride, given.padding
        span_w, span_h = w + 2 * p - k, h + 2 * p - k
        out_w, out_h = conv_output(w, k, s, p), conv_output(h, k, s, p)
        ratio = sp.Rational(mlp_total, cnn_total)

        part_of = {name: i for i, name in enumerate(given.parts, start=1)}
        # The single convolution of (c) as a fully connected layer f = Ax + b on the flattened
        # image: one row of A per output pixel, one column per input value; a row's non-zero
        # entries are the filter weights over the real pixels under its window.
        dense_rows, dense_cols = out_w * out_h, inputs
        cover_w, cover_h = window_coverage(w, k, s, p), window_coverage(h, k, s, p)
        dense_nonzero = cover_w * cover_h * c
        dense_weights = dense_rows * dense_cols
        dense_params = dense_weights + dense_rows  # a fully connected layer has its biases
        conv_params = k * k * c + cb
        dense_ratio = sp.Rational(dense_params, conv_params)
        facts = dict(ref=_ref(part_of, "dense_equivalent"), k=k, C=c, s=s, p=p, W=w, H=h,
                     rows=dense_rows, cols=dense_cols, nonzero=dense_nonzero, conv=conv_params,
                     dense=dense_params, conv_bias=given.conv_bias)

        answers: list[Any] = []
        for part in given.parts:
            n = part_of[part]
            if part == "mlp":
                answers += [
                    IntegerAnswer("mlp_hidden", r"\#_{\text{input}}^{\text{MLP}}", mlp_hidden, part=n),
                    IntegerAnswer("mlp_output", r"\#_{\text{output}}^{\text{MLP}}", mlp_output, part=n),
                    IntegerAnswer("mlp_total", r"\#_{\text{tot}}^{\text{MLP}}", mlp_total, part=n),
                ]
            elif part == "cnn":
                answers.append(IntegerAnswer("cnn_first", r"\#_{\text{first}}^{\text{CNN}}", cnn_first, part=n))
                if layers > 1:
                    answers.append(IntegerAnswer("cnn_rest", r"\#_{\text{rest}}^{\text{CNN}}", cnn_rest, part=n))
                answers.append(IntegerAnswer("cnn_total", r"\#_{\text{tot}}^{\text{CNN}}", cnn_total, part=n))
            elif part == "conv_output":
                answers += [IntegerAnswer("out_w", r"\text{output width}", out_w, part=n),
                            IntegerAnswer("out_h", r"\text{output height}", out_h, part=n)]
            elif part == "dense_equivalent":
                answers += [
                    IntegerAnswer("dense_rows", r"\text{rows of } A", dense_rows, part=n),
                    IntegerAnswer("dense_cols", r"\text{columns of } A", dense_cols, part=n),
                    IntegerAnswer("dense_nonzero", r"\text{entries of } A \text{ that can be non-zero}",
                                  dense_nonzero, part=n),
                    IntegerAnswer("dense_params", r"\#^{\text{FC}}", dense_params, part=n),
                    IntegerAnswer("conv_params", r"\#^{\text{conv}}", conv_params, part=n),
                    NumberAnswer("dense_ratio", r"\#^{\text{FC}} / \#^{\text{conv}}", dense_ratio, part=n),
                ]
            elif part == "subset":
                answers.append(TextAnswer("subset", r"\text{convolutional layers} \subsetneq "
                                          r"\text{fully connected layers}", subset_answer(facts), part=n))
            elif part == "ratio":
                answers.append(NumberAnswer("ratio", r"\#_{\text{tot}}^{\text{MLP}} / \#_{\text{tot}}^{\text{CNN}}",
                                            ratio, part=n))
        data = CnnParamsData(
            inputs=inputs, mlp_hidden=mlp_hidden, mlp_output=mlp_output, mlp_total=mlp_total,
            mlp_sci=_scientific(mlp_total), cnn_first=cnn_first, cnn_rest=cnn_rest,
            cnn_total=cnn_total, span_w=span_w, span_h=span_h, out_w=out_w, out_h=out_h,
            exact_w=span_w % s == 0, exact_h=span_h % s == 0, ratio=ratio, part_of=part_of,
            dense_rows=dense_rows, dense_cols=dense_cols, cover_w=cover_w, cover_h=cover_h,
            dense_nonzero=dense_nonzero, dense_weights=dense_weights, dense_params=dense_params,
            conv_params=conv_params, dense_ratio=dense_ratio,
            dense_ratio_sci=_scientific(int(dense_ratio.round())) if dense_ratio >= 10**6 else "")
        return Solved(answers, data)

    def check(self, given: CnnParamsGiven) -> dict[str, Any]:
        """Counted, not computed from the formulas: the size of zero-memory NumPy views with the
        real weight shapes (a layer of units is a units × fan-in matrix plus a bias vector; a
        convolution layer a bank of F filters of channels_in × k × k), and the output size as
        the number of window positions along each padded side. Nothing is allocated, so 100
        layers of 1024 filters of 31 × 31 cost no memory."""
        c, k, f = given.channels, given.kernel, given.filters

        def view(*shape: int) -> np.ndarray:
            return np.broadcast_to(np.int8(0), shape)

        def dense(fan_in: int, units: int, bias: bool) -> int:
            return int(view(units, fan_in).size + (view(units).size if bias else 0))

        image = view(given.height, given.width, c)
        mlp_hidden = dense(image.size, given.hidden, given.mlp_bias)
        mlp_output = dense(given.hidden, given.outputs, given.mlp_bias)

        per_layer = []
        channels_in = c
        for _ in range(given.conv_layers):
            bank = view(f, channels_in, k, k)
            per_layer.append(int(bank.size + (view(f).size if given.conv_bias else 0)))
            channels_in = bank.shape[0]  # each filter produces one output channel

        def positions(size: int) -> int:
            # Left edges of the window on the padded line [-p, size + p): a range, counted.
            p = given.padding
            return len(range(-p, size + p - k + 1, given.stride))

        def covered(size: int) -> int:
            # Per input pixel, the windows that cover it (x - k < start <= x on the grid of
            # starts -p, -p + s, ...), summed: the same total as per window, counted the other way.
            starts = range(-given.padding, size + given.padding - k + 1, given.stride)
            lo, hi = starts.start, starts[-1] if len(starts) else starts.start - 1
            total = 0
            for x in range(size):
                first = max(lo, x - k + 1)
                first += (lo - first) % given.stride  # round up onto the grid of starts
                total += len(range(first, min(hi, x) + 1, given.stride))
            return total

        rows = positions(given.width) * positions(given.height)
        A = view(rows, image.size)  # the fully connected layer's weight matrix, never allocated
        dense_params = int(A.size + view(rows).size)
        conv_params = int(view(1, c, k, k).size + (1 if given.conv_bias else 0))
        nonzero = covered(given.width) * covered(given.height) * c
        all_out = {
            "mlp_hidden": mlp_hidden, "mlp_output": mlp_output, "mlp_total": mlp_hidden + mlp_output,
            "cnn_first": per_layer[0], "cnn_total": sum(per_layer),
            "out_w": positions(given.width), "out_h": positions(given.height),
            "ratio": (mlp_hidden + mlp_output) / sum(per_layer),
            "dense_rows": A.shape[0], "dense_cols": A.shape[1], "dense_nonzero": nonzero,
            "dense_params": dense_params, "conv_params": conv_params,
            "dense_ratio": dense_params / conv_params,
        }
        if given.conv_layers > 1:
            all_out["cnn_rest"] = per_layer[1]
        part_of = {name: i for i, name in enumerate(given.parts, start=1)}
        all_out["subset"] = subset_answer(dict(
            ref=_ref(part_of, "dense_equivalent"), k=k, C=c, s=given.stride, p=given.padding,
            W=given.width, H=given.height, rows=A.shape[0], cols=A.shape[1], nonzero=nonzero,
            conv=conv_params, dense=dense_params, conv_bias=given.conv_bias))
        keys = {"mlp": ("mlp_hidden", "mlp_output", "mlp_total"),
                "cnn": ("cnn_first", "cnn_rest", "cnn_total"), "conv_output": ("out_w", "out_h"),
                "dense_equivalent": ("dense_rows", "dense_cols", "dense_nonzero", "dense_params",
                                     "conv_params", "dense_ratio"),
                "subset": ("subset",), "ratio": ("ratio",)}
        out = {key: all_out[key] for part in given.parts for key in keys[part] if key in all_out}
        return out
