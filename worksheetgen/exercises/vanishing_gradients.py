"""Vanishing gradients in a deep chain (seed 000 Q5): forward values, backpropagated gradients,
the per-layer gradient norm of eq. (3), the σ' ≤ 1/4 bound, and the same chain with ReLU.

Layer l computes z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = g(z^[l]) with a^[0] = x, and the loss is
L = ½ ‖y − a^[L]‖². Width 1 gives the chain of scalar units; width n > 1 uses n×n weight matrices
and the Frobenius norm of eq. (3).

Smooth activations are evaluated to 50 significant digits (SymPy Floats) layer by layer: the closed
form of a depth-L chain nests L exponentials, and evaluating it takes seconds to minutes at L = 8-10
while no solution could print it. The ReLU chain stays in exact rationals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Bool, Choice, Int, Kind, ListOf, Number, Param, exact_number
from worksheetgen.sampling import require_grid, grid_values, nonzero_grid_values

PRECISION = 50
ACTIVATIONS = ("sigmoid", "tanh", "relu")
# sup g'(z): the factor per layer in the bound on the first layer's gradient.
DERIVATIVE_BOUND = {"sigmoid": sp.Rational(1, 4), "tanh": sp.Integer(1), "relu": sp.Integer(1)}
TARGET_GRIDS = {
    "sigmoid": (sp.Integer(0), sp.Integer(1), sp.Rational(1, 10)),
    "tanh": (sp.Integer(-1), sp.Integer(1), sp.Rational(1, 10)),
    "relu": (sp.Integer(0), sp.Integer(2), sp.Rational(1, 10)),
}
MAX_DEPTH = 10


class LayerStack(Kind):
    """One weight per layer: numbers (width 1) or n×n matrices written as lists of rows."""

    description = "a list with one entry per layer: numbers, or n×n matrices as lists of rows"

    def parse(self, value: Any) -> list[sp.Matrix]:
        if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= MAX_DEPTH:
            raise ValueError(f"{self.description} (2 to {MAX_DEPTH} layers)")
        layers = []
        for item in value:
            if isinstance(item, (list, tuple)):
                rows = [r if isinstance(r, (list, tuple)) else [r] for r in item]
                if not rows or len({len(r) for r in rows}) != 1:
                    raise ValueError("matrices whose rows all have the same length")
                layers.append(sp.Matrix([[exact_number(v) for v in r] for r in rows]))
            else:
                layers.append(sp.Matrix([[exact_number(item)]]))
        return layers


class Vector(Kind):
    """A number (width 1) or a list of numbers, stored as a column."""

    description = "a number or a list of numbers"

    def parse(self, value: Any) -> sp.Matrix:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ValueError(self.description)
        return sp.Matrix([[exact_number(v)] for v in items])


class BiasStack(Kind):
    """One bias per layer: numbers (width 1) or lists of n numbers."""

    description = "a list with one entry per layer: numbers, or lists of n numbers"

    def parse(self, value: Any) -> list[sp.Matrix]:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(self.description)
        return [Vector().parse(v) for v in value]


def _f(x: sp.Expr) -> sp.Expr:
    return sp.Float(x.evalf(PRECISION), PRECISION)


def _frobenius(m: sp.Matrix) -> sp.Expr:
    return sp.sqrt(sum((v**2 for v in m), sp.Integer(0)))


def forward_backward(name: str, weights: list[sp.Matrix], biases: list[sp.Matrix], x: sp.Matrix,
                     y: sp.Matrix) -> dict[str, Any]:
    """The chain's forward values and backpropagated quantities, layer by layer (index 0 = layer 1)."""
    act = activations.get(name)
    smooth = name != "relu"

    def apply(fn: Any, z: sp.Matrix) -> sp.Matrix:
        return z.applyfunc(lambda v: _f(fn(v)) if smooth else fn(v))

    zs, acts, gps = [], [], []
    a = x
    for W, b in zip(weights, biases):
        z = W * a + b
        a = apply(act.at, z)
        zs.append(z)
        acts.append(a)
        gps.append(apply(act.grad_at, z))
    err = acts[-1] - y
    loss = sum((e**2 for e in err), sp.Integer(0)) / 2
    depth = len(weights)
    deltas: list[sp.Matrix] = [sp.zeros(1, 1)] * depth
    backs: list[sp.Matrix] = [sp.zeros(1, 1)] * depth  # W^[l+1]^T δ^[l+1] (the error reaching a^[l])
    backs[-1] = err
    deltas[-1] = err.multiply_elementwise(gps[-1])
    for l in range(depth - 2, -1, -1):
        backs[l] = weights[l + 1].T * deltas[l + 1]
        deltas[l] = backs[l].multiply_elementwise(gps[l])
    inputs = [x] + acts[:-1]
    grads = [deltas[l] * inputs[l].T for l in range(depth)]
    norms = [_frobenius(gm) for gm in grads]
    return dict(z=zs, a=acts, gp=gps, err=err, loss=loss, back=backs, delta=deltas, inputs=inputs,
                grads=grads, norms=norms)


