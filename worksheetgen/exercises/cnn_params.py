"""MLP vs CNN on a raw image (seed 003 Exercise 2 a–c): parameter counts of a one-hidden-layer
MLP and of a stack of convolution layers, the output size of a strided, padded convolution, and
how many times more parameters the MLP needs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.answers import IntegerAnswer, NumberAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Bool, Int, Param

# (width, height): camera, screen and dataset sizes.
IMAGE_SIZES = ((1920, 1080), (1280, 720), (3840, 2160), (640, 480), (800, 600), (1024, 768),
               (224, 224), (256, 256), (512, 512), (128, 128), (64, 64), (32, 32))
HIDDEN = (64, 128, 256, 512, 1024)
OUTPUTS = (2, 5, 10, 20, 100)
FILTERS = (16, 32, 64, 128, 256)
KERNELS = (3, 4, 5, 7)
STRIDES = (1, 2, 3, 4)


def conv_output(size: int, kernel: int, stride: int, padding: int) -> int:
    """⌊(size + 2p − k)/s⌋ + 1 (only meaningful when size + 2p ≥ k)."""
    return (size + 2 * padding - kernel) // stride + 1


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


SIZE_READS = ("width", "height", "kernel", "padding")


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
    )

    def validate(self, options: dict[str, Any]) -> None:
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
            width=width, height=height, channels=pick("channels", (1, 3)),
            hidden=pick("hidden", HIDDEN), outputs=pick("outputs", OUTPUTS),
            mlp_bias=options["mlp_bias"],
            conv_layers=pick("conv_layers", tuple(range(2, 13))), filters=pick("filters", FILTERS),
            kernel=kernel, conv_bias=options["conv_bias"],
            stride=pick("stride", STRIDES), padding=padding,
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

        answers: list[Any] = [
            IntegerAnswer("mlp_hidden", r"\#_{\text{input}}^{\text{MLP}}", mlp_hidden),
            IntegerAnswer("mlp_output", r"\#_{\text{output}}^{\text{MLP}}", mlp_output),
            IntegerAnswer("mlp_total", r"\#_{\text{tot}}^{\text{MLP}}", mlp_total),
            IntegerAnswer("cnn_first", r"\#_{\text{first}}^{\text{CNN}}", cnn_first),
        ]
        if layers > 1:
            answers.append(IntegerAnswer("cnn_rest", r"\#_{\text{rest}}^{\text{CNN}}", cnn_rest))
        answers += [
            IntegerAnswer("cnn_total", r"\#_{\text{tot}}^{\text{CNN}}", cnn_total),
            IntegerAnswer("out_w", r"\text{output width}", out_w),
            IntegerAnswer("out_h", r"\text{output height}", out_h),
            NumberAnswer("ratio", r"\#_{\text{tot}}^{\text{MLP}} / \#_{\text{tot}}^{\text{CNN}}", ratio),
        ]
        data = CnnParamsData(
            inputs=inputs, mlp_hidden=mlp_hidden, mlp_output=mlp_output, mlp_total=mlp_total,
            mlp_sci=_scientific(mlp_total), cnn_first=cnn_first, cnn_rest=cnn_rest,
            cnn_total=cnn_total, span_w=span_w, span_h=span_h, out_w=out_w, out_h=out_h,
            exact_w=span_w % s == 0, exact_h=span_h % s == 0, ratio=ratio)
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

        out = {
            "mlp_hidden": mlp_hidden, "mlp_output": mlp_output, "mlp_total": mlp_hidden + mlp_output,
            "cnn_first": per_layer[0], "cnn_total": sum(per_layer),
            "out_w": positions(given.width), "out_h": positions(given.height),
            "ratio": (mlp_hidden + mlp_output) / sum(per_layer),
        }
        if given.conv_layers > 1:
            out["cnn_rest"] = per_layer[1]
        return out
