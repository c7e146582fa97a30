"""MLP vs CNN on a raw image (seed 003 Exercise 2 a–c): parameter counts of a one-hidden-layer
MLP and of a stack of convolution layers, the output size of a strided, padded convolution, and
how many times more parameters the MLP needs."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
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


class CnnParams(Family):
    name = "cnn_params"
    title = "MLP vs CNN"
    summary = ("Parameters of a one-hidden-layer MLP on a raw H×W×C image and of an L-layer CNN "
               "with F k×k filters; output size of a strided, padded convolution; their ratio.")
    params = (
        Param("width", Int(1, 10000), None, "image width in pixels (seed: 1920)"),
        Param("height", Int(1, 10000), None, "image height in pixels (seed: 1080)"),
        Param("channels", Int(1, 16), None, "channels per pixel: 3 for RGB, 1 for grayscale (drawn from these)"),
        Param("hidden", Int(1, 100000), None, "nodes of the MLP's hidden layer"),
        Param("outputs", Int(1, 100000), None, "nodes of the MLP's output layer"),
        Param("mlp_bias", Bool(), True, "every MLP node has a bias"),
        Param("conv_layers", Int(1, 100), None, "number L of convolution layers (drawn from 2 to 12)"),
        Param("filters", Int(1, 1024), None, "filters F per convolution layer"),
        Param("kernel", Int(1, 31), None, "filter size k (k × k over all input channels)"),
        Param("conv_bias", Bool(), True, "every filter has a bias"),
        Param("stride", Int(1, 16), None, "stride s of the single convolution in part (c)"),
        Param("padding", Int(0, 32), None, "padding p (pixels on every side) in part (c)"),
        Param("exact_division", Bool(), True,
              "draw only (c) settings where (size + 2p − k) is a multiple of s in both directions"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        kernel, padding = options["kernel"], options["padding"]
        for side in ("width", "height"):
            size = options[side]
            if None not in (size, kernel, padding) and size + 2 * padding < kernel:
                raise WorksheetError(
                    f"a {kernel}×{kernel} filter does not fit a {side} of {size} with padding {padding}",
                    field="kernel", allowed=f"at most {size + 2 * padding} (or more padding)")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
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
        return {
            "width": width, "height": height, "channels": pick("channels", (1, 3)),
            "hidden": pick("hidden", HIDDEN), "outputs": pick("outputs", OUTPUTS),
            "mlp_bias": options["mlp_bias"],
            "conv_layers": pick("conv_layers", tuple(range(2, 13))), "filters": pick("filters", FILTERS),
            "kernel": kernel, "conv_bias": options["conv_bias"],
            "stride": pick("stride", STRIDES), "padding": padding,
            "exact_division": options["exact_division"],
        }

    def solve(self, given: dict[str, Any]) -> Solved:
        w, h, c = given["width"], given["height"], given["channels"]
        n, k_out = given["hidden"], given["outputs"]
        mb = 1 if given["mlp_bias"] else 0
        inputs = w * h * c
        mlp_hidden = inputs * n + mb * n
        mlp_output = n * k_out + mb * k_out
        mlp_total = mlp_hidden + mlp_output

        layers, f, k = given["conv_layers"], given["filters"], given["kernel"]
        cb = 1 if given["conv_bias"] else 0
        cnn_first = (k * k * c + cb) * f
        cnn_rest = (k * k * f + cb) * f
        cnn_total = cnn_first + (layers - 1) * cnn_rest

        s, p = given["stride"], given["padding"]
        spans = {side: size + 2 * p - k for side, size in (("w", w), ("h", h))}
        out_w, out_h = conv_output(w, k, s, p), conv_output(h, k, s, p)
        ratio = sp.Rational(mlp_total, cnn_total)

        answers = [
            Answer("mlp_hidden", r"\#_{\text{input}}^{\text{MLP}}", mlp_hidden, "integer"),
            Answer("mlp_output", r"\#_{\text{output}}^{\text{MLP}}", mlp_output, "integer"),
            Answer("mlp_total", r"\#_{\text{tot}}^{\text{MLP}}", mlp_total, "integer"),
            Answer("cnn_first", r"\#_{\text{first}}^{\text{CNN}}", cnn_first, "integer"),
        ]
        if layers > 1:
            answers.append(Answer("cnn_rest", r"\#_{\text{rest}}^{\text{CNN}}", cnn_rest, "integer"))
        answers += [
            Answer("cnn_total", r"\#_{\text{tot}}^{\text{CNN}}", cnn_total, "integer"),
            Answer("out_w", r"\text{output width}", out_w, "integer"),
            Answer("out_h", r"\text{output height}", out_h, "integer"),
            Answer("ratio", r"\#_{\text{tot}}^{\text{MLP}} / \#_{\text{tot}}^{\text{CNN}}", ratio, "number"),
        ]
        data = dict(inputs=inputs, mlp_hidden=mlp_hidden, mlp_output=mlp_output, mlp_total=mlp_total,
                    mlp_sci=_scientific(mlp_total), cnn_first=cnn_first, cnn_rest=cnn_rest,
                    cnn_total=cnn_total, span_w=spans["w"], span_h=spans["h"], out_w=out_w, out_h=out_h,
                    exact_w=spans["w"] % s == 0, exact_h=spans["h"] % s == 0, ratio=ratio)
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        d = solved.data
        if d["span_w"] < 0 or d["span_h"] < 0:
            return "the filter fits the padded image (output at least 1 × 1)"
        if given["exact_division"] and not (d["exact_w"] and d["exact_h"]):
            return "(size + 2p − k) divisible by the stride in both directions"
        if given["padding"] >= given["kernel"]:
            return "padding smaller than the filter"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        """Counted, not computed from the formulas: one unit / filter at a time, with NumPy
        arrays of the real weight shapes; output positions by sliding the window."""
        c, k, f = given["channels"], given["kernel"], given["filters"]
        mb = 1 if given["mlp_bias"] else 0
        cb = 1 if given["conv_bias"] else 0
        # The flattened image as a zero-memory view; each unit has one weight per entry.
        x = np.broadcast_to(np.uint8(0), (given["height"], given["width"], c))
        unit_inputs = x.size

        def dense(fan_in: int, units: int) -> int:
            row = np.broadcast_to(np.int8(0), (fan_in,))
            return sum(row.size + mb for _ in range(units))

        mlp_hidden = dense(unit_inputs, given["hidden"])
        mlp_output = dense(given["hidden"], given["outputs"])

        per_layer = []
        channels_in = c
        for _ in range(given["conv_layers"]):
            bank = [np.empty((channels_in, k, k)) for _ in range(f)]
            per_layer.append(sum(kernel.size + cb for kernel in bank))
            channels_in = len(bank)  # each filter produces one output channel

        def positions(size: int) -> int:
            # Slide the window's left edge over the padded line [-p, size + p).
            p, s = given["padding"], given["stride"]
            count, start = 0, -p
            while start + k <= size + p:
                count += 1
                start += s
            return count

        out = {
            "mlp_hidden": mlp_hidden, "mlp_output": mlp_output, "mlp_total": mlp_hidden + mlp_output,
            "cnn_first": per_layer[0], "cnn_total": sum(per_layer),
            "out_w": positions(given["width"]), "out_h": positions(given["height"]),
            "ratio": (mlp_hidden + mlp_output) / sum(per_layer),
        }
        if given["conv_layers"] > 1:
            out["cnn_rest"] = per_layer[1]
        return out