class VanishingGradients(Family):
    name = "vanishing_gradients"
    title = "Vanishing gradients in a deep chain"
    summary = ("L layers z = W a + b, a = g(z), L = ½‖y − a^[L]‖²: forward values, ∂L/∂W^[l] by backprop, "
               "per-layer gradient norms, the σ' ≤ 1/4 bound, and the same chain with ReLU.")
    params = (
        Param("activation", Choice(ACTIVATIONS), "sigmoid", "activation g of every layer"),
        Param("depth", Int(minimum=2, maximum=MAX_DEPTH), None, "number of layers L (drawn from 4 to 6)"),
        Param("width", Int(minimum=1, maximum=3), None,
              "units per layer (1: a chain of scalar units; n > 1: n×n weight matrices); default from the weights or x, else 1"),
        Param("weights", LayerStack(), None, "the weights w^[1], ..., w^[L] (numbers, or n×n matrices)"),
        Param("use_bias", Bool(), False, "draw biases (otherwise b = 0 unless biases are given)"),
        Param("biases", BiasStack(), None, "the biases b^[1], ..., b^[L] (numbers, or lists of n numbers)"),
        Param("x", Vector(), None, "the input (a number, or n numbers)"),
        Param("y", Vector(), None, "the target (a number, or n numbers)"),
        Param("compare_relu", Bool(), True, "also solve the same chain with ReLU (ignored when activation = relu)"),
        Param("weight_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for drawn weights, never 0 (default [0.5, 2, 0.5] for width 1, [-0.5, 1.5, 0.5] for wider layers)"),
        Param("bias_grid", ListOf(Number(), min_length=3, max_length=3), [sp.Rational(-1, 2), sp.Rational(1, 2), sp.Rational(1, 2)],
              "[lo, hi, step] for drawn biases"),
        Param("input_grid", ListOf(Number(), min_length=3, max_length=3), [sp.Rational(1, 2), sp.Integer(2), sp.Rational(1, 2)],
              "[lo, hi, step] for a drawn input, never 0"),
        Param("target_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for a drawn target (default [0, 1, 0.1] sigmoid, [-1, 1, 0.1] tanh, [0, 2, 0.1] relu)"),
    )

    # -- options ---------------------------------------------------------------------------
    @staticmethod
    def _width(options: dict[str, Any]) -> int:
        if options["width"] is not None:
            return options["width"]
        if options["weights"] is not None:
            return options["weights"][0].rows
        for key in ("x", "y"):
            if options[key] is not None:
                return options[key].rows
        return 1

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "bias_grid", "input_grid", "target_grid"):
            require_grid(options, key)
        for key in ("weight_grid", "input_grid"):
            if options[key] is not None and options[key][0] == options[key][1] == 0:
                raise WorksheetError("the grid holds only 0", field=key, allowed="a grid with a non-zero value")
        n = self._width(options)
        weights = options["weights"]
        depth = options["depth"]
        if weights is not None:
            if depth is not None and len(weights) != depth:
                raise WorksheetError(f"{len(weights)} weights for depth {depth}", field="weights",
                                     allowed=f"{depth} weights, one per layer")
            for l, W in enumerate(weights, start=1):
                if W.shape != (n, n):
                    raise WorksheetError(
                        f"layer {l} has a {W.rows}×{W.cols} weight but the layers have width {n}",
                        field="weights", allowed=f"{n}×{n} matrices" if n > 1 else "numbers")
            depth = len(weights)
        if options["biases"] is not None:
            biases = options["biases"]
            if depth is not None and len(biases) != depth:
                raise WorksheetError(f"{len(biases)} biases for {depth} layers", field="biases",
                                     allowed=f"{depth} biases, one per layer")
            if not 2 <= len(biases) <= MAX_DEPTH:
                raise WorksheetError(f"{len(biases)} biases", field="biases",
                                     allowed=f"2 to {MAX_DEPTH} layers")
            if any(b.rows != n for b in biases):
                raise WorksheetError(f"a bias whose size is not the width {n}", field="biases",
                                     allowed="numbers" if n == 1 else f"lists of {n} numbers")
        for key in ("x", "y"):
            if options[key] is not None and options[key].rows != n:
                raise WorksheetError(f"{key} has {options[key].rows} entries but the layers have width {n}",
                                     field=key, allowed="a number" if n == 1 else f"a list of {n} numbers")
        if options["x"] is not None and all(v == 0 for v in options["x"]):
            raise WorksheetError("x = 0 gives a zero gradient for the first layer", field="x",
                                 allowed="a non-zero input")

    # -- the steps -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        n = self._width(options)
        depth = options["depth"]
        for key in ("weights", "biases"):
            if options[key] is not None:
                depth = len(options[key])
        if depth is None:
            depth = int(rng.integers(4, 7))
        weight_grid = options["weight_grid"] or (
            [sp.Rational(1, 2), sp.Integer(2), sp.Rational(1, 2)] if n == 1
            else [sp.Rational(-1, 2), sp.Rational(3, 2), sp.Rational(1, 2)])
        given: dict[str, Any] = {k: options[k] for k in ("activation", "compare_relu")}
        given["compare_relu"] = options["compare_relu"] and options["activation"] != "relu"
        given["width"], given["depth"] = n, depth
        given["weights"] = options["weights"] or [
            nonzero_grid_values(rng, *weight_grid, size=(n, n)) for _ in range(depth)]
        if options["biases"] is not None:
            given["biases"] = options["biases"]
        elif options["use_bias"]:
            given["biases"] = [grid_values(rng, *options["bias_grid"], size=(n, 1)) for _ in range(depth)]
        else:
            given["biases"] = [sp.zeros(n, 1) for _ in range(depth)]
        given["has_bias"] = any(any(v != 0 for v in b) for b in given["biases"])
        given["x"] = options["x"] if options["x"] is not None else nonzero_grid_values(
            rng, *options["input_grid"], size=(n, 1))
        target_grid = options["target_grid"] or TARGET_GRIDS[options["activation"]]
        given["y"] = options["y"] if options["y"] is not None else grid_values(rng, *target_grid, size=(n, 1))
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        args = (given["weights"], given["biases"], given["x"], given["y"])
        main = forward_backward(given["activation"], *args)
        relu = forward_backward("relu", *args) if given["compare_relu"] else None
        n, depth = given["width"], given["depth"]
        kappa = DERIVATIVE_BOUND[given["activation"]]
        weight_norms = [_frobenius(W) for W in given["weights"]]
        err_norm = _frobenius(main["err"])
        x_norm = _frobenius(given["x"])
        product = sp.Integer(1)
        for wn in weight_norms[1:]:
            product *= wn
        bound = kappa**depth * product * err_norm * x_norm
        if given["activation"] != "relu":
            bound = _f(bound)

        def pack(prefix: str, res: dict[str, Any]) -> list[Answer]:
            out = []
            if prefix:
                out.append(self._answer(n, "relu_output", r"a^{[L]}_{\mathrm{ReLU}}", res["a"][-1]))
            else:
                out += [self._answer(n, f"a{l + 1}", f"a^{{[{l + 1}]}}", res["a"][l]) for l in range(depth)]
            out.append(Answer(f"{prefix}loss", "L" + (r"_{\mathrm{ReLU}}" if prefix else ""), res["loss"]))
            sym = "w" if n == 1 else "W"
            out += [self._answer(n, f"{prefix}dL_dw{l + 1}",
                                 rf"\frac{{\partial L}}{{\partial {sym}^{{[{l + 1}]}}}}" + (r"_{\mathrm{ReLU}}" if prefix else ""),
                                 res["grads"][l]) for l in range(depth)]
            out.append(Answer(f"{prefix}norms", r"\left(\left\| \frac{\partial L}{\partial W^{[l]}} \right\|_2\right)_l",
                              sp.Matrix([res["norms"]]), kind="matrix"))
            ratio = res["norms"][0] / res["norms"][-1] if res["norms"][-1] != 0 else sp.Integer(0)
            res["ratio"] = ratio
            out.append(Answer(f"{prefix}ratio", r"\|\partial L / \partial W^{[1]}\| / \|\partial L / \partial W^{[L]}\|", ratio))
            return out

        answers = pack("", main)
        answers.append(Answer("bound", r"\text{bound on } \|\partial L / \partial W^{[1]}\|", bound))
        if relu is not None:
            answers += pack("relu_", relu)
        data = dict(main=main, relu=relu, kappa=kappa, weight_norms=weight_norms, err_norm=err_norm,
                    x_norm=x_norm, bound=bound, act=activations.get(given["activation"]),
                    scalar=n == 1, depth=depth, layers=list(range(depth)),
                    gp_product=sp.prod([gp[0, 0] for gp in main["gp"]]) if n == 1 else None,
                    relu_all_active=relu is not None and all(v > 0 for z in relu["z"] for v in z))
        return Solved(answers, data)

    @staticmethod
    def _answer(n: int, key: str, label: str, value: sp.Matrix) -> Answer:
        if n == 1:
            return Answer(key, label, value[0, 0])
        return Answer(key, label, value, kind="matrix")

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        d = solved.data
        chains = [(given["activation"], d["main"])]
        if d["relu"] is not None:
            chains.append(("relu", d["relu"]))
        for name, res in chains:
            if name == "relu":
                if any(v == 0 for z in res["z"] for v in z):
                    return "no ReLU pre-activation exactly at the kink 0"
                if any(all(v < 0 for v in z) for z in res["z"]):
                    return "ReLU does not die: every layer has an active unit"
                if float(res["norms"][0]) == 0:
                    return "ReLU does not die: the first layer still receives a gradient"
                if float(max(abs(v) for v in res["a"][-1])) > 100:
                    return "a ReLU output below 100"
            if any(float(nm) == 0 for nm in res["norms"]):
                return "every layer receives a non-zero gradient"
            if float(res["loss"]) < 0.005:
                return "an output that is not already (almost) on target"
        if given["activation"] != "relu" and float(d["main"]["ratio"]) >= 0.1:
            return "a first-layer gradient norm below a tenth of the last layer's (visible vanishing)"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        W = [np.array(m.tolist(), dtype=float) for m in given["weights"]]
        B = [np.array(b.tolist(), dtype=float).ravel() for b in given["biases"]]
        x = np.array(given["x"].tolist(), dtype=float).ravel()
        y = np.array(given["y"].tolist(), dtype=float).ravel()
        n, depth = given["width"], given["depth"]

        def run(name: str) -> dict[str, Any]:
            if name == "sigmoid":
                f = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
                fp = lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2  # noqa: E731
            elif name == "tanh":
                f, fp = np.tanh, lambda z: 1 / np.cosh(z) ** 2  # noqa: E731
            else:
                f, fp = (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(float))  # noqa: E731
            a_list, z_list = [x], []
            for Wl, bl in zip(W, B):
                z_list.append(Wl @ a_list[-1] + bl)
                a_list.append(f(z_list[-1]))
            # Backward as a vector-Jacobian loop written from scratch.
            g_a = a_list[-1] - y
            grads = [np.zeros((n, n))] * depth
            for l in range(depth - 1, -1, -1):
                g_z = g_a * fp(z_list[l])
                grads[l] = np.outer(g_z, a_list[l])
                g_a = W[l].T @ g_z
            norms = np.array([np.sqrt((gm**2).sum()) for gm in grads])
            return dict(a=a_list[1:], loss=0.5 * float(((a_list[-1] - y) ** 2).sum()), grads=grads,
                        norms=norms, ratio=norms[0] / norms[-1] if norms[-1] else 0.0)

        def shape(v: np.ndarray) -> Any:
            return float(v.ravel()[0]) if n == 1 else v

        out: dict[str, Any] = {}
        main = run(given["activation"])
        for l in range(depth):
            out[f"a{l + 1}"] = shape(main["a"][l].reshape(n, 1))
            out[f"dL_dw{l + 1}"] = shape(main["grads"][l])
        out.update(loss=main["loss"], norms=main["norms"].reshape(1, -1), ratio=main["ratio"])
        kappa = 0.25 if given["activation"] == "sigmoid" else 1.0
        # Bound via spectral → Frobenius norms: ‖δ^[1]‖ ≤ κ^L ∏_{l≥2} ‖W^[l]‖_F ‖a^[L] − y‖.
        out["bound"] = (kappa**depth * np.prod([np.linalg.norm(Wl) for Wl in W[1:]])
                        * np.linalg.norm(main["a"][-1] - y) * np.linalg.norm(x))
        if given["compare_relu"]:
            relu = run("relu")
            out["relu_output"] = shape(relu["a"][-1].reshape(n, 1))
            for l in range(depth):
                out[f"relu_dL_dw{l + 1}"] = shape(relu["grads"][l])
            out.update(relu_loss=relu["loss"], relu_norms=relu["norms"].reshape(1, -1), relu_ratio=relu["ratio"])
        return out
